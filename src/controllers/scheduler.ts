// The scheduler: binds each new pod to a node whose labels match its nodeSelector
// and whose allocatable memory and CPU still hold the pod's requests, or marks it
// Unschedulable with kube-scheduler's message.

import { parseQuantity } from '../apiserver/index.js';
import { type ApiClient, Informer, isConflict, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import type { RecordEvent } from './events.js';
import { WorkQueue } from './workqueue.js';

type Any = Record<string, any>;

function requests(pod: KubeObject): { memory: number; cpu: number } {
  let memory = 0;
  let cpu = 0;
  for (const c of ((pod.spec as Any)?.containers ?? []) as Any[]) {
    const r = c.resources?.requests ?? {};
    if (r.memory) memory += parseQuantity(String(r.memory));
    if (r.cpu) cpu += parseQuantity(String(r.cpu));
  }
  return { memory, cpu };
}

const isTerminal = (p: KubeObject) => ['Succeeded', 'Failed'].includes((p.status as Any)?.phase);

/** Why `pod` does not fit `node`, in kube-scheduler's words, or undefined when it fits. */
export function unfit(pod: KubeObject, node: KubeObject, podsOnNode: KubeObject[]): string | undefined {
  const selector: Record<string, string> = (pod.spec as Any)?.nodeSelector ?? {};
  const labels = node.metadata.labels ?? {};
  if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) return "node(s) didn't match Pod's node affinity/selector";
  const allocatable = (node.status as Any)?.allocatable ?? {};
  const want = requests(pod);
  const used = podsOnNode
    .filter((p) => !isTerminal(p))
    .reduce((sum, p) => ({ memory: sum.memory + requests(p).memory, cpu: sum.cpu + requests(p).cpu }), { memory: 0, cpu: 0 });
  if (allocatable.memory && used.memory + want.memory > parseQuantity(String(allocatable.memory))) return 'Insufficient memory';
  if (allocatable.cpu && used.cpu + want.cpu > parseQuantity(String(allocatable.cpu))) return 'Insufficient cpu';
  return undefined;
}

export async function startScheduler(opts: { client: ApiClient; events: RecordEvent; log: (line: string) => void }): Promise<{ stop(): void }> {
  const { client, events, log } = opts;
  const pods = new Informer(client, '/api/v1/pods', {}, log);
  const nodes = new Informer(client, '/api/v1/nodes', {}, log);
  const lastReason = new Map<string, string>();
  /** Pods bound here but not yet seen bound in the cache: counted, so two quick decisions do not overcommit. */
  const assumed = new Map<string, { node: string; pod: KubeObject }>();
  /** One decision at a time: each sees the bindings of the ones before it. */
  let decisions: Promise<void> = Promise.resolve();

  const schedule = (key: string) => {
    const next = decisions.then(() => decide(key));
    decisions = next.catch(() => {});
    return next;
  };

  const decide = async (key: string) => {
    const [ns, name] = key.split('/');
    const pod = pods.get(ns, name);
    if (!pod || (pod.spec as Any)?.nodeName || pod.metadata.deletionTimestamp) return;
    const scheduler = (pod.spec as Any)?.schedulerName ?? 'default-scheduler';
    if (scheduler !== 'default-scheduler') return;
    const candidates = nodes.list((n) => ((n.status as Any)?.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True'));
    const reasons = new Map<string, number>();
    for (const node of candidates) {
      const bound = pods.list((p) => (p.spec as Any)?.nodeName === node.metadata.name);
      // Bindings made but not yet back through the watch count too.
      const waiting = [...assumed.values()]
        .filter((a) => a.node === node.metadata.name && !bound.some((p) => p.metadata.uid === a.pod.metadata.uid))
        .map((a) => a.pod);
      const why = unfit(pod, node, [...bound, ...waiting]);
      if (!why) {
        try {
          await client.create(`${resourcePath({ version: 'v1', plural: 'pods', namespace: ns, name })}/binding`, {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name, namespace: ns, uid: pod.metadata.uid },
            target: { apiVersion: 'v1', kind: 'Node', name: node.metadata.name },
          });
        } catch (e) {
          if (isNotFound(e) || isConflict(e)) return; // gone, or bound meanwhile
          throw e;
        }
        // Until the watch shows the pod bound; a pod that is gone no longer counts.
        if (pods.get(ns, name)?.metadata.uid === pod.metadata.uid && !(pods.get(ns, name)?.spec as Any)?.nodeName) {
          assumed.set(pod.metadata.uid as string, { node: node.metadata.name, pod });
        }
        lastReason.delete(pod.metadata.uid as string);
        events(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node.metadata.name}`);
        return;
      }
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const total = nodes.list().length;
    const detail = [...reasons].map(([why, n]) => `${n} ${why}`).join(', ');
    const notReady = total - candidates.length;
    const parts = [detail, notReady ? `${notReady} node(s) had untolerated taint {node.kubernetes.io/not-ready: }` : ''].filter(Boolean).join(', ');
    const message = `0/${total} nodes are available${parts ? `: ${parts}` : ''}. preemption: 0/${total} nodes are available: ${total} ${reasons.size ? 'No preemption victims found for incoming pod' : 'Preemption is not helpful for scheduling'}.`;
    if (lastReason.get(pod.metadata.uid as string) === message) return;
    lastReason.set(pod.metadata.uid as string, message);
    events(pod, 'Warning', 'FailedScheduling', message);
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const condition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: at };
    await client
      .patch(`${resourcePath({ version: 'v1', plural: 'pods', namespace: ns, name })}/status`, { status: { phase: 'Pending', conditions: [condition] } })
      .catch((e) => {
        if (!isNotFound(e)) throw e;
      });
  };

  const queue = new WorkQueue(schedule, log);
  const enqueue = (p: KubeObject) => queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
  // A pod going away or a node changing may make room for the pods that wait.
  const retryPending = () => {
    for (const p of pods.list((x) => !(x.spec as Any)?.nodeName)) enqueue(p);
  };
  const forget = (p: KubeObject) => {
    if ((p.spec as Any)?.nodeName) assumed.delete(p.metadata.uid as string);
  };
  pods.on({
    add: (p) => {
      forget(p);
      enqueue(p);
    },
    update: (p) => {
      forget(p);
      enqueue(p);
    },
    delete: (p) => {
      assumed.delete(p.metadata.uid as string);
      lastReason.delete(p.metadata.uid as string);
      retryPending();
    },
  });
  nodes.on({ add: retryPending, update: retryPending });
  await Promise.all([nodes.start(), pods.start()]);
  queue.run();
  retryPending();
  return {
    stop() {
      queue.stop();
      pods.stop();
      nodes.stop();
    },
  };
}
