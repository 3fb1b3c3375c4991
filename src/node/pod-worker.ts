// One pod on the node, from sandbox to teardown (the kubelet's pod worker): make
// the network namespace, start the containers (for a virt-launcher pod: the
// containerDisk, then the VM as the compute container), run the probes, report
// status and events, and on deletion stop the VM within the grace period and
// remove everything the pod had.

import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ApiClient, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import type { RecordEvent } from '../controllers/index.js';
import { type Accelerator, GUEST_GATEWAY, GUEST_IP, planVm, type RunningVm, resolveContainerDiskImage, startVm, VM_BRIDGE, type VmPlan } from '../vm/index.js';
import type { Ipam } from './ipam.js';
import { createSandboxNetwork, deleteSandboxNetwork, type NodeNetwork, podResolvConf, type SandboxNetwork, sandboxNames } from './net.js';
import { type ContainerRuntime, podStatus, type SandboxState } from './pod-status.js';
import { Prober, type ProbeSpec } from './probes.js';
import { applyPodRules, captureFromAnnotations, renderPodRules, type ServicePortRule } from './rules.js';
import { adoptSidecar, capLogFile, killLeftoverSidecar, PROXY_UID, type RunningSidecar, type SidecarContainerSpec, startSidecarProcess } from './sidecar.js';

export interface PodWorkerDeps {
  client: ApiClient;
  net: NodeNetwork;
  ipam: Ipam;
  podsDir: string;
  dnsServiceIP: string;
  imageCacheDir: string;
  accelerator: Accelerator;
  hostIP: string;
  events: RecordEvent;
  services: () => ServicePortRule[];
  log: (line: string) => void;
}

interface ContainerSpec extends SidecarContainerSpec {
  name: string;
  image: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: ProbeSpec;
  livenessProbe?: ProbeSpec;
}

const now = () => new Date().toISOString();
const SIDECAR = 'istio-proxy';
/** How often a pod whose networks are missing tries again (the kubelet retries sandbox creation with back-off). */
const SANDBOX_RETRY_MS = 5000;
export const isLauncherPod = (pod: KubeObject) => Boolean(pod.metadata.annotations?.['kubevirt.io/domain']);

export class PodWorker {
  readonly dir: string;
  #pod: KubeObject;
  readonly #deps: PodWorkerDeps;
  readonly #state: SandboxState;
  #sandbox: SandboxNetwork | undefined;
  #plan: VmPlan | undefined;
  #vm: RunningVm | undefined;
  #sidecar: RunningSidecar | undefined;
  /** The VM has exited: nothing is started or probed for it any more (a takeover may learn it late). */
  #computeDone = false;
  #probes: Prober[] = [];
  #stopping = false;
  #started: Promise<void> | undefined;
  #terminating: Promise<void> | undefined;
  #rulesChain: Promise<void> = Promise.resolve();
  #statusChain: Promise<void> = Promise.resolve();

  constructor(pod: KubeObject, deps: PodWorkerDeps) {
    this.#pod = pod;
    this.#deps = deps;
    this.dir = join(deps.podsDir, pod.metadata.uid as string);
    const spec = pod.spec as { containers: ContainerSpec[]; initContainers?: ContainerSpec[]; restartPolicy?: string };
    const waiting = (c: ContainerSpec, reason: string) => ({
      name: c.name,
      image: c.image,
      current: { state: 'waiting' as const, reason },
      ready: false,
      restartCount: 0,
    });
    const initializing = (spec.initContainers ?? []).length > 0;
    this.#state = {
      hostIP: deps.hostIP,
      startTime: now(),
      restartPolicy: spec.restartPolicy ?? 'Always',
      initContainers: (spec.initContainers ?? []).map((c) => waiting(c, 'PodInitializing')),
      containers: spec.containers.map((c) => waiting(c, initializing ? 'PodInitializing' : 'ContainerCreating')),
    };
  }

  get uid(): string {
    return this.#pod.metadata.uid as string;
  }

  logPath(container: string): string {
    return join(this.dir, `${container}.log`);
  }

  get consoleSocket(): string | undefined {
    return this.#vm?.consoleSocket;
  }

  update(pod: KubeObject): void {
    this.#pod = pod;
  }

  start(): Promise<void> {
    this.#started ??= this.#start().catch((e) => this.#deps.log(`pod ${this.#name()}: ${(e as Error).stack}`));
    return this.#started;
  }

  /**
   * Takes over a pod whose VM a previous node agent started and that still runs: its
   * sandbox, address and files are kept, the containers carry on with their recorded
   * start times and readiness, and the probes resume on their schedule.
   */
  adopt(vm: RunningVm): Promise<void> {
    this.#started ??= this.#adopt(vm).catch((e) => this.#deps.log(`pod ${this.#name()}: ${(e as Error).stack}`));
    return this.#started;
  }

  /** Rules are rendered when their turn comes, so a later call never loses to an earlier, staler one. */
  applyRules(): Promise<void> {
    this.#rulesChain = this.#rulesChain.then(async () => {
      if (!this.#sandbox || this.#stopping) return;
      const capture = captureFromAnnotations(this.#pod.metadata.annotations, PROXY_UID);
      await applyPodRules(this.#sandbox.netns, renderPodRules(this.#deps.services(), this.#vmNat(), capture)).catch((e) =>
        this.#deps.log(`pod ${this.#name()}: applying rules: ${(e as Error).message}`),
      );
    });
    return this.#rulesChain;
  }

  /** Deletion requested: stop within the grace period, clean up, then remove the pod object (as the kubelet does). Once. */
  terminate(graceSeconds: number, removeObject: boolean): Promise<void> {
    this.#terminating ??= this.#terminate(graceSeconds, removeObject);
    return this.#terminating;
  }

  get terminating(): boolean {
    return this.#terminating !== undefined;
  }

  async #terminate(graceSeconds: number, removeObject: boolean): Promise<void> {
    this.#stopping = true;
    for (const p of this.#probes) p.stop();
    await this.#started;
    // Every container is told at once and the grace period is shared, as the kubelet does.
    const stops: Array<Promise<void>> = [];
    if (this.#vm) {
      this.#deps.events(this.#pod, 'Normal', 'Killing', 'Stopping container compute');
      stops.push(this.#vm.stop(graceSeconds));
    }
    if (this.#sidecar) {
      this.#deps.events(this.#pod, 'Normal', 'Killing', `Stopping container ${SIDECAR}`);
      stops.push(this.#sidecar.stop(graceSeconds));
    }
    await Promise.all(stops);
    await this.teardown();
    if (removeObject) {
      const m = this.#pod.metadata;
      for (let attempt = 1; attempt <= 5; attempt++) {
        try {
          await this.#deps.client.delete(resourcePath({ version: 'v1', plural: 'pods', namespace: m.namespace, name: m.name }), {
            gracePeriodSeconds: 0,
            preconditions: { uid: m.uid },
          });
          return;
        } catch (e) {
          if (isNotFound(e) || (e as { code?: number }).code === 409) return;
          this.#deps.log(`pod ${this.#name()}: final delete (attempt ${attempt}): ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }
  }

  /** Kills what runs and removes the namespace, address and files (deletion). */
  teardown(): Promise<void> {
    return this.#stopAndRemove(true);
  }

  /** Node shutdown: the same, but the address stays the pod's, so it gets it back on the next start. */
  shutdown(): Promise<void> {
    return this.#stopAndRemove(false);
  }

  async #stopAndRemove(releaseAddress: boolean): Promise<void> {
    this.#stopping = true;
    await this.#started;
    for (const p of this.#probes) p.stop();
    if (this.#vm) await this.#vm.stop(0);
    if (this.#sidecar) await this.#sidecar.stop(0);
    await deleteSandboxNetwork(this.#deps.net, this.uid);
    if (releaseAddress) this.#deps.ipam.release(this.uid);
    rmSync(this.dir, { recursive: true, force: true });
  }

  #name(): string {
    return `${this.#pod.metadata.namespace}/${this.#pod.metadata.name}`;
  }

  #container(name: string): ContainerRuntime | undefined {
    return this.#state.containers.find((c) => c.name === name);
  }

  /** A container as the pod declares it (its probes, ports and environment). */
  #containerSpec(name: string): ContainerSpec | undefined {
    return (this.#pod.spec as { containers: ContainerSpec[] }).containers.find((x) => x.name === name);
  }

  #computeSpec(): ContainerSpec | undefined {
    return this.#containerSpec('compute');
  }

  /**
   * The networks the pod's Multus annotation names (the istio-cni one of an injected pod) must
   * exist in its namespace before its sandbox can be made. Undefined when they do, else Multus's error.
   */
  async #missingNetwork(): Promise<string | undefined> {
    const ns = this.#pod.metadata.namespace as string;
    for (const ref of multusNetworks(this.#pod.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'])) {
      const where = ref.namespace ?? ns;
      try {
        await this.#deps.client.get(
          resourcePath({ group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions', namespace: where, name: ref.name }),
        );
      } catch (e) {
        if (!isNotFound(e)) return `error getting network-attachment-definition ${where}/${ref.name}: ${(e as Error).message}`;
        const pod = `${ns}/${this.#pod.metadata.name}/${this.uid}`;
        return (
          `Failed to create pod sandbox: plugin type="multus" name="multus-cni-network" failed (add): [${pod}:${ref.name}]: ` +
          `error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: ` +
          `failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition (${ref.name}) in namespace (${where}): ` +
          `network-attachment-definitions.k8s.cni.cncf.io "${ref.name}" not found`
        );
      }
    }
    return undefined;
  }

  /** Waits, retrying as the kubelet does, until the pod's networks exist; false when the pod stops first. */
  async #waitForNetworks(): Promise<boolean> {
    for (;;) {
      if (this.#stopping) return false;
      const missing = await this.#missingNetwork();
      if (!missing) return true;
      this.#deps.events(this.#pod, 'Warning', 'FailedCreatePodSandBox', missing);
      this.#pushStatus();
      await new Promise((r) => setTimeout(r, SANDBOX_RETRY_MS));
    }
  }

  /**
   * Init containers ran (each is a no-op here: the sandbox and the disks are ready when they would have run).
   * A takeover only records them done: they ran under the previous node agent.
   */
  #completeInitContainers(announce = true): void {
    const at = now();
    for (const c of this.#state.initContainers) {
      if (announce) {
        this.#deps.events(this.#pod, 'Normal', 'Created', `Created container ${c.name}`);
        this.#deps.events(this.#pod, 'Normal', 'Started', `Started container ${c.name}`);
      }
      c.current = { state: 'terminated', exitCode: 0, reason: 'Completed', startedAt: at, finishedAt: at };
    }
    for (const c of this.#state.containers)
      if (c.current.state === 'waiting' && c.current.reason === 'PodInitializing') c.current = { state: 'waiting', reason: 'ContainerCreating' };
  }

  /**
   * The istio-proxy container of an injected pod: the sidecar process (a new one, or the one a
   * previous node agent started, taken over as it runs), its readiness probe, its exit.
   */
  #startSidecar(startedAt = now(), ready = false, adopted?: RunningSidecar): void {
    const spec = this.#containerSpec(SIDECAR);
    const c = this.#container(SIDECAR);
    if (!spec || !c || !this.#sandbox || this.#stopping || this.#computeDone) {
      void adopted?.stop(0);
      return;
    }
    if (adopted) this.#sidecar = adopted;
    else if (!this.#spawnSidecar(spec)) return;
    c.current = { state: 'running', startedAt };
    c.ready = ready && Boolean(spec.readinessProbe);
    const sidecar = this.#sidecar as RunningSidecar;
    void sidecar.exited.then((code) => {
      if (this.#stopping || this.#sidecar !== sidecar) return;
      c.ready = false;
      // Asked to quit because the VM is gone (virt-launcher's quitquitquit): a clean finish, however it ended.
      const exitCode = this.#computeDone ? 0 : (code ?? 137);
      c.current = { state: 'terminated', exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt: now() };
      this.#pushStatus();
    });
    this.#startProbes(SIDECAR, spec, Date.parse(startedAt), ready);
    const logCap = setInterval(() => capLogFile(this.logPath(SIDECAR)), 60_000).unref();
    void sidecar.exited.then(() => clearInterval(logCap));
  }

  #spawnSidecar(spec: ContainerSpec): boolean {
    if (!this.#sandbox) return false;
    killLeftoverSidecar(this.dir, this.uid);
    try {
      this.#sidecar = startSidecarProcess({
        netns: this.#sandbox.netns,
        podDir: this.dir,
        pod: this.#pod,
        container: spec,
        podIP: this.#sandbox.ip,
        hostIP: this.#deps.hostIP,
        logFile: this.logPath(SIDECAR),
      });
    } catch (e) {
      this.#fail(SIDECAR, 'RunContainerError', (e as Error).message);
      return false;
    }
    this.#deps.events(this.#pod, 'Normal', 'Pulled', `Container image "${spec.image}" already present on machine`);
    this.#deps.events(this.#pod, 'Normal', 'Created', `Created container ${SIDECAR}`);
    this.#deps.events(this.#pod, 'Normal', 'Started', `Started container ${SIDECAR}`);
    return true;
  }

  #vmNat() {
    if (!this.#plan) return undefined;
    return { guestIP: GUEST_IP, gatewayIP: GUEST_GATEWAY, bridge: VM_BRIDGE, ports: this.#plan.ports };
  }

  async #start(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    const ns = this.#pod.metadata.namespace as string;
    if (!(await this.#waitForNetworks())) return;
    const ip = this.#deps.ipam.allocate(this.uid);
    this.#sandbox = await createSandboxNetwork(this.#deps.net, this.uid, ip, podResolvConf(ns, this.#deps.dnsServiceIP));
    this.#state.podIP = ip;
    if (this.#stopping) return;
    this.#completeInitContainers();
    if (!isLauncherPod(this.#pod)) {
      await this.applyRules();
      for (const c of this.#state.containers) {
        c.current = {
          state: 'waiting',
          reason: 'CreateContainerError',
          message: 'virtmesh runs virt-launcher pods of VirtualMachineInstances only; container images are not run',
        };
      }
      this.#pushStatus();
      return;
    }
    const vmi = await this.#fetchVmi();
    const plan = vmi
      ? planVm(vmi)
      : { reason: 'VMINotFound', message: `VirtualMachineInstance ${this.#pod.metadata.annotations?.['kubevirt.io/domain']} not found` };
    if ('reason' in plan) {
      this.#fail('compute', 'CreateContainerConfigError', plan.message);
      return;
    }
    this.#plan = plan;
    await this.applyRules();
    this.#pushStatus();
    this.#startSidecar();

    if (!(await this.#startContainerDisk(plan))) return;
    if (this.#stopping) return;
    await this.#startCompute(plan);
  }

  async #adopt(vm: RunningVm): Promise<void> {
    this.#vm = vm;
    const status = (this.#pod.status ?? {}) as {
      startTime?: string;
      containerStatuses?: Array<{ name: string; ready?: boolean; restartCount?: number; state?: { running?: { startedAt?: string } } }>;
    };
    if (status.startTime) this.#state.startTime = status.startTime;
    const spec = this.#computeSpec();
    let computeStartedAt = now();
    this.#completeInitContainers(false);
    for (const c of this.#state.containers) {
      if (c.name === SIDECAR) continue; // taken over (or started afresh) below
      const was = status.containerStatuses?.find((x) => x.name === c.name);
      const startedAt = was?.state?.running?.startedAt ?? now();
      c.current = { state: 'running', startedAt };
      c.restartCount = was?.restartCount ?? 0;
      // Only compute has a readiness probe; the others are ready once running, as #start makes them.
      c.ready = c.name === 'compute' && spec?.readinessProbe ? (was?.ready ?? false) : true;
      if (c.name === 'compute') computeStartedAt = startedAt;
    }
    void vm.exited.then((code) => this.#computeExited(code, computeStartedAt));
    // The plan (the VM's ports) comes before the sandbox is known: rules rendered without it would drop the guest's NAT.
    const vmi = await this.#fetchVmiPatiently();
    const plan = vmi ? planVm(vmi) : undefined;
    if (plan && !('reason' in plan)) this.#plan = plan;
    const ip = this.#deps.ipam.allocate(this.uid); // the address it had: the pool is kept on disk
    this.#sandbox = { ...sandboxNames(this.#deps.net, this.uid), ip };
    this.#state.podIP = ip;
    if (this.#stopping) return;
    await this.applyRules();
    // The sidecar outlived its node agent too: taken over as it runs (its connections and config live on), else started anew.
    const sidecar = adoptSidecar(this.dir, this.uid);
    if (this.#computeDone) {
      // The VM ended while its VMI was being read: nothing is left to run.
      void sidecar?.stop(0);
      return;
    }
    if (sidecar) {
      const was = status.containerStatuses?.find((x) => x.name === SIDECAR);
      this.#deps.log(`pod ${this.#name()}: took over the running sidecar (pid ${sidecar.pid})`);
      this.#startSidecar(was?.state?.running?.startedAt ?? now(), was?.ready ?? false, sidecar);
    } else this.#startSidecar();
    this.#pushStatus();
    this.#startProbes('compute', spec, Date.parse(computeStartedAt), this.#container('compute')?.ready);
  }

  /** The VMI, asked for until the API answers (it may still be settling after a restart) or the pod stops. */
  async #fetchVmiPatiently(): Promise<KubeObject | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#fetchVmi();
      } catch (e) {
        if (this.#stopping || attempt >= 30) throw e;
        this.#deps.log(`pod ${this.#name()}: reading its VMI (attempt ${attempt}): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
      }
    }
  }

  async #fetchVmi(): Promise<KubeObject | undefined> {
    const name = this.#pod.metadata.annotations?.['kubevirt.io/domain'] as string;
    try {
      return await this.#deps.client.get(
        resourcePath({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespace: this.#pod.metadata.namespace, name }),
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** The volumecontainerdisk container: the image resolved from the catalog (built once) is its whole job. */
  async #startContainerDisk(plan: VmPlan): Promise<boolean> {
    const c = this.#container('volumecontainerdisk');
    const disk = plan.disks.find((d) => d.source.kind === 'containerDisk');
    const image = disk?.source.kind === 'containerDisk' ? disk.source.image : '';
    const resolved = resolveContainerDiskImage(image);
    if (resolved.kind === 'unknown') {
      this.#deps.events(this.#pod, 'Warning', 'Failed', `Failed to pull image "${image}": ${resolved.message}`);
      this.#deps.events(this.#pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      if (c) c.current = { state: 'waiting', reason: 'ErrImagePull', message: `Failed to pull image "${image}": ${resolved.message}` };
      this.#pushStatus();
      return false;
    }
    if (c) {
      this.#deps.events(this.#pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      this.#deps.events(this.#pod, 'Normal', 'Created', 'Created container volumecontainerdisk');
      this.#deps.events(this.#pod, 'Normal', 'Started', 'Started container volumecontainerdisk');
      c.current = { state: 'running', startedAt: now() };
      c.ready = true;
      const what = resolved.kind === 'builtin' ? `virtmesh's built-in ${resolved.flavor} guest` : `the disk image ${resolved.path} (${resolved.format})`;
      appendFileSync(this.logPath('volumecontainerdisk'), `containerDisk ${image}: ${what}\n`);
      this.#pushStatus();
    }
    return true;
  }

  async #startCompute(plan: VmPlan): Promise<void> {
    const c = this.#container('compute');
    if (!c || !this.#sandbox) return;
    const ns = this.#pod.metadata.namespace as string;
    try {
      this.#vm = await startVm(plan, {
        dir: join(this.dir, 'vm'),
        netns: this.#sandbox.netns,
        podIP: this.#sandbox.ip,
        dnsIP: this.#deps.dnsServiceIP,
        searchDomains: [`${ns}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
        imageCacheDir: this.#deps.imageCacheDir,
        accelerator: this.#deps.accelerator,
        serialLog: this.logPath('compute'),
        onProgress: (step) => this.#deps.log(`pod ${this.#name()}: ${step}`),
      });
    } catch (e) {
      this.#fail('compute', 'RunContainerError', (e as Error).message);
      return;
    }
    const startedAt = now();
    this.#deps.events(this.#pod, 'Normal', 'Created', 'Created container compute');
    this.#deps.events(this.#pod, 'Normal', 'Started', 'Started container compute');
    c.current = { state: 'running', startedAt };
    const spec = this.#computeSpec();
    c.ready = !spec?.readinessProbe;
    this.#pushStatus();
    this.#startProbes('compute', spec);
    void this.#vm.exited.then((code) => this.#computeExited(code, startedAt));
  }

  #startProbes(container: string, spec: ContainerSpec | undefined, containerStartedAt = Date.now(), ready?: boolean): void {
    const c = this.#container(container);
    const target = () => this.#sandbox?.ip;
    const namedPorts = Object.fromEntries((spec?.ports ?? []).filter((p) => p.name).map((p) => [p.name as string, p.containerPort]));
    if (spec?.readinessProbe && c) {
      const p = new Prober(
        'readiness',
        spec.readinessProbe,
        target,
        (ok) => {
          c.ready = ok;
          this.#pushStatus();
        },
        (r) => this.#deps.events(this.#pod, 'Warning', 'Unhealthy', `Readiness probe failed: ${r.message}`),
        namedPorts,
      );
      this.#probes.push(p);
      p.start(containerStartedAt, ready);
    }
    if (spec?.livenessProbe && container === 'compute') {
      const p = new Prober(
        'liveness',
        spec.livenessProbe,
        target,
        (ok, r) => {
          if (ok || this.#stopping) return;
          this.#deps.events(this.#pod, 'Normal', 'Killing', `Container compute failed liveness probe, will be restarted: ${r.message}`);
          void this.#vm?.stop(0);
        },
        (r) => this.#deps.events(this.#pod, 'Warning', 'Unhealthy', `Liveness probe failed: ${r.message}`),
        namedPorts,
      );
      this.#probes.push(p);
      p.start(containerStartedAt);
    }
  }

  #computeExited(code: number | null, startedAt: string): void {
    this.#computeDone = true;
    for (const p of this.#probes) p.stop();
    if (this.#stopping) return;
    // The VM is gone: its sidecar goes too (virt-launcher asks istio-proxy to quit), so the pod can finish.
    void this.#sidecar?.stop(2);
    const finishedAt = now();
    const exitCode = code ?? 137;
    // QEMU's own words travel with the failure: the container's state, and from there the VMI's condition.
    const words = exitCode === 0 ? '' : (this.#vm?.lastWords() ?? '');
    const message = words ? `QEMU exited (${code === null ? 'killed' : `code ${code}`}): ${words}` : undefined;
    if (message) this.#deps.events(this.#pod, 'Warning', 'Failed', message);
    for (const c of this.#state.containers) {
      if (c.name === SIDECAR && c.current.state !== 'running') continue; // never started, or already ended on its own
      c.ready = false;
      const ok = c.name !== 'compute' || exitCode === 0;
      c.current = {
        state: 'terminated',
        exitCode: ok ? 0 : exitCode,
        reason: ok ? 'Completed' : 'Error',
        startedAt,
        finishedAt,
        ...(c.name === 'compute' && message ? { message } : {}),
      };
    }
    this.#pushStatus();
  }

  #fail(container: string, reason: string, message: string): void {
    this.#deps.events(this.#pod, 'Warning', 'Failed', `Error: ${message}`);
    const c = this.#container(container);
    if (c) c.current = { state: 'waiting', reason, message };
    this.#pushStatus();
  }

  /** Status writes go out one at a time, in order; a pod that is gone is not an error. */
  #pushStatus(): void {
    const status = podStatus(this.#pod, this.#state);
    const m = this.#pod.metadata;
    this.#statusChain = this.#statusChain.then(async () => {
      if (this.#stopping && this.#state.containers.every((c) => c.current.state !== 'terminated')) return;
      try {
        this.#pod = await this.#deps.client.patch(
          resourcePath({ version: 'v1', plural: 'pods', namespace: m.namespace, name: m.name, subresource: 'status' }),
          { status },
        );
      } catch (e) {
        if (!isNotFound(e)) this.#deps.log(`pod ${this.#name()}: status update: ${(e as Error).message}`);
      }
    });
  }
}

/** The networks a pod's k8s.v1.cni.cncf.io/networks annotation names: `a, ns/b, c@eth1` or a JSON list. */
export function multusNetworks(annotation: string | undefined): Array<{ name: string; namespace?: string }> {
  const text = annotation?.trim();
  if (!text) return [];
  if (text.startsWith('[')) {
    try {
      return (JSON.parse(text) as Array<{ name?: string; namespace?: string }>)
        .filter((n) => typeof n.name === 'string' && n.name)
        .map((n) => ({ name: n.name as string, ...(n.namespace ? { namespace: n.namespace } : {}) }));
    } catch {
      return [];
    }
  }
  return text
    .split(',')
    .map((x) => x.trim().split('@')[0])
    .filter(Boolean)
    .map((x) => (x.includes('/') ? { namespace: x.split('/')[0], name: x.split('/')[1] } : { name: x }));
}
