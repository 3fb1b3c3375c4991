// The walkthrough's VMIs as real VMs, without the mesh: QEMU in pod namespaces,
// masquerade networking, the Service's cluster IP and DNS name, no way out of the
// machine without an uplink, probes, logs, the console, errors reported on the VMI,
// and nothing left once it is all deleted.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readVmProcesses } from '../src/vm/index.js';
import { walkthrough } from './helpers/cluster.js';
import { dnsQuery, execInNetns, httpGet, startTestNetns, startUpstreamDns, tcpState } from './helpers/net.js';
import { eventually, leftovers, podNetns, quick, startVmCluster, testVmi, type VmCluster } from './helpers/vm-cluster.js';

const NS = 'plain';

/** A VMI with two listeners (8080, 9090) answering with its name; `ports` declared on the interface or not. */
function listenerVmi(name: string, ports?: number[]): string {
  const userData = [
    '#cloud-config',
    'runcmd:',
    `- while true ; do nc -lp 8080 -c "echo -e 'HTTP/1.1 200 OK\\n\\n${name}-8080'" ; done &`,
    `- while true ; do nc -lp 9090 -c "echo -e 'HTTP/1.1 200 OK\\n\\n${name}-9090'" ; done &`,
  ].join('\n');
  return testVmi(name, { ports, userData });
}

describe('VMs without the mesh', { timeout: 900_000 }, () => {
  let c: VmCluster;
  let upstream: Awaited<ReturnType<typeof startUpstreamDns>>;
  const json = async (args: string[]) => JSON.parse(await c.k([...args, '-o', 'json']));
  const launcherPod = async (vmi: string) => {
    const pods = await json(['get', 'pods', '-n', NS, '-l', `vm.kubevirt.io/name=${vmi}`]);
    return pods.items[0];
  };

  before(async () => {
    upstream = await startUpstreamDns();
    c = await startVmCluster({ VIRTMESH_DNS_UPSTREAM: `127.0.0.1:${upstream.port}` });
    await c.k(['create', 'namespace', NS]);
  });

  after(async () => {
    const tag = c?.tag;
    const state = c?.stateDir;
    await c?.down();
    upstream?.close();
    if (tag && state) assert.deepEqual(leftovers(tag, state), [], 'cluster down left nothing behind');
  });

  it('boots the walkthrough VMIs: launcher pods 2/2 Running, Ready after the probe delay', async () => {
    await c.k(['create', '-n', NS, '-f', '-'], quick(walkthrough('istio-vmi.yaml'), 5, NS));
    await c.k(['create', '-n', NS, '-f', '-'], walkthrough('istio-vmi-svc.yaml'));
    await c.k(['create', '-n', NS, '-f', '-'], quick(walkthrough('cirros-vmi.yaml'), 5, NS));
    await c.k(['wait', '-n', NS, '--for=condition=ready', '--timeout=300s', 'pod', '-l', 'app=istio-vmi']);
    const row = (await c.k(['get', 'pods', '-n', NS, '--no-headers'])).split('\n').find((l) => l.startsWith('virt-launcher-istio-vmi-')) ?? '';
    assert.match(row, /^virt-launcher-istio-vmi-[bcdfghjklmnpqrstvwxz2456789]{5}\s+2\/2\s+Running\s+0\s/);
    const vmi = await json(['get', 'vmi', '-n', NS, 'istio-vmi']);
    const pod = await launcherPod('istio-vmi');
    assert.equal(vmi.status.phase, 'Running');
    assert.equal(vmi.status.nodeName, 'node01');
    assert.equal(vmi.status.interfaces[0].ipAddress, pod.status.podIP);
    assert.equal(vmi.status.conditions.find((x: { type: string }) => x.type === 'Ready').status, 'True');
    assert.equal(pod.metadata.labels.app, 'istio-vmi');
    assert.equal(pod.metadata.annotations['kubevirt.io/domain'], 'istio-vmi');
    assert.deepEqual(
      pod.spec.containers.map((x: { name: string }) => x.name),
      ['compute', 'volumecontainerdisk'],
    );
    // Ready no sooner than the probe's initial delay plus successThreshold (3) periods (10 s) after the VM started.
    const startedAt = Date.parse(pod.status.containerStatuses.find((x: { name: string }) => x.name === 'compute').state.running.startedAt);
    const readyAt = Date.parse(pod.status.conditions.find((x: { type: string }) => x.type === 'Ready').lastTransitionTime);
    assert.ok(readyAt - startedAt >= 5_000 + 2 * 10_000, `Ready ${(readyAt - startedAt) / 1000}s after the start`);
    const log = await c.k(['logs', '-n', NS, pod.metadata.name, '-c', 'compute']);
    assert.match(log, /virtmesh-guest/, 'the serial console shows the guest booting');
    // The verdict `cluster status` shows is the one the VM got.
    const verdict = /^ {2}VMs {9}(.+)$/m.exec((await c.virtmesh(['cluster', 'status'])).stdout)?.[1];
    assert.ok(verdict, 'cluster status says the accelerator');
    assert.ok(log.includes(`virtmesh: preparing ${NS}/istio-vmi: `) && log.includes(`vCPU, ${verdict}\n`), `the compute log says "${verdict}"`);
    assert.match(await c.k(['logs', '-n', NS, pod.metadata.name, '-c', 'volumecontainerdisk']), /built-in fedora guest/);
  });

  it('gives the Service the VM as endpoint; its cluster IP answers Hello from the node', async () => {
    const pod = await launcherPod('istio-vmi');
    const ep = await json(['get', 'endpoints', '-n', NS, 'istio-vmi-svc']);
    assert.equal(ep.subsets[0].addresses[0].ip, pod.status.podIP);
    const slices = await json(['get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=istio-vmi-svc']);
    assert.equal(slices.items[0].endpoints[0].addresses[0], pod.status.podIP);
    const ip = (await json(['get', 'svc', '-n', NS, 'istio-vmi-svc'])).spec.clusterIP;
    assert.match(await eventually('Hello from the cluster IP', () => httpGet(ip, 8080), 60_000, 1000), /Hello/);
  });

  it("runs the cirros VM's loop: it reaches istio-vmi through the Service's DNS name", async () => {
    const pod = await launcherPod('cirros-vmi');
    await eventually(
      'three Hellos in the cirros console',
      async () => {
        const log = await c.k(['logs', '-n', NS, pod.metadata.name]);
        return (log.match(/Hello/g) ?? []).length >= 3;
      },
      180_000,
      1000,
    );
  });

  it('answers cluster names and forwards the others to the upstream resolver', async () => {
    const dnsIP = (await json(['get', 'svc', '-n', 'kube-system', 'kube-dns'])).spec.clusterIP;
    const svcIP = (await json(['get', 'svc', '-n', NS, 'istio-vmi-svc'])).spec.clusterIP;
    assert.deepEqual(await dnsQuery(dnsIP, `istio-vmi-svc.${NS}.svc.cluster.local`), { rcode: 'NOERROR', answers: [svcIP] });
    const podIP = (await launcherPod('istio-vmi')).status.podIP as string;
    assert.deepEqual(await dnsQuery(dnsIP, `${podIP.replace(/\./g, '-')}.${NS}.pod.cluster.local`), { rcode: 'NOERROR', answers: [podIP] });
    assert.equal((await dnsQuery(dnsIP, `nothing.${NS}.svc.cluster.local`)).rcode, 'NXDOMAIN');
    assert.deepEqual(await dnsQuery(dnsIP, 'outside.example'), { rcode: 'NOERROR', answers: ['127.0.0.1'] });
    assert.ok(upstream.queries.includes('outside.example'));
  });

  it('gives pods no way out with the default uplink (none): a network behind another interface of the host stays out of reach', async () => {
    const outside = await startTestNetns('none', '198.19.0.129', '198.19.0.254', 25);
    try {
      assert.match(await httpGet(outside.address, 80), /hello from the test network/, 'the node itself reaches it');
      const pod = await launcherPod('istio-vmi');
      const curl = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '3', `http://${outside.address}/`];
      assert.notEqual((await execInNetns(podNetns(c, pod.metadata.uid), 'curl', curl)).stdout, '200', 'a pod does not');
      assert.deepEqual(
        outside.requests.map((r) => r.from),
        [outside.hostAddress],
        'only the node itself came through',
      );
      assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), new RegExp(`VIRTMESH-${c.tag}-UPL`), 'no uplink chain');
      assert.equal(existsSync(`/run/virtmesh/ip-forward/cluster-${c.tag}`), false, 'forwarding not held');
    } finally {
      await outside.close();
    }
  });

  it('forwards inbound traffic to the guest: the declared ports only, or every port when none are declared', async () => {
    await c.k(['create', '-n', NS, '-f', '-'], listenerVmi('declared', [8080]));
    await c.k(['create', '-n', NS, '-f', '-'], listenerVmi('undeclared'));
    for (const name of ['declared', 'undeclared']) {
      await c.k(['wait', '-n', NS, '--for=jsonpath={.status.phase}=Running', '--timeout=120s', 'vmi', name]);
    }
    const declared = (await launcherPod('declared')).status.podIP;
    const undeclared = (await launcherPod('undeclared')).status.podIP;
    assert.equal(await eventually('declared:8080', () => httpGet(declared, 8080).catch(() => undefined), 120_000, 1000), 'declared-8080\n');
    assert.equal(await eventually('undeclared:8080', () => httpGet(undeclared, 8080).catch(() => undefined), 120_000, 1000), 'undeclared-8080\n');
    assert.equal(await eventually('undeclared:9090', () => httpGet(undeclared, 9090).catch(() => undefined), 60_000, 1000), 'undeclared-9090\n');
    // The guest listens on 9090 too, but an undeclared port of a VMI with declared ports stays in the pod.
    assert.equal(await tcpState(declared, 9090), 'ECONNREFUSED');
  });

  it('deleting a VMI stops its VM and removes its pod and sandbox', async () => {
    const pod = await launcherPod('declared');
    await c.k(['delete', '-n', NS, 'vmi', 'declared', '--wait=true', '--timeout=60s']);
    assert.equal((await json(['get', 'pods', '-n', NS, '-l', 'vm.kubevirt.io/name=declared'])).items.length, 0);
    const uid = pod.metadata.uid.replace(/-/g, '').slice(0, 8);
    assert.deepEqual(
      leftovers(c.tag, c.stateDir).filter((l) => l.includes(uid) || l.includes(pod.metadata.uid)),
      [],
    );
  });

  it('a launcher pod deleted under a running VMI fails the VMI once, repeated deletes included (regression)', async () => {
    const pod = await launcherPod('undeclared');
    // Two deletes and a label change while the VM stops: one stop, no second worker, no status loop.
    await c.k(['delete', '-n', NS, 'pod', pod.metadata.name, '--grace-period=3', '--wait=false']);
    await c.k(['delete', '-n', NS, 'pod', pod.metadata.name, '--grace-period=2', '--wait=false']);
    await c.kubectl(['label', '-n', NS, 'pod', pod.metadata.name, 'poke=1']);
    await eventually(
      'the pod gone',
      async () => (await json(['get', 'pods', '-n', NS, '-l', 'vm.kubevirt.io/name=undeclared'])).items.length === 0,
      60_000,
      500,
    );
    const vmi = await eventually(
      'VMI Failed',
      async () => {
        const v = await json(['get', 'vmi', '-n', NS, 'undeclared']);
        return v.status.phase === 'Failed' && v;
      },
      30_000,
      500,
    );
    assert.deepEqual(vmi.status.activePods, {});
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await json(['get', 'vmi', '-n', NS, 'undeclared'])).metadata.resourceVersion, vmi.metadata.resourceVersion, 'the VMI status settles');
    const uid = pod.metadata.uid.replace(/-/g, '').slice(0, 8);
    assert.deepEqual(
      leftovers(c.tag, c.stateDir).filter((l) => l.includes(uid) || l.includes(pod.metadata.uid)),
      [],
    );
    assert.equal((await c.virtmesh(['cluster', 'status'])).code, 0, 'the daemon is still up');
    await c.k(['delete', '-n', NS, 'vmi', 'undeclared', '--wait=true', '--timeout=60s']);
  });

  it('never binds more memory than the node has, even for VMIs created together (regression)', async () => {
    const allocatableKi = Number.parseInt((await json(['get', 'node', 'node01'])).status.allocatable.memory, 10);
    const each = `${Math.floor((allocatableKi * 0.6) / 1024)}Mi`;
    // An image the node cannot pull keeps QEMU out of it: binding is the scheduler's alone, and no VM start can fail and free memory meanwhile.
    const items = ['big-a', 'big-b'].map((name) => JSON.parse(testVmi(name, { memory: each, image: 'example.org/no/such-image:1' })));
    await c.k(['create', '-n', NS, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    type Pod = {
      metadata: { labels: Record<string, string> };
      spec: { nodeName?: string; containers: Array<{ resources: { requests: { memory: string } } }> };
      status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
    };
    const bigPods = async () =>
      ((await json(['get', 'pods', '-n', NS, '-l', 'kubevirt.io=virt-launcher'])).items as Pod[]).filter((p) =>
        p.metadata.labels['vm.kubevirt.io/name'].startsWith('big-'),
      );
    const unschedulable = (p: Pod) => p.status?.conditions?.some((x) => x.type === 'PodScheduled' && x.status === 'False');
    await eventually(
      'one bound, one refused',
      async () => {
        const pods = await bigPods();
        const refused = await c.k(['get', 'events', '-n', NS, '--field-selector', 'reason=FailedScheduling', '-o', 'jsonpath={.items[*].involvedObject.name}']);
        return pods.length === 2 && pods.some((p) => p.spec.nodeName) && (pods.some(unschedulable) || refused.includes('virt-launcher-big-'));
      },
      60_000,
      200,
    );
    // Whatever happens next (a VM that cannot get its memory fails and frees its share), running pods never hold more than the node has.
    for (let i = 0; i < 5; i++) {
      const running = (await bigPods()).filter((p) => p.spec.nodeName && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
      const mi = running.reduce((sum, p) => sum + Number.parseInt(p.spec.containers[0].resources.requests.memory, 10), 0);
      assert.ok(mi * 1024 <= allocatableKi, `${running.length} running big pods request ${mi} Mi of ${Math.floor(allocatableKi / 1024)} Mi`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await c.k(['delete', '-n', NS, 'vmi', 'big-a', 'big-b', '--wait=true', '--timeout=60s']);
  });

  it('reports what cannot run on the VMI, as a condition and an event', async () => {
    type Vmi = { spec: { domain: { resources: { requests: { memory: string } } }; volumes: Array<{ containerDisk?: { image: string } }> } };
    const unknown = JSON.parse(listenerVmi('unknown-image')) as Vmi;
    (unknown.spec.volumes[0].containerDisk as { image: string }).image = 'example.org/no/such-image:1';
    const huge = JSON.parse(listenerVmi('huge')) as Vmi;
    huge.spec.domain.resources.requests.memory = '64Ti';
    await c.k(['create', '-n', NS, '-f', '-'], JSON.stringify(unknown));
    await c.k(['create', '-n', NS, '-f', '-'], JSON.stringify(huge));
    const condition = async (vmi: string, type: string) =>
      ((await json(['get', 'vmi', '-n', NS, vmi])).status?.conditions ?? []).find(
        (x: { type: string; status: string }) => x.type === type && x.status === 'False',
      );
    const sync = await eventually('ErrImagePull on the VMI', () => condition('unknown-image', 'Synchronized'), 60_000, 1000);
    assert.equal(sync.reason, 'ErrImagePull');
    assert.match(sync.message, /example\.org\/no\/such-image:1.*virtmesh images/);
    const sched = await eventually('Unschedulable on the VMI', () => condition('huge', 'PodScheduled'), 60_000, 1000);
    assert.equal(sched.reason, 'Unschedulable');
    assert.match(sched.message, /^0\/1 nodes are available: 1 Insufficient memory\./);
    const events = await c.k([
      'get',
      'events',
      '-n',
      NS,
      '--field-selector',
      'involvedObject.kind=VirtualMachineInstance',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    assert.match(events, /ErrImagePull/);
    assert.match(events, /FailedScheduling/);
    await c.k(['delete', '-n', NS, 'vmi', 'unknown-image', 'huge', '--wait=true', '--timeout=60s']);
  });

  it("shows QEMU's own words when it dies: in the compute log, the VMI's condition and an event", async () => {
    // QEMU refuses more vCPUs than its machine type has at start; admission, as KubeVirt's, lets the count through.
    const vmi = JSON.parse(listenerVmi('too-many-cpus')) as { spec: { domain: { cpu?: { cores: number } } } };
    vmi.spec.domain.cpu = { cores: 300 };
    await c.k(['create', '-n', NS, '-f', '-'], JSON.stringify(vmi));
    const failed = await eventually(
      'too-many-cpus Failed',
      async () => {
        const v = await json(['get', 'vmi', '-n', NS, 'too-many-cpus']);
        return v.status?.phase === 'Failed' ? v : undefined;
      },
      120_000,
      1000,
    );
    const sync = failed.status.conditions.find((x: { type: string }) => x.type === 'Synchronized');
    assert.equal(sync?.status, 'False');
    assert.match(sync.message, /^QEMU exited \(code 1\): .*Invalid SMP CPUs 300\. The max CPUs supported by machine '[^']+' is \d+/);
    const pod = await launcherPod('too-many-cpus');
    const log = await c.k(['logs', '-n', NS, pod.metadata.name, '-c', 'compute']);
    assert.match(log, /^virtmesh: preparing plain\/too-many-cpus: \d+ MiB, 300 vCPU, (KVM|TCG)/m, 'the compute log says the accelerator');
    assert.match(log, /^virtmesh: QEMU exited with code 1$/m);
    assert.match(log, /^virtmesh: QEMU said: .*Invalid SMP CPUs 300/m);
    const events = await c.k(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=too-many-cpus', '-o', 'jsonpath={.items[*].message}']);
    assert.match(events, /QEMU exited \(code 1\): .*Invalid SMP CPUs 300/);
    await c.k(['delete', '-n', NS, 'vmi', 'too-many-cpus', '--wait=true', '--timeout=60s']);
  });

  it('refuses what virtmesh cannot run at admission', async () => {
    const vmi = JSON.parse(listenerVmi('bridged'));
    vmi.spec.domain.devices.interfaces = [{ name: 'default', bridge: {} }];
    const r = await c.kubectl(['create', '-n', NS, '-f', '-'], JSON.stringify(vmi));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Bridge on pod network configuration is not supported by virtmesh/);
  });

  it('virtmesh images lists the catalog the walkthrough images resolve through', async () => {
    const r = await c.virtmesh(['images']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kubevirt\/fedora-cloud-container-disk-demo\S*\s+fedora/);
    assert.match(r.stdout, /kubevirt\/cirros-container-disk-demo\S*\s+cirros/);
    assert.match(r.stdout, /Guest images built in /);
  });

  it('virtmesh console attaches to the serial console', async () => {
    const r = await c.virtmesh(['console', 'istio-vmi', '-n', NS]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Successfully connected to istio-vmi console/);
    const missing = await c.virtmesh(['console', 'nope', '-n', NS]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /"nope" not found/);
  });

  it('a daemon killed with SIGKILL and started again takes over the running VMs: same QEMU, address and readiness', async () => {
    const podBefore = await launcherPod('istio-vmi');
    const cirros = await launcherPod('cirros-vmi');
    const uid = podBefore.metadata.uid as string;
    const vmDir = join(c.stateDir, 'node', 'pods', uid, 'vm');
    const qemuPid = readVmProcesses(vmDir)?.qemu as number;
    const qemuAlive = () => {
      try {
        return readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8').includes(uid);
      } catch {
        return false;
      }
    };
    const readySince = (p: { status: { conditions: Array<{ type: string; lastTransitionTime: string }> } }) =>
      p.status.conditions.find((x) => x.type === 'Ready')?.lastTransitionTime;
    const hellos = async () => ((await c.k(['logs', '-n', NS, cirros.metadata.name])).match(/Hello/g) ?? []).length;
    const hellosBefore = await hellos();

    const daemon = JSON.parse(readFileSync(join(c.stateDir, 'run', 'cluster.json'), 'utf8')).pid as number;
    process.kill(daemon, 'SIGKILL');
    await eventually('the daemon to die', async () => !existsSync(`/proc/${daemon}`), 10_000, 50);
    assert.ok(qemuAlive(), 'the VM outlives the daemon');
    const up = await c.virtmesh(['cluster', 'up']);
    assert.equal(up.code, 0, up.stderr);

    const podAfter = await launcherPod('istio-vmi');
    assert.equal(podAfter.metadata.uid, uid);
    assert.equal(podAfter.status.podIP, podBefore.status.podIP);
    assert.ok(qemuAlive(), 'the same QEMU runs the VM');
    assert.match(readFileSync(join(c.stateDir, 'node', 'pods', uid, 'compute.log'), 'utf8'), /took over the running VM/);
    // The probes carry on where they were: Ready never flips.
    await new Promise((r) => setTimeout(r, 3000));
    const settled = await launcherPod('istio-vmi');
    assert.equal(settled.status.phase, 'Running');
    assert.equal(readySince(settled), readySince(podBefore));
    const ip = (await json(['get', 'svc', '-n', NS, 'istio-vmi-svc'])).spec.clusterIP;
    assert.match(await eventually('Hello from the cluster IP after the restart', () => httpGet(ip, 8080).catch(() => undefined), 30_000, 500), /Hello/);
    await eventually('the cirros loop to keep reaching istio-vmi', async () => (await hellos()) > hellosBefore, 60_000, 1000);

    // An adopted VM stops as any other when its VMI goes. With a grace period of 0 the pod object goes at
    // once (as kube's forced deletion), so the node may still be removing the sandbox when kubectl returns.
    await c.k(['delete', '-n', NS, 'vmi', 'istio-vmi', '--wait=true', '--timeout=90s']);
    const mine = () => leftovers(c.tag, c.stateDir).filter((l) => l.includes(uid.replace(/-/g, '').slice(0, 8)) || l.includes(uid));
    await eventually('the adopted VM and its sandbox to be gone', async () => !qemuAlive() && mine().length === 0, 30_000, 200).catch(() => {});
    assert.ok(!qemuAlive(), 'the adopted QEMU stopped');
    assert.deepEqual(mine(), []);
  });
});
