// A whole virtmesh cluster for VM tests: the real `virtmesh cluster up` daemon (API
// server, controllers, node agent, DNS) in a temporary state directory, the real
// kubectl, and a check that `cluster down` leaves nothing of it on the machine.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeNetwork, sandboxNames } from '../../src/node/index.js';
import { type KubectlResult, kubectlIn } from './cluster.js';
import { clusterEnv, virtmesh } from './daemon.js';

export { eventually } from './eventually.js';

export interface VmCluster {
  dir: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** kubectl that must succeed; returns stdout. */
  k(args: string[], input?: string): Promise<string>;
  virtmesh(args: string[]): Promise<KubectlResult>;
  /** The cluster's network names on this machine (bridge, namespaces, rule chains carry its tag). */
  tag: string;
  down(): Promise<void>;
}

export async function startVmCluster(extraEnv: NodeJS.ProcessEnv = {}): Promise<VmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-vms-'));
  const stateDir = join(dir, 'state');
  const env = clusterEnv(stateDir, extraEnv);
  const up = await virtmesh(['cluster', 'up'], stateDir, extraEnv);
  if (up.code !== 0) {
    const log = existsSync(join(stateDir, 'logs', 'cluster.log')) ? readFileSync(join(stateDir, 'logs', 'cluster.log'), 'utf8').slice(-3000) : '';
    await virtmesh(['cluster', 'down'], stateDir, extraEnv);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cluster up failed: ${up.stdout}${up.stderr}\n${log}`);
  }
  const kubectl = kubectlIn(dir, join(stateDir, 'kubeconfig'));
  const net = nodeNetwork(stateDir, env.VIRTMESH_NODE_POD_CIDR as string, env.VIRTMESH_APISERVER_SERVICE_CIDR as string);
  return {
    dir,
    stateDir,
    env,
    tag: net.tag,
    kubectl,
    async k(args, input) {
      const r = await kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    },
    virtmesh: (args) => virtmesh(args, stateDir, extraEnv),
    async down() {
      await virtmesh(['cluster', 'down'], stateDir, extraEnv);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a cluster with this tag and state directory still has on the machine; empty when torn down. */
export function leftovers(tag: string, stateDir: string): string[] {
  const found: string[] = [];
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  for (const ns of sh('ip', ['netns', 'list']).split('\n')) if (ns.startsWith(`virtmesh-${tag}-`)) found.push(`netns ${ns.split(' ')[0]}`);
  for (const line of sh('ip', ['-o', 'link', 'show']).split('\n')) {
    const name = line.split(':')[1]?.trim().split('@')[0] ?? '';
    if (name === `vmbr${tag}` || name.startsWith(`vmv${tag}`)) found.push(`link ${name}`);
  }
  for (const table of ['nat', 'filter']) {
    for (const line of sh('iptables', ['-w', '-t', table, '-S']).split('\n')) if (line.includes(`VIRTMESH-${tag}`)) found.push(`iptables ${table}: ${line}`);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(stateDir) || cmd.includes(`virtmesh-${tag}-`)) found.push(`process ${pid}: ${cmd.slice(0, 120)}`);
    } catch {}
  }
  if (existsSync('/etc/netns')) for (const n of readdirSync('/etc/netns')) if (n.startsWith(`virtmesh-${tag}-`)) found.push(`file /etc/netns/${n}`);
  if (existsSync(stateDir)) found.push(`directory ${stateDir}`);
  return found;
}

/** The network namespace of a pod of the cluster, by the pod's uid. */
export function podNetns(c: VmCluster, podUid: string): string {
  const net = nodeNetwork(c.stateDir, c.env.VIRTMESH_NODE_POD_CIDR as string, c.env.VIRTMESH_APISERVER_SERVICE_CIDR as string);
  return sandboxNames(net, podUid).netns;
}

/** The walkthrough's manifest with the probe's 120 s initial delay cut to `seconds` (and the namespace in service names changed). */
export function quick(manifest: string, seconds: number, namespace = 'default'): string {
  return manifest
    .replace('initialDelaySeconds: 120', `initialDelaySeconds: ${seconds}`)
    .replace('.default.svc.cluster.local', `.${namespace}.svc.cluster.local`);
}

export interface TestVmiOptions {
  /** Ports declared on the masquerade interface; none declared forwards every port. */
  ports?: number[];
  userData?: string;
  memory?: string;
  readinessProbe?: Record<string, unknown>;
  image?: string;
}

/** A small VMI on the built-in cirros guest, as JSON for `kubectl create -f -`. */
export function testVmi(name: string, o: TestVmiOptions = {}): string {
  const disks: Array<Record<string, unknown>> = [{ name: 'containerdisk', disk: { bus: 'virtio' } }];
  const volumes: Array<Record<string, unknown>> = [{ name: 'containerdisk', containerDisk: { image: o.image ?? 'kubevirt/cirros-container-disk-demo:devel' } }];
  if (o.userData) {
    disks.push({ name: 'cloudinitdisk', disk: { bus: 'virtio' } });
    volumes.push({ name: 'cloudinitdisk', cloudInitNoCloud: { userData: o.userData } });
  }
  return JSON.stringify({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, labels: { app: name } },
    spec: {
      domain: {
        devices: { interfaces: [{ name: 'default', masquerade: {}, ...(o.ports ? { ports: o.ports.map((port) => ({ port })) } : {}) }], disks },
        resources: { requests: { memory: o.memory ?? '128M' } },
      },
      networks: [{ name: 'default', pod: {} }],
      ...(o.readinessProbe ? { readinessProbe: o.readinessProbe } : {}),
      terminationGracePeriodSeconds: 0,
      volumes,
    },
  });
}
