// The VirtualMachineInstance controller (virt-controller's role): one launcher pod
// per VMI, the VMI's status from that pod, and deletion in KubeVirt's order: the
// VMI keeps its finalizer until the pod (and with it the VM) is gone.

import { type ApiClient, Informer, isConflict, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { guestMemoryBytes, planVm } from '../vm/index.js';
import type { RecordEvent } from './events.js';
import { LAUNCHER_OVERHEAD_MI, launcherPod } from './launcher-pod.js';
import { podProblem, sameStatus, vmiStatus } from './vmi-status.js';
import { WorkQueue } from './workqueue.js';

export const VMI_FINALIZER = 'kubevirt.io/foregroundDeleteVirtualMachine';

const vmiPath = (ns: string, name?: string, subresource?: string) =>
  resourcePath({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespace: ns, name, subresource });
const podPath = (ns: string, name?: string) => resourcePath({ version: 'v1', plural: 'pods', namespace: ns, name });

export async function startVmiController(opts: { client: ApiClient; events: RecordEvent; log: (line: string) => void }): Promise<{ stop(): void }> {
  const { client, events, log } = opts;
  const vmis = new Informer(client, '/apis/kubevirt.io/v1/virtualmachineinstances', {}, log);
  const pods = new Informer(client, '/api/v1/pods', { labelSelector: 'kubevirt.io=virt-launcher' }, log);
  /** Pods created but not yet seen by the informer, so a quick resync does not make a second one. */
  const expected = new Map<string, string>();
  const reported = new Map<string, string>();

  const podsOf = (vmi: KubeObject) => pods.list((p) => p.metadata.labels?.['kubevirt.io/created-by'] === vmi.metadata.uid);

  const sync = async (key: string) => {
    const [ns, name] = key.split('/');
    const vmi = vmis.get(ns, name);
    if (!vmi) return;
    const owned = podsOf(vmi);
    if (owned.length) expected.delete(vmi.metadata.uid as string);
    const pod = owned.find((p) => !p.metadata.deletionTimestamp) ?? owned[0];

    if (vmi.metadata.deletionTimestamp) {
      for (const p of owned) {
        if (p.metadata.deletionTimestamp) continue;
        const grace = (vmi.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
        await client.delete(podPath(ns, p.metadata.name), { gracePeriodSeconds: grace }).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
        events(vmi, 'Normal', 'SuccessfulDelete', `Deleted virtual machine pod ${p.metadata.name}`);
      }
      if (owned.length === 0 && vmi.metadata.finalizers?.includes(VMI_FINALIZER)) {
        await patchFinalizers(
          client,
          vmi,
          (vmi.metadata.finalizers ?? []).filter((f) => f !== VMI_FINALIZER),
        );
      }
      return;
    }
    if (!vmi.metadata.finalizers?.includes(VMI_FINALIZER)) {
      await patchFinalizers(client, vmi, [...(vmi.metadata.finalizers ?? []), VMI_FINALIZER]);
      return; // the update comes back through the informer
    }
    const phase = (vmi.status as { phase?: string } | undefined)?.phase;
    if (!pod && !expected.has(vmi.metadata.uid as string) && (phase === undefined || phase === 'Pending')) {
      const memMi = Math.ceil((guestMemoryBytes(vmi) ?? 0) / 2 ** 20) + LAUNCHER_OVERHEAD_MI;
      const created = await client.create(podPath(ns), launcherPod(vmi, memMi));
      expected.set(vmi.metadata.uid as string, created.metadata.name);
      events(vmi, 'Normal', 'SuccessfulCreate', `Created virtual machine pod ${created.metadata.name}`);
      return;
    }
    const status = vmiStatus(vmi, pod);
    const plan = planVm(vmi);
    if (!('reason' in plan) && status.interfaces?.[0] && !status.interfaces[0].mac) status.interfaces[0].mac = plan.mac;
    if (!sameStatus(status, vmi.status ?? {})) {
      announce(vmi, status.phase, pod);
      try {
        // A merge patch keeps map keys it does not name: pods that are gone must be removed explicitly.
        const gone = Object.keys((vmi.status as { activePods?: Record<string, string> } | undefined)?.activePods ?? {}).filter(
          (uid) => !(uid in status.activePods),
        );
        const activePods = { ...Object.fromEntries(gone.map((uid) => [uid, null])), ...status.activePods };
        await client.patch(vmiPath(ns, name, 'status'), { status: { ...status, activePods } });
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) throw e;
      }
    }
  };

  /** Events when the phase changes or a new problem shows, once each. */
  const announce = (vmi: KubeObject, phase: string, pod: KubeObject | undefined) => {
    const uid = vmi.metadata.uid as string;
    const problem = podProblem(pod);
    const key = `${phase}/${problem?.reason ?? ''}`;
    if (reported.get(uid) === key) return;
    reported.set(uid, key);
    if (problem) events(vmi, 'Warning', problem.reason === 'Unschedulable' ? 'FailedScheduling' : problem.reason, problem.message);
    const old = (vmi.status as { phase?: string } | undefined)?.phase;
    if (phase === old) return;
    if (phase === 'Running') events(vmi, 'Normal', 'Started', 'VirtualMachineInstance started.');
    if (phase === 'Succeeded') events(vmi, 'Normal', 'Stopped', 'The VirtualMachineInstance was shut down.');
    if (phase === 'Failed') events(vmi, 'Warning', 'Stopped', 'The VirtualMachineInstance crashed.');
  };

  const queue = new WorkQueue(sync, log);
  const enqueueVmi = (o: KubeObject) => queue.add(`${o.metadata.namespace}/${o.metadata.name}`);
  const enqueueOwner = (p: KubeObject) => {
    const name = p.metadata.annotations?.['kubevirt.io/domain'];
    if (name) queue.add(`${p.metadata.namespace}/${name}`);
  };
  vmis.on({
    add: enqueueVmi,
    update: enqueueVmi,
    delete: (o) => {
      expected.delete(o.metadata.uid as string);
      reported.delete(o.metadata.uid as string);
    },
  });
  pods.on({ add: enqueueOwner, update: enqueueOwner, delete: enqueueOwner });
  await Promise.all([vmis.start(), pods.start()]);
  queue.run();
  return {
    stop() {
      queue.stop();
      vmis.stop();
      pods.stop();
    },
  };
}

async function patchFinalizers(client: ApiClient, vmi: KubeObject, finalizers: string[]): Promise<void> {
  try {
    await client.patch(vmiPath(vmi.metadata.namespace as string, vmi.metadata.name), {
      metadata: { finalizers, resourceVersion: vmi.metadata.resourceVersion },
    });
  } catch (e) {
    if (!isNotFound(e) && !isConflict(e)) throw e;
  }
}
