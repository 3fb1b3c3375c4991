// A pod's status from what the node knows about its containers: phase,
// conditions and container statuses follow from the containers' states, never set
// one by one (the kubelet's generateAPIPodStatus in miniature).

import type { KubeObject } from '../client/index.js';

export type ContainerState =
  | { state: 'waiting'; reason: string; message?: string }
  | { state: 'running'; startedAt: string }
  | { state: 'terminated'; exitCode: number; reason: string; message?: string; startedAt?: string; finishedAt: string };

export interface ContainerRuntime {
  name: string;
  image: string;
  current: ContainerState;
  ready: boolean;
  restartCount: number;
}

export interface SandboxState {
  podIP?: string;
  hostIP: string;
  startTime: string;
  /** Run to completion, in order, before the containers start (they wait in PodInitializing until then). */
  initContainers: ContainerRuntime[];
  containers: ContainerRuntime[];
  restartPolicy: string;
}

const initialized = (s: SandboxState) => s.initContainers.every((c) => c.current.state === 'terminated' && c.current.exitCode === 0);

function phaseOf(s: SandboxState): string {
  if (s.initContainers.some((c) => c.current.state === 'terminated' && c.current.exitCode !== 0) && s.restartPolicy === 'Never') return 'Failed';
  if (!initialized(s)) return 'Pending';
  const states = s.containers.map((c) => c.current);
  if (states.length && states.every((c) => c.state === 'terminated')) {
    return states.every((c) => c.state === 'terminated' && c.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  // One container that ended for good under restartPolicy Never fails the pod once the rest are done or running.
  if (s.restartPolicy === 'Never' && states.some((c) => c.state === 'terminated' && c.exitCode !== 0) && !states.some((c) => c.state === 'waiting')) {
    return states.some((c) => c.state === 'running') ? 'Running' : 'Failed';
  }
  if (states.some((c) => c.state === 'waiting')) return 'Pending';
  return 'Running';
}

function condition(type: string, ok: boolean, now: string, previous: KubeObject | undefined, reason?: string, message?: string) {
  const prev = ((previous?.status as { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> } | undefined)?.conditions ?? []).find(
    (c) => c.type === type,
  );
  const status = ok ? 'True' : 'False';
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : now;
  return { type, status, lastTransitionTime, ...(ok ? {} : { reason, message }) };
}

export function podStatus(pod: KubeObject, s: SandboxState, now = new Date().toISOString()): Record<string, unknown> {
  const notReady = s.containers.filter((c) => !c.ready).map((c) => c.name);
  const containersReady = notReady.length === 0;
  const phase = phaseOf(s);
  const notReadyMsg = `containers with unready status: [${notReady.join(' ')}]`;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', Boolean(s.podIP) && !terminal, now, pod),
      condition(
        'Initialized',
        initialized(s),
        now,
        pod,
        'ContainersNotInitialized',
        `containers with incomplete status: [${s.initContainers
          .filter((c) => c.current.state !== 'terminated')
          .map((c) => c.name)
          .join(' ')}]`,
      ),
      condition('Ready', containersReady && !terminal, now, pod, terminal ? 'PodCompleted' : 'ContainersNotReady', terminal ? undefined : notReadyMsg),
      condition(
        'ContainersReady',
        containersReady && !terminal,
        now,
        pod,
        terminal ? 'PodCompleted' : 'ContainersNotReady',
        terminal ? undefined : notReadyMsg,
      ),
      condition('PodScheduled', true, now, pod),
    ],
    hostIP: s.hostIP,
    hostIPs: [{ ip: s.hostIP }],
    ...(s.podIP ? { podIP: s.podIP, podIPs: [{ ip: s.podIP }] } : {}),
    startTime: s.startTime,
    ...(s.initContainers.length ? { initContainerStatuses: s.initContainers.map((c) => containerStatus(pod, c)) } : {}),
    containerStatuses: s.containers.map((c) => containerStatus(pod, c)),
  };
}

function containerStatus(pod: KubeObject, c: ContainerRuntime): Record<string, unknown> {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: c.ready,
    restartCount: c.restartCount,
    started: c.current.state === 'running',
    state: stateObject(c.current),
    ...(c.current.state !== 'waiting' ? { containerID: `virtmesh://${pod.metadata.uid}/${c.name}` } : {}),
  };
}

function stateObject(c: ContainerState): Record<string, unknown> {
  if (c.state === 'waiting') return { waiting: { reason: c.reason, ...(c.message ? { message: c.message } : {}) } };
  if (c.state === 'running') return { running: { startedAt: c.startedAt } };
  return {
    terminated: { exitCode: c.exitCode, reason: c.reason, ...(c.message ? { message: c.message } : {}), startedAt: c.startedAt, finishedAt: c.finishedAt },
  };
}
