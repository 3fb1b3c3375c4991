// Request health as Kiali judges it with its default tolerances: the share of 5xx
// responses (any is degraded, 10% fails) and of 4xx (10% degraded, 20% fails). The
// graph uses it per node and edge; the workload and service lists per row.

import type { Health } from './api.js';
import { type PrometheusApi, prometheusDuration } from './prometheus-client.js';

export interface RequestRates {
  /** Requests per second. */
  rate: number;
  rate4xx: number;
  /** Including responses with no code (connect failures and other flag-only outcomes). */
  rate5xx: number;
}

export interface HealthVerdict {
  health: Health;
  /** Why, e.g. "5xx 12.5% >= 10%"; absent when healthy or without traffic. */
  reason?: string;
}

/** Kiali's default tolerances (percent): degraded at or above the first, failure at or above the second; 5xx degrades when above 0. */
export const TOLERANCES = [
  { code: '5xx', degraded: 0, failure: 10 },
  { code: '4xx', degraded: 10, failure: 20 },
] as const;

const RANK: Record<Health, number> = { na: 0, healthy: 1, degraded: 2, failure: 3 };

/** The worse of two verdicts (failure > degraded > healthy > na); the first wins ties. */
export function worseHealth(a: HealthVerdict, b: HealthVerdict): HealthVerdict {
  return RANK[b.health] > RANK[a.health] ? b : a;
}

const pct = (v: number) => `${Number(v.toFixed(1))}%`;

export function healthFromRates(r: RequestRates): HealthVerdict {
  if (!(r.rate > 0)) return { health: 'na' };
  let verdict: HealthVerdict = { health: 'healthy' };
  for (const t of TOLERANCES) {
    const share = (100 * (t.code === '5xx' ? r.rate5xx : r.rate4xx)) / r.rate;
    if (!(share > 0)) continue;
    if (share >= t.failure) verdict = worseHealth(verdict, { health: 'failure', reason: `${t.code} ${pct(share)} >= ${t.failure}%` });
    else if (share > t.degraded && t.degraded === 0) verdict = worseHealth(verdict, { health: 'degraded', reason: `${t.code} ${pct(share)} > 0%` });
    else if (share >= t.degraded && t.degraded > 0) verdict = worseHealth(verdict, { health: 'degraded', reason: `${t.code} ${pct(share)} >= ${t.degraded}%` });
  }
  return verdict;
}

/** The class a response code counts in: "0" and "-" (no response, e.g. UF or UH) count as 5xx, as Kiali counts them. */
export function responseClass(code: string): '2xx' | '3xx' | '4xx' | '5xx' | 'other' {
  if (code === '0' || code === '-' || code === '') return '5xx';
  switch (code[0]) {
    case '2':
      return '2xx';
    case '3':
      return '3xx';
    case '4':
      return '4xx';
    case '5':
      return '5xx';
    default:
      return 'other';
  }
}

/** Adds a rate to the rates of its response code's class. */
export function addRate(into: RequestRates, code: string, rate: number): void {
  into.rate += rate;
  const c = responseClass(code);
  if (c === '4xx') into.rate4xx += rate;
  else if (c === '5xx') into.rate5xx += rate;
}

/** A workload or service label that names one (Istio writes "unknown" when it cannot). */
export const isKnown = (v: string | undefined): v is string => v !== undefined && v !== '' && v !== 'unknown';

export const nsRegex = (namespaces: string[]) => namespaces.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');

export interface HealthRates {
  /** Requests into each workload, by "namespace/workload" (what its sidecar saw as destination). */
  workloadsInbound: Map<string, RequestRates>;
  /** Requests out of each workload, by "namespace/workload" (what its sidecar saw as source). */
  workloadsOutbound: Map<string, RequestRates>;
  /** Requests to each service, by "namespace/service". */
  services: Map<string, RequestRates>;
}

function collect(samples: Array<{ metric: Record<string, string>; value: [number, string] }>, key: (m: Record<string, string>) => string | undefined) {
  const out = new Map<string, RequestRates>();
  for (const s of samples) {
    const k = key(s.metric);
    const v = Number(s.value[1]);
    if (k === undefined || !Number.isFinite(v)) continue;
    let r = out.get(k);
    if (!r) {
      r = { rate: 0, rate4xx: 0, rate5xx: 0 };
      out.set(k, r);
    }
    addRate(r, s.metric.response_code ?? '', v);
  }
  return out;
}

/**
 * Request rates for the health columns of the workload and service lists, over the
 * last `duration` seconds, one query each. Workload inbound is what the workload's own
 * sidecar reported as destination; outbound what it reported as source. A service's
 * requests are the destination sidecars' reports, plus the source sidecars' reports
 * where no destination sidecar reported (a service whose pods run none).
 */
export async function requestRatesByWorkloadAndService(prom: PrometheusApi, namespaces: string[], duration: number, queryTime?: number): Promise<HealthRates> {
  const ns = nsRegex(namespaces);
  const d = prometheusDuration(duration);
  const [inbound, outbound, services] = await Promise.all([
    prom.query(
      `sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace=~"${ns}"}[${d}])) by (destination_workload_namespace, destination_workload, response_code)`,
      queryTime,
    ),
    prom.query(
      `sum(rate(istio_requests_total{reporter="source",source_workload_namespace=~"${ns}"}[${d}])) by (source_workload_namespace, source_workload, response_code)`,
      queryTime,
    ),
    prom.query(
      `sum(rate(istio_requests_total{destination_service_namespace=~"${ns}"}[${d}])) by (reporter, destination_service_namespace, destination_service_name, destination_workload_namespace, destination_workload, response_code)`,
      queryTime,
    ),
  ]);
  // Pairs (service, destination workload) some destination sidecar reported: the source reports of those would count twice.
  const reportedAtDestination = new Set(
    services
      .filter((s) => s.metric.reporter === 'destination')
      .map((s) => `${s.metric.destination_service_namespace}/${s.metric.destination_service_name}/${s.metric.destination_workload}`),
  );
  return {
    workloadsInbound: collect(inbound, (m) => (isKnown(m.destination_workload) ? `${m.destination_workload_namespace}/${m.destination_workload}` : undefined)),
    workloadsOutbound: collect(outbound, (m) => (isKnown(m.source_workload) ? `${m.source_workload_namespace}/${m.source_workload}` : undefined)),
    services: collect(services, (m) => {
      if (!isKnown(m.destination_service_name)) return undefined;
      const key = `${m.destination_service_namespace}/${m.destination_service_name}`;
      if (m.reporter === 'source' && reportedAtDestination.has(`${key}/${m.destination_workload}`)) return undefined;
      return key;
    }),
  };
}

/** A workload's health: the worse of its inbound and outbound requests, as Kiali rates workloads. */
export function workloadHealth(rates: HealthRates, namespace: string, workload: string): HealthVerdict {
  const key = `${namespace}/${workload}`;
  const inbound = rates.workloadsInbound.get(key);
  const outbound = rates.workloadsOutbound.get(key);
  return worseHealth(inbound ? healthFromRates(inbound) : { health: 'na' }, outbound ? healthFromRates(outbound) : { health: 'na' });
}

export function serviceHealth(rates: HealthRates, namespace: string, service: string): HealthVerdict {
  const r = rates.services.get(`${namespace}/${service}`);
  return r ? healthFromRates(r) : { health: 'na' };
}
