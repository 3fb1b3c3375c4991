// Prometheus's HTTP service discovery over the API server's pods: every running pod
// that asks to be scraped with the `prometheus.io/*` annotations (the sidecar
// injector sets them: port 15020, path /stats/prometheus) is a target, labelled
// as Istio's addon Prometheus labels its pods (namespace, pod, the pod's labels).

import type { KubeObject } from '../client/index.js';

/** One group of Prometheus's http_sd format. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** A label name Prometheus accepts: [a-zA-Z_][a-zA-Z0-9_]*, as its labelmap makes of `app.kubernetes.io/name`. */
const labelName = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

export function scrapeTargets(pods: KubeObject[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const pod of pods) {
    const annotations = pod.metadata.annotations ?? {};
    const status = pod.status as { phase?: string; podIP?: string } | undefined;
    if (annotations['prometheus.io/scrape'] !== 'true' || status?.phase !== 'Running' || !status.podIP) continue;
    if (pod.metadata.deletionTimestamp) continue;
    const port = Number(annotations['prometheus.io/port'] || 80);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) labels[labelName(k)] = v;
    Object.assign(labels, {
      namespace: pod.metadata.namespace ?? 'default',
      pod: pod.metadata.name,
      __metrics_path__: annotations['prometheus.io/path'] || '/metrics',
    });
    groups.push({ targets: [`${status.podIP}:${port}`], labels });
  }
  return groups.sort((a, b) => (a.targets[0] < b.targets[0] ? -1 : 1));
}
