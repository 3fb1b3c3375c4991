import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { holdIpForward, type IpForwardPaths, releaseIpForward } from './ip-forward.js';
import { nodeNetwork } from './net.js';
import { renderUplinkRules } from './rules.js';
import { defaultRouteInterface, parseUplink, uplinkText } from './uplink.js';

describe('VIRTMESH_NODE_UPLINK', () => {
  it('reads none (the default, also when empty), nat and nat:IFACE', () => {
    assert.deepEqual(parseUplink('none'), { mode: 'none' });
    assert.deepEqual(parseUplink(''), { mode: 'none' });
    assert.deepEqual(parseUplink('nat'), { mode: 'nat' });
    assert.deepEqual(parseUplink(' nat:enp0s31f6 '), { mode: 'nat', interface: 'enp0s31f6' });
    assert.deepEqual(parseUplink('nat:wlan0.5'), { mode: 'nat', interface: 'wlan0.5' });
    for (const v of ['none', 'nat', 'nat:eth0']) assert.equal(uplinkText(parseUplink(v)), v);
  });

  it('refuses anything else, with the setting named', () => {
    assert.throws(() => parseUplink('foo'), {
      code: 'VM_ERR_CLUSTER_BAD_UPLINK',
      message: 'VIRTMESH_NODE_UPLINK: "foo" is not one of none, nat, nat:IFACE (e.g. nat:eth0)',
    });
    assert.throws(() => parseUplink('nat:'), {
      code: 'VM_ERR_CLUSTER_BAD_UPLINK',
      message: `VIRTMESH_NODE_UPLINK: "nat:" names no interface (expected nat:IFACE, e.g. nat:eth0, or nat for the default route's interface)`,
    });
    assert.throws(() => parseUplink('NAT'), /"NAT" is not one of none, nat, nat:IFACE/);
    // What iptables would read as a wildcard or more than one word never gets into a rule.
    for (const iface of ['eth+', 'a b', 'eth0:1', '!eth0', 'x/y', 'averyveryverylongname']) {
      assert.throws(() => parseUplink(`nat:${iface}`), { code: 'VM_ERR_CLUSTER_BAD_UPLINK', message: /is not a network interface name$/ }, iface);
    }
    assert.throws(() => parseUplink('nat:lo'), /"nat:lo" names the loopback interface, which leads nowhere out of the machine/);
    assert.throws(() => parseUplink('nat:vmbr1a2b'), /names vmbr1a2b, a virtmesh pod network interface/);
    assert.throws(() => parseUplink('nat:vmv1a2b3c4d5e'), /a virtmesh pod network interface/);
  });

  it("takes the default route's interface with the lowest metric", () => {
    const routes = [
      { dst: 'default', gateway: '192.0.2.1', dev: 'wlan0', metric: 600 },
      { dst: 'default', gateway: '192.0.2.1', dev: 'eth0', metric: 100 },
    ];
    assert.equal(defaultRouteInterface(JSON.stringify(routes)), 'eth0');
    assert.equal(defaultRouteInterface('[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]}]\n'), 'eth0');
    assert.equal(defaultRouteInterface(JSON.stringify([{ dst: 'default', nexthops: [{ gateway: '192.0.2.1', dev: 'bond0' }] }])), 'bond0');
    assert.equal(defaultRouteInterface('[]'), undefined);
    assert.equal(defaultRouteInterface(''), undefined);
  });
});

describe('uplink rules', () => {
  const net = nodeNetwork('/var/lib/virtmesh-test', '10.244.0.0/24', '10.96.0.0/16');
  const chain = `VIRTMESH-${net.tag}-UPL`;

  it("masquerades only the pod CIDR's traffic out of the uplink, and lets only the replies back in", () => {
    assert.equal(
      renderUplinkRules(net, 'eth0'),
      [
        '*nat',
        `:${chain} - [0:0]`,
        `-A ${chain} -s 10.244.0.0/24 -o eth0 -j MASQUERADE`,
        'COMMIT',
        '*filter',
        `:${chain} - [0:0]`,
        `-A ${chain} -s 10.244.0.0/24 -i ${net.bridge} -o eth0 -j ACCEPT`,
        `-A ${chain} -d 10.244.0.0/24 -i eth0 -o ${net.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it("lives in the cluster's own chain, the one name the cleanup removes", () => {
    const chains = [...renderUplinkRules(net, 'eth0').matchAll(/^:(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(chains, [chain, chain]);
  });
});

describe('net.ipv4.ip_forward for the uplink', () => {
  let dir: string;
  let paths: IpForwardPaths;
  let lines: string[];
  const log = (line: string) => lines.push(line);
  const sysctl = () => readFileSync(paths.sysctl, 'utf8').trim();
  const running = new Set<string>();
  const alive = (tag: string) => running.has(tag);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'virtmesh-ipfwd-'));
    paths = { sysctl: join(dir, 'ip_forward'), dir: join(dir, 'run', 'virtmesh', 'ip-forward'), bootId: join(dir, 'boot_id') };
    writeFileSync(paths.bootId, 'boot-1\n');
    lines = [];
    running.clear();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('turns it on when off, says so, and turns it off when the last cluster that needed it goes', () => {
    writeFileSync(paths.sysctl, '0\n');
    running.add('aaaa').add('bbbb');
    holdIpForward('aaaa', 'vmbraaaa', log, paths);
    assert.equal(sysctl(), '1');
    assert.match(lines[0], /net\.ipv4\.ip_forward was 0: virtmesh turned it on for the uplink/);
    holdIpForward('bbbb', 'vmbrbbbb', log, paths);
    assert.equal(lines.length, 1, 'said once');
    running.delete('aaaa');
    releaseIpForward('aaaa', log, alive, paths);
    assert.equal(sysctl(), '1', 'the other cluster still needs it');
    running.delete('bbbb');
    releaseIpForward('bbbb', log, alive, paths);
    assert.equal(sysctl(), '0');
    assert.match(lines[1], /net\.ipv4\.ip_forward back to 0/);
    assert.equal(existsSync(join(dir, 'run', 'virtmesh')), false, 'no record left');
  });

  it('never turns off what was on before', () => {
    writeFileSync(paths.sysctl, '1\n');
    running.add('aaaa');
    holdIpForward('aaaa', 'vmbraaaa', log, paths);
    releaseIpForward('aaaa', log, alive, paths);
    assert.equal(sysctl(), '1');
    assert.deepEqual(lines, []);
    assert.equal(existsSync(paths.dir), false);
  });

  it('leaves it alone for a cluster without uplink, and holds nothing twice across a restart', () => {
    writeFileSync(paths.sysctl, '0\n');
    releaseIpForward('cccc', log, alive, paths);
    assert.equal(sysctl(), '0');
    running.add('aaaa');
    holdIpForward('aaaa', 'vmbraaaa', log, paths);
    holdIpForward('aaaa', 'vmbraaaa', log, paths); // the daemon restarted after a crash
    releaseIpForward('aaaa', log, alive, paths);
    assert.equal(sysctl(), '0');
  });

  it('drops holders whose clusters are gone, and a record of an earlier boot', () => {
    writeFileSync(paths.sysctl, '0\n');
    running.add('aaaa');
    holdIpForward('aaaa', 'vmbraaaa', log, paths);
    running.delete('aaaa'); // crashed, its bridge gone, nobody ran cluster down
    running.add('bbbb');
    holdIpForward('bbbb', 'vmbrbbbb', log, paths);
    releaseIpForward('bbbb', log, alive, paths);
    assert.equal(sysctl(), '0', "the crashed cluster's record does not keep it on");

    // After a reboot (here: a new boot id) with forwarding on by someone else, an old record is void.
    running.add('aaaa');
    writeFileSync(paths.sysctl, '0\n');
    holdIpForward('aaaa', 'vmbraaaa', log, paths);
    writeFileSync(paths.bootId, 'boot-2\n');
    writeFileSync(paths.sysctl, '1\n');
    running.add('bbbb');
    holdIpForward('bbbb', 'vmbrbbbb', log, paths);
    releaseIpForward('bbbb', log, alive, paths);
    assert.equal(sysctl(), '1');
  });
});
