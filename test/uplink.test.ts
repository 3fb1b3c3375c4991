// The opt-in uplink (VIRTMESH_NODE_UPLINK=nat:IFACE) with the real daemon and a real VM. A
// network namespace of the test stands in for the internet behind a veth from the host; the
// test's upstream DNS answers kubevirt.io with its server. The walkthrough's `curl kubevirt.io`,
// from an injected VM through its sidecar's PassthroughCluster, reaches that server, which sees
// the host's address (masqueraded), not the pod's. Nothing else crosses: not to another network
// behind another interface, nothing in from the uplink. `cluster down`, after a crashed daemon
// and after a clean stop, leaves no rule of the cluster and forwarding as it found it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { walkthrough } from './helpers/cluster.js';
import { virtmesh } from './helpers/daemon.js';
import { execInNetns, startTestNetns, startUpstreamDns, type TestNetns, tcpState } from './helpers/net.js';
import { eventually, leftovers, podNetns, startVmCluster, testVmi, type VmCluster } from './helpers/vm-cluster.js';

const ipForward = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
const iptablesSave = () => execFileSync('iptables-save', { encoding: 'utf8' });
/** Rules of one chain of the cluster, as `iptables -S` lists them. */
const chainRules = (table: string, chain: string) => execFileSync('iptables', ['-w', '-t', table, '-S', chain], { encoding: 'utf8' }).trim().split('\n');

describe('VIRTMESH_NODE_UPLINK=nat:IFACE', { timeout: 900_000 }, () => {
  let internet: TestNetns;
  let elsewhere: TestNetns;
  let dns: Awaited<ReturnType<typeof startUpstreamDns>>;
  let c: VmCluster;
  let forwardBefore: string;
  const json = async (args: string[]) => JSON.parse(await c.k([...args, '-o', 'json']));
  const launcherPod = async () => (await json(['get', 'pods', '-l', 'vm.kubevirt.io/name=uplink-vmi'])).items[0];
  const podCIDR = () => c.env.VIRTMESH_NODE_POD_CIDR as string;
  /** Nothing of the cluster in the host's tables, forwarding as before, and nothing else left. */
  const assertGone = (tag: string, stateDir: string) => {
    assert.doesNotMatch(iptablesSave(), new RegExp(`VIRTMESH-${tag}`), 'no chain or rule of the cluster');
    assert.equal(ipForward(), forwardBefore, 'net.ipv4.ip_forward as before the cluster');
    assert.equal(existsSync(`/run/virtmesh/ip-forward/cluster-${tag}`), false, 'no record of the cluster holding forwarding');
    assert.deepEqual(leftovers(tag, stateDir), []);
  };

  before(async () => {
    forwardBefore = ipForward();
    internet = await startTestNetns('upl', '198.18.0.1', '198.18.0.254', 24);
    elsewhere = await startTestNetns('oth', '198.19.0.1', '198.19.0.126', 25);
    dns = await startUpstreamDns(() => internet.address);
    c = await startVmCluster({ VIRTMESH_NODE_UPLINK: `nat:${internet.hostVeth}`, VIRTMESH_DNS_UPSTREAM: `127.0.0.1:${dns.port}` });
    await c.k(['label', 'namespace', 'default', 'istio-injection=enabled']);
    await c.k(['create', '-f', '-'], walkthrough('nad.yaml'));
    const vmi = JSON.parse(testVmi('uplink-vmi', { userData: '#!/bin/sh\nwhile true ; do curl -s -m 5 kubevirt.io ; sleep 2 ; done\n' }));
    vmi.metadata.annotations = { 'sidecar.istio.io/inject': 'true' };
    await c.k(['create', '-f', '-'], JSON.stringify(vmi));
  });

  after(async () => {
    try {
      const tag = c?.tag;
      const state = c?.stateDir;
      await c?.down();
      if (tag && state) assertGone(tag, state);
    } finally {
      dns?.close();
      await internet?.close();
      await elsewhere?.close();
    }
    assert.equal(existsSync('/run/netns/virtmesh-test-upl') || existsSync('/sys/class/net/tnet-upl'), false, "the test's network is gone");
    assert.equal(existsSync('/run/netns/virtmesh-test-oth') || existsSync('/sys/class/net/tnet-oth'), false);
  });

  it('refuses a bad setting before making anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtmesh-uplink-bad-'));
    try {
      const state = join(dir, 'state');
      for (const [value, message] of [
        ['nat:', /VIRTMESH_NODE_UPLINK: "nat:" names no interface \(expected nat:IFACE, e\.g\. nat:eth0/],
        ['foo', /VIRTMESH_NODE_UPLINK: "foo" is not one of none, nat, nat:IFACE/],
        ['nat:tnet-nosuch', /VIRTMESH_NODE_UPLINK: "nat:tnet-nosuch" names tnet-nosuch, which this machine does not have/],
      ] as const) {
        const up = await virtmesh(['cluster', 'up'], state, { VIRTMESH_NODE_UPLINK: value });
        assert.equal(up.code, 1, value);
        assert.match(up.stderr, message);
        assert.equal(existsSync(state), false, 'no state directory');
      }
    } finally {
      await virtmesh(['cluster', 'down'], join(dir, 'state')); // in case one came up after all
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lets the walkthrough's curl kubevirt.io out through the sidecar's PassthroughCluster, masqueraded behind the host", async () => {
    const pod = await eventually('the launcher pod', launcherPod, 60_000, 500);
    const log = await eventually(
      'the answer of the test network in the VM console',
      async () => {
        const out = await c.k(['logs', pod.metadata.name, '-c', 'compute']);
        return out.includes('hello from the test network') && out;
      },
      300_000,
      2000,
    );
    const seenAs = new RegExp(`hello from the test network, to ${internet.hostAddress.replaceAll('.', '\\.')}\\s`);
    assert.match(log, seenAs, 'the server saw the host end of the uplink');
    const podIP = (await launcherPod()).status.podIP as string;
    assert.ok(internet.requests.length > 0);
    for (const r of internet.requests) assert.deepEqual(r, { from: internet.hostAddress, host: 'kubevirt.io' }, `never the pod's address ${podIP}`);
    const proxyLog = await c.k(['logs', pod.metadata.name, '-c', 'istio-proxy']);
    assert.ok(proxyLog.includes(`"kubevirt.io" "${internet.address}:80" PassthroughCluster`), 'an access log line for kubevirt.io through PassthroughCluster');
  });

  it('lets nothing else cross: no other interface, nothing in from the uplink', async () => {
    const pod = await launcherPod();
    const netns = podNetns(c, pod.metadata.uid);
    const curl = (url: string) => execInNetns(netns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', url]);
    assert.equal((await curl(`http://${internet.address}/`)).stdout, '200', 'the pod reaches the uplink');
    assert.notEqual((await curl(`http://${elsewhere.address}/`)).stdout, '200', 'but not a network behind another interface');
    assert.deepEqual(elsewhere.requests, []);
    // From the uplink's side, with a route to the pods: the sidecar's port that the node reaches stays closed to it.
    const podIP = pod.status.podIP as string;
    assert.equal((await internet.exec('ip', ['route', 'add', podCIDR(), 'via', internet.hostAddress])).code, 0);
    assert.equal(await tcpState(podIP, 15020), 'open');
    const inbound = await internet.exec('curl', ['-s', '-o', '/dev/null', '-m', '3', `http://${podIP}:15020/stats/prometheus`]);
    assert.notEqual(inbound.code, 0, 'no connection from the uplink into a pod');

    const chain = `VIRTMESH-${c.tag}-UPL`;
    const bridge = `vmbr${c.tag}`;
    const cidr = podCIDR();
    const hostVeth = internet.hostVeth;
    assert.deepEqual(chainRules('nat', chain), [`-N ${chain}`, `-A ${chain} -s ${cidr} -o ${hostVeth} -j MASQUERADE`]);
    assert.deepEqual(chainRules('filter', chain), [
      `-N ${chain}`,
      `-A ${chain} -s ${cidr} -i ${bridge} -o ${hostVeth} -j ACCEPT`,
      `-A ${chain} -d ${cidr} -i ${hostVeth} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ]);
    const forward = chainRules('filter', 'FORWARD');
    assert.ok(
      forward.indexOf(`-A FORWARD -j ${chain}`) < forward.indexOf(`-A FORWARD -j VIRTMESH-${c.tag}-ISO`),
      'the uplink comes before the isolation chain',
    );
    assert.equal(ipForward(), '1');
  });

  it('shows the uplink in cluster status', async () => {
    const st = await c.virtmesh(['cluster', 'status']);
    assert.match(st.stdout, new RegExp(`uplink\\s+${podCIDR().replace(/\./g, '\\.')} -> tnet-upl, masqueraded \\(VIRTMESH_NODE_UPLINK=nat:tnet-upl\\)`));
  });

  it("cluster down after a daemon killed with SIGKILL removes the uplink's rules and puts forwarding back", async () => {
    const daemon = JSON.parse(readFileSync(join(c.stateDir, 'run', 'cluster.json'), 'utf8')).pid as number;
    process.kill(daemon, 'SIGKILL');
    await eventually('the daemon to die', async () => !existsSync(`/proc/${daemon}`), 10_000, 50);
    assert.match(iptablesSave(), new RegExp(`-A FORWARD -j VIRTMESH-${c.tag}-UPL`), 'the crash left the uplink');
    const down = await c.virtmesh(['cluster', 'down']);
    assert.equal(down.code, 0, down.stderr);
    if (forwardBefore === '0') assert.match(down.stdout, /net\.ipv4\.ip_forward back to 0/);
    assertGone(c.tag, c.stateDir);
  });

  it('a new cluster up shows the uplink; its own stop (in after) removes it again', async () => {
    const up = await c.virtmesh(['cluster', 'up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`pod uplink: ${podCIDR().replace(/\./g, '\\.')} -> tnet-upl, masqueraded \\(VIRTMESH_NODE_UPLINK=nat:tnet-upl\\)`));
    assert.match(iptablesSave(), new RegExp(`-A POSTROUTING -j VIRTMESH-${c.tag}-UPL`));
    assert.equal(ipForward(), '1');
    // A different setting needs a new start: said, not silently ignored.
    const again = await virtmesh(['cluster', 'up'], c.stateDir, { VIRTMESH_NODE_UPLINK: 'none' });
    assert.match(again.stdout, /note: it runs the uplink nat:tnet-upl; VIRTMESH_NODE_UPLINK=none takes effect at the next `virtmesh cluster up` after/);
  });
});
