// Telemetry: the cluster's Prometheus, the discovery of what it scrapes, and the
// Kiali-class views computed from PromQL (graph, metrics, health, workloads, validations).

export type * from './api.js';
export { buildGraph, type GraphOptions, type KnownService, type KnownWorkload } from './graph.js';
export { requestRatesByWorkloadAndService, serviceHealth, workloadHealth } from './health.js';
export { MetricsQueryError, serviceMetrics, workloadMetrics } from './metrics.js';
export { type PrometheusApi, PrometheusClient, PrometheusError, parsePrometheusDuration } from './prometheus-client.js';
export {
  installPrometheus,
  prometheusBinary,
  prometheusConfig,
  prometheusPaths,
  type RunningPrometheus,
  startPrometheus,
} from './prometheus-process.js';
export { scrapeTargets, type TargetGroup } from './targets.js';
export { type MeshObjects, validateIstioObject, validateService } from './validations.js';
export { podInfo, servicesFromObjects, workloadDetails, workloadsFromPods } from './workloads.js';
