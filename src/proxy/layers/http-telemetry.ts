// What a finished HTTP request leaves behind: Istio's standard metrics from the
// reporter's side (source outbound, destination inbound) and an access log line.

import { formatAccessLog } from '../access-log.js';
import type { ClusterRuntime, EndpointState } from '../cluster.js';
import type { WorkloadMeta } from '../config.js';
import type { HttpHead } from '../http-head.js';
import { flagsString, type ServiceLabels } from '../metrics.js';
import type { Flow, ProxyRuntime } from '../runtime.js';

export interface HttpOutcome {
  flow: Flow;
  req: HttpHead;
  authority: string;
  /** 0 when no response was sent. */
  status: number;
  flags: number;
  details: string;
  upstreamFailure: string;
  bodyBytes: number;
  responseBytes: number;
  startMs: number;
  durationMs: number;
  /** -1 without an upstream response. */
  serviceMs: number;
  /** The other side's workload from metadata exchange (the source inbound, the destination outbound). */
  peer: WorkloadMeta | undefined;
  cluster: ClusterRuntime | undefined;
  endpoint: EndpointState | undefined;
  requestId: string | undefined;
  upstreamLocal: string | undefined;
  routeName: string | undefined;
}

/** destination_service*: the cluster's service, else what Istio reports for traffic with no service behind it. */
function serviceLabels(rt: ProxyRuntime, o: HttpOutcome, inbound: boolean): ServiceLabels {
  const c = o.cluster;
  if (c?.service) return c.service;
  const name = c?.name ?? 'unknown';
  if (inbound) return rt.syntheticService(o.authority, name, rt.self.namespace);
  // PassthroughCluster: the Host header names the destination.
  return rt.syntheticService(name === 'BlackHoleCluster' ? name : o.authority, name, 'unknown');
}

export function recordHttp(rt: ProxyRuntime, o: HttpOutcome): void {
  const inbound = o.flow.direction === 'INBOUND';
  const source = inbound ? o.peer : rt.self;
  // Without the peer's answer (no response, a non-mesh upstream), EDS names the endpoint's workload.
  const destination = inbound ? rt.self : (o.peer ?? o.endpoint?.workload);
  const reporter = inbound ? 'destination' : 'source';
  const prefix = rt.metrics.labelPrefix(reporter, 'http', source, destination, serviceLabels(rt, o, inbound));
  rt.metrics.recordRequest(prefix, reporter, o.status, o.flags, o.durationMs, o.req.bytes + o.bodyBytes, o.responseBytes);
  if (!rt.accessLog) return;
  rt.accessLog(
    formatAccessLog({
      startMs: o.startMs,
      method: o.req.method,
      path: o.req.target,
      protocol: o.req.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      code: o.status,
      flags: flagsString(o.flags),
      details: o.details || (o.status ? 'via_upstream' : ''),
      upstreamFailure: o.upstreamFailure,
      bytesReceived: o.bodyBytes,
      bytesSent: o.responseBytes,
      durationMs: o.durationMs,
      upstreamServiceMs: o.serviceMs,
      forwardedFor: o.req.get('x-forwarded-for'),
      userAgent: o.req.get('user-agent'),
      requestId: o.requestId,
      authority: o.authority,
      upstreamHost: o.endpoint?.key,
      upstreamCluster: o.cluster?.name,
      upstreamLocal: o.upstreamLocal,
      downstreamLocal: o.flow.downstreamLocal,
      downstreamRemote: o.flow.downstreamRemote,
      routeName: o.routeName,
    }),
  );
}
