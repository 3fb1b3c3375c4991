// The node agent (kubelet + CNI + kube-proxy roles for node01): registers the Node,
// runs the pods bound to it, keeps the service-address rules in step with the
// Services' endpoints, and on stop removes every namespace, link, rule, process
// and file it made.

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { type ApiClient, Informer, isConflict, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { createEventRecorder } from '../controllers/index.js';
import { killProcessOf } from '../util/process.js';
import { type Accelerator, adoptVm, type RunningVm, readVmProcesses } from '../vm/index.js';
import { Ipam } from './ipam.js';
import {
  deleteSandboxNetwork,
  ensureBridge,
  listClusterSandboxes,
  type NodeNetwork,
  nodeNetwork,
  removeBridge,
  sandboxNames,
  sweepClusterNetwork,
} from './net.js';
import { PodWorker } from './pod-worker.js';
import { applyHostRules, removeHostRules, type ServicePortRule } from './rules.js';
import { serviceRules } from './service-rules.js';
import { killLeftoverSidecar } from './sidecar.js';
import { releaseUplinkForwarding } from './uplink.js';

export interface NodeAgentConfig {
  client: ApiClient;
  stateDir: string;
  nodeName: string;
  podCIDR: string;
  serviceCIDR: string;
  dnsServiceIP: string;
  imageCacheDir: string;
  /** KVM or TCG for every VM of this node, as the probe decided. */
  accelerator: Accelerator;
  log: (line: string) => void;
}

export interface NodeAgent {
  network: NodeNetwork;
  /** The file holding a container's output, when it has started. */
  logPath(pod: KubeObject, container: string): string | undefined;
  stop(): Promise<void>;
}

/** Kills processes a previous run left (a crash), checked by command line so a reused pid is never hit. */
function killLeftovers(podsDir: string, keep: Set<string> = new Set()): void {
  if (!existsSync(podsDir)) return;
  for (const uid of readdirSync(podsDir)) {
    if (keep.has(uid)) continue;
    // No record (or one a crash cut short): the processes go with their namespaces' removal instead.
    for (const pid of Object.values(readVmProcesses(join(podsDir, uid, 'vm')) ?? {})) killProcessOf(pid, uid);
    killLeftoverSidecar(join(podsDir, uid), uid);
  }
}

/** VMs a previous node agent of this state directory started that still run in their sandboxes: pod uid -> VM. */
async function findRunningVms(net: NodeNetwork, podsDir: string): Promise<Map<string, RunningVm>> {
  const found = new Map<string, RunningVm>();
  if (!existsSync(podsDir)) return found;
  const { netns } = await listClusterSandboxes(net);
  for (const uid of readdirSync(podsDir)) {
    if (!netns.includes(sandboxNames(net, uid).netns)) continue;
    const dir = join(podsDir, uid);
    const vm = adoptVm({ dir: join(dir, 'vm'), serialLog: join(dir, 'compute.log') });
    if (vm) found.set(uid, vm);
  }
  return found;
}

/** Removes whatever a node agent of this state directory left: processes, namespaces, links, rules (the uplink's too), the bridge. */
export async function cleanUpNode(stateDir: string, podCIDR: string, serviceCIDR: string, log: (line: string) => void = () => {}): Promise<void> {
  const net = nodeNetwork(stateDir, podCIDR, serviceCIDR);
  killLeftovers(join(stateDir, 'node', 'pods'));
  await sweepClusterNetwork(net);
  await removeHostRules(net);
  releaseUplinkForwarding(net, log);
  await removeBridge(net);
  rmSync(join(stateDir, 'node', 'pods'), { recursive: true, force: true });
  removeEmptyDir('/etc/netns');
}

export async function startNodeAgent(cfg: NodeAgentConfig): Promise<NodeAgent> {
  const net = nodeNetwork(cfg.stateDir, cfg.podCIDR, cfg.serviceCIDR);
  const nodeDir = join(cfg.stateDir, 'node');
  const podsDir = join(nodeDir, 'pods');
  // VMs still running from an agent that crashed are taken over, as a restarted kubelet keeps its
  // containers; everything else that agent left goes.
  const running = await findRunningVms(net, podsDir);
  killLeftovers(podsDir, new Set(running.keys()));
  await sweepClusterNetwork(net, running.keys());
  await removeHostRules(net);
  if (existsSync(podsDir)) for (const uid of readdirSync(podsDir)) if (!running.has(uid)) rmSync(join(podsDir, uid), { recursive: true, force: true });
  mkdirSync(podsDir, { recursive: true });
  await ensureBridge(net);
  await applyHostRules(net, []);

  const { client, log } = cfg;
  const ipam = new Ipam(join(nodeDir, 'ipam.json'), cfg.podCIDR);
  const events = createEventRecorder(client, { component: 'kubelet', host: cfg.nodeName }, log);
  await registerNode(client, cfg, net);

  const services = new Informer(client, '/api/v1/services', {}, log);
  const endpoints = new Informer(client, '/api/v1/endpoints', {}, log);
  const pods = new Informer(client, '/api/v1/pods', { fieldSelector: `spec.nodeName=${cfg.nodeName}` }, log);
  let rules: ServicePortRule[] = [];
  const workers = new Map<string, PodWorker>();
  const deps = {
    client,
    net,
    ipam,
    podsDir,
    dnsServiceIP: cfg.dnsServiceIP,
    imageCacheDir: cfg.imageCacheDir,
    accelerator: cfg.accelerator,
    hostIP: net.gateway,
    events,
    services: () => rules,
    log,
  };

  // Endpoint changes come in bursts; rules are rewritten once per burst, in order.
  let rulesTimer: NodeJS.Timeout | undefined;
  let rulesChain = Promise.resolve();
  const refreshRules = () => {
    clearTimeout(rulesTimer);
    rulesTimer = setTimeout(() => {
      rulesChain = rulesChain.then(async () => {
        const next = serviceRules(services.list(), endpoints.list());
        if (JSON.stringify(next) === JSON.stringify(rules)) return;
        rules = next;
        await applyHostRules(net, rules).catch((e) => log(`node rules: ${(e as Error).message}`));
        await Promise.all([...workers.values()].map((w) => w.applyRules()));
      });
    }, 30);
  };
  for (const inf of [services, endpoints]) inf.on({ add: refreshRules, update: refreshRules, delete: refreshRules });

  const syncPod = (pod: KubeObject) => {
    const uid = pod.metadata.uid as string;
    let w = workers.get(uid);
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (!w) {
      if (pod.metadata.deletionTimestamp && !existsSync(join(podsDir, uid))) {
        // Nothing runs for it here: let it go at once.
        void client
          .delete(resourcePath({ version: 'v1', plural: 'pods', namespace: pod.metadata.namespace, name: pod.metadata.name }), {
            gracePeriodSeconds: 0,
            preconditions: { uid },
          })
          .catch(() => {});
        return;
      }
      if (phase === 'Succeeded' || phase === 'Failed') return; // finished before this node agent started
      w = new PodWorker(pod, deps);
      workers.set(uid, w);
      const vm = running.get(uid);
      running.delete(uid);
      void (vm ? w.adopt(vm) : w.start());
    }
    w.update(pod);
    if (pod.metadata.deletionTimestamp && !w.terminating) {
      const worker = w;
      void worker.terminate(pod.metadata.deletionGracePeriodSeconds ?? 0, true).finally(() => {
        if (workers.get(uid) === worker) workers.delete(uid);
      });
    }
  };
  pods.on({
    add: syncPod,
    update: syncPod,
    delete: (pod) => {
      const w = workers.get(pod.metadata.uid as string);
      if (!w) return;
      // Forced away (grace 0) or finished: stop at once; a worker already terminating finishes its own way.
      void w.terminate(0, false).finally(() => {
        if (workers.get(pod.metadata.uid as string) === w) workers.delete(pod.metadata.uid as string);
      });
    },
  });
  await Promise.all([services.start(), endpoints.start()]);
  rules = serviceRules(services.list(), endpoints.list());
  await applyHostRules(net, rules);
  await pods.start();
  // Running VMs whose pods are gone (deleted while no agent ran) or finished are stopped and removed.
  for (const [uid, vm] of [...running]) {
    running.delete(uid);
    log(`node ${cfg.nodeName}: stopping a VM left running for pod ${uid}, which no longer runs here`);
    await vm.stop(0);
    await deleteSandboxNetwork(net, uid);
    rmSync(join(podsDir, uid), { recursive: true, force: true });
  }
  // Addresses of pods that no longer exist go back to the pool.
  const live = new Set(pods.list().map((p) => p.metadata.uid));
  for (const uid of ipam.owners()) if (!live.has(uid)) ipam.release(uid);
  log(`node ${cfg.nodeName}: pod network ${cfg.podCIDR} on ${net.bridge}, ${pods.list().length} pods`);

  return {
    network: net,
    logPath(pod, container) {
      const w = workers.get(pod.metadata.uid as string);
      const path = w?.logPath(container);
      return path && existsSync(path) ? path : undefined;
    },
    async stop() {
      clearTimeout(rulesTimer);
      for (const inf of [pods, services, endpoints]) inf.stop();
      await Promise.all([...workers.values()].map((w) => w.shutdown().catch((e) => log(`pod shutdown: ${(e as Error).message}`))));
      workers.clear();
      await rulesChain;
      await sweepClusterNetwork(net);
      await removeHostRules(net);
      await removeBridge(net);
      rmSync(podsDir, { recursive: true, force: true });
      removeEmptyDir('/etc/netns');
    },
  };
}

function removeEmptyDir(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  } catch {}
}

/** The Node object: capacity from this machine, Ready while the agent runs. */
async function registerNode(client: ApiClient, cfg: NodeAgentConfig, net: NodeNetwork): Promise<void> {
  const memKi = `${Math.floor(totalmem() / 1024)}Ki`;
  const resources = { cpu: String(cpus().length), memory: memKi, pods: '110', 'devices.kubevirt.io/kvm': cfg.accelerator.accel === 'kvm' ? '1k' : '0' };
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: cfg.nodeName,
      labels: {
        'kubernetes.io/hostname': cfg.nodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/control-plane': '',
        'kubevirt.io/schedulable': 'true',
      },
    },
    spec: { podCIDR: cfg.podCIDR, podCIDRs: [cfg.podCIDR] },
  };
  const status = {
    capacity: resources,
    allocatable: resources,
    addresses: [
      { type: 'InternalIP', address: net.gateway },
      { type: 'Hostname', address: cfg.nodeName },
    ],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'virtmesh node agent is posting ready status',
        lastHeartbeatTime: at,
        lastTransitionTime: at,
      },
      {
        type: 'MemoryPressure',
        status: 'False',
        reason: 'KubeletHasSufficientMemory',
        message: 'kubelet has sufficient memory available',
        lastHeartbeatTime: at,
        lastTransitionTime: at,
      },
    ],
    nodeInfo: {
      architecture: 'amd64',
      operatingSystem: 'linux',
      osImage: 'virtmesh node',
      kernelVersion: release(),
      kubeletVersion: 'v1.32.0',
      kubeProxyVersion: 'v1.32.0',
      containerRuntimeVersion: 'virtmesh://0.1.0',
      machineID: '',
      systemUUID: '',
      bootID: '',
    },
  };
  const path = resourcePath({ version: 'v1', plural: 'nodes', name: cfg.nodeName });
  try {
    await client.create(resourcePath({ version: 'v1', plural: 'nodes' }), node);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  try {
    await client.patch(`${path}/status`, { status });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
