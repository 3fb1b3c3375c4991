// A VMI's status follows from its launcher pod (KubeVirt splits this between
// virt-controller and virt-handler; here the pod carries everything the node knows):
//   no pod                      -> Pending
//   pod not yet running the VM  -> Scheduling (PodScheduled copied when it fails)
//   pod running, VM not started -> Scheduled
//   compute container running   -> Running (Ready follows the pod's Ready)
//   compute ended, exit 0       -> Succeeded; otherwise Failed

import type { KubeObject } from '../client/index.js';
import { canonicalJson } from '../util/canonical-json.js';

type Any = Record<string, any>;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export type VmiPhase = 'Pending' | 'Scheduling' | 'Scheduled' | 'Running' | 'Succeeded' | 'Failed';

export function vmiPhase(pod: KubeObject | undefined, previous: VmiPhase | undefined): VmiPhase {
  if (previous === 'Succeeded' || previous === 'Failed') return previous; // final, as in KubeVirt
  // A VMI whose pod went away after it was made does not get a new one: it has failed, as in KubeVirt.
  if (!pod) return previous && previous !== 'Pending' ? 'Failed' : 'Pending';
  const status = (pod.status ?? {}) as Any;
  const compute = (status.containerStatuses ?? []).find((c: Any) => c.name === 'compute');
  if (compute?.state?.terminated) return compute.state.terminated.exitCode === 0 ? 'Succeeded' : 'Failed';
  if (status.phase === 'Failed') return 'Failed';
  if (status.phase === 'Succeeded') return 'Succeeded';
  if (compute?.state?.running) return 'Running';
  if (status.phase === 'Running') return 'Scheduled';
  return 'Scheduling';
}

function condition(type: string, ok: boolean, reason: string | undefined, message: string | undefined, previous: Any[]): Any {
  const status = ok ? 'True' : 'False';
  const prev = previous.find((c) => c.type === type);
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : now();
  return { type, status, lastTransitionTime, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

/** Why the VM does not run, from the pod: a waiting reason other than plain creation, a VM that died, or an unschedulable pod. */
export function podProblem(pod: KubeObject | undefined): { reason: string; message: string } | undefined {
  if (!pod) return undefined;
  const status = (pod.status ?? {}) as Any;
  const scheduled = (status.conditions ?? []).find((c: Any) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { reason: scheduled.reason ?? 'Unschedulable', message: scheduled.message ?? '' };
  for (const c of status.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && !['ContainerCreating', 'PodInitializing'].includes(w.reason)) return { reason: w.reason, message: w.message ?? w.reason };
    // A VM that died says why (QEMU's own words) on its compute container.
    const t = c.state?.terminated;
    if (c.name === 'compute' && t?.exitCode !== 0 && t?.message) return { reason: t.reason ?? 'Error', message: t.message };
  }
  return undefined;
}

export function vmiStatus(vmi: KubeObject, pod: KubeObject | undefined): Any {
  const old = (vmi.status ?? {}) as Any;
  const phase = vmiPhase(pod, old.phase);
  const prevConds: Any[] = old.conditions ?? [];
  const podStatus = (pod?.status ?? {}) as Any;
  const podReady = (podStatus.conditions ?? []).find((c: Any) => c.type === 'Ready');
  const conditions: Any[] = [];
  const problem = podProblem(pod);
  if (problem?.reason === 'Unschedulable') conditions.push(condition('PodScheduled', false, problem.reason, problem.message, prevConds));
  if (phase === 'Running' || phase === 'Scheduled') {
    const ready = podReady?.status === 'True';
    conditions.push(condition('Ready', ready, ready ? undefined : (podReady?.reason ?? 'PodNotReady'), ready ? undefined : podReady?.message, prevConds));
    conditions.push(condition('LiveMigratable', true, undefined, undefined, prevConds));
  } else {
    const reason = phase === 'Pending' || phase === 'Scheduling' ? 'PodNotExists' : 'PodTerminating';
    if (!problem)
      conditions.push(condition('Ready', false, pod ? 'GuestNotRunning' : reason, pod ? 'Guest VM is not reported as running' : undefined, prevConds));
  }
  if (problem && problem.reason !== 'Unschedulable') {
    conditions.push(condition('Ready', false, 'GuestNotRunning', 'Guest VM is not reported as running', prevConds));
    conditions.push(condition('Synchronized', false, problem.reason, problem.message, prevConds));
  }
  const transitions: Any[] = [...(old.phaseTransitionTimestamps ?? [])];
  if (transitions.at(-1)?.phase !== phase) transitions.push({ phase, phaseTransitionTimestamp: now() });
  const podIP: string | undefined = podStatus.podIP;
  const running = phase === 'Running' || phase === 'Scheduled';
  const iface = ((vmi.spec as Any)?.domain?.devices?.interfaces ?? [])[0];
  return {
    ...old,
    phase,
    conditions,
    phaseTransitionTimestamps: transitions,
    ...(pod?.spec && (pod.spec as Any).nodeName ? { nodeName: (pod.spec as Any).nodeName } : {}),
    activePods: pod ? { [pod.metadata.uid as string]: (pod.spec as Any)?.nodeName ?? '' } : {},
    qosClass: podStatus.qosClass ?? old.qosClass,
    guestOSInfo: old.guestOSInfo ?? {},
    interfaces:
      running && podIP && iface
        ? [
            {
              name: iface.name,
              interfaceName: 'eth0',
              ipAddress: podIP,
              ipAddresses: [podIP],
              mac: iface.macAddress,
              infoSource: 'domain, guest-agent',
              queueCount: 1,
            },
          ]
        : (old.interfaces ?? []),
    launcherContainerImageVersion: 'quay.io/kubevirt/virt-launcher:v1.4.0',
    migrationMethod: 'BlockMigration',
    migrationTransport: 'Unix',
  };
}

/** Equal as the server would store them: key order and null members (a merge patch drops them) do not count. */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
