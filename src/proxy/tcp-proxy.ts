// The TCP proxy filter: a connection goes to one endpoint of its cluster, bytes
// are counted into Istio's TCP metrics as they pass, and failures close the
// client's connection with the flag Envoy logs (UH no endpoint, UF connect
// failure, UO over the connection limit).

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatAccessLog } from './access-log.js';
import { endpointForFlow } from './cluster.js';
import { Flag, flagsString, type TcpSeries } from './metrics.js';
import type { Flow, ProxyRuntime } from './runtime.js';
import { tunnel } from './tunnel.js';

export function proxyTcp(rt: ProxyRuntime, socket: Socket, flow: Flow, clusterName: string, initial: Buffer | undefined, clientEnded: boolean): void {
  const startMs = Date.now();
  const start = performance.now();
  const inbound = flow.direction === 'INBOUND';
  const reporter = inbound ? 'destination' : 'source';
  const cluster = rt.store.clusters.get(clusterName);
  const ep = cluster ? endpointForFlow(cluster, flow, undefined, startMs) : undefined;
  const dstText = `${flow.dst.address}:${flow.dst.port}`;
  const service =
    cluster?.service ??
    (inbound
      ? rt.syntheticService(clusterName, clusterName, rt.self.namespace)
      : rt.syntheticService(clusterName === 'BlackHoleCluster' ? clusterName : dstText, clusterName, 'unknown'));
  // Plaintext TCP carries no metadata exchange: the peer is unknown, an outbound endpoint's workload comes from EDS.
  const prefix = rt.metrics.labelPrefix(reporter, 'tcp', inbound ? undefined : rt.self, inbound ? rt.self : ep?.workload, service);
  let received = 0;
  let sent = 0;
  let upstreamLocal: string | undefined;
  const log = (flags: number) => {
    if (!rt.accessLog) return;
    rt.accessLog(
      formatAccessLog({
        startMs,
        method: '-',
        path: '-',
        protocol: '-',
        code: 0,
        flags: flagsString(flags),
        details: '',
        upstreamFailure: '',
        bytesReceived: received,
        bytesSent: sent,
        durationMs: performance.now() - start,
        upstreamServiceMs: -1,
        forwardedFor: undefined,
        userAgent: undefined,
        requestId: undefined,
        authority: undefined,
        upstreamHost: ep?.key,
        upstreamCluster: clusterName,
        upstreamLocal,
        downstreamLocal: flow.downstreamLocal,
        downstreamRemote: flow.downstreamRemote,
        routeName: undefined,
      }),
    );
  };
  const refuse = (flags: number) => {
    const s = rt.metrics.tcpSeries(prefix, reporter, flags);
    s.opened++;
    s.closed++;
    log(flags);
    socket.destroy();
  };
  if (!cluster) {
    refuse(Flag.NC);
    return;
  }
  if (!ep) {
    refuse(Flag.UH);
    return;
  }
  // Until the upstream answers, the client's bytes wait in the kernel.
  socket.pause();
  let downClosed = false;
  const onEarlyClose = () => {
    downClosed = true;
  };
  socket.on('error', () => {});
  socket.once('close', onEarlyClose);
  ep.activeRequests++;
  cluster.openTcp(ep, (r) => {
    ep.activeRequests--;
    if (r === 'connect-failure') return refuse(Flag.UF);
    if (r === 'overflow') return refuse(Flag.UO);
    if (downClosed) {
      r.destroy();
      return refuse(Flag.DC);
    }
    socket.removeListener('close', onEarlyClose);
    upstreamLocal = `${r.localAddress}:${r.localPort}`;
    const series: TcpSeries = rt.metrics.tcpSeries(prefix, reporter, 0);
    series.opened++;
    tunnel(socket, r, initial, undefined, clientEnded, rt.limits.tcpIdleMs, {
      received: (n) => {
        received += n;
        series.received += n;
      },
      sent: (n) => {
        sent += n;
        series.sent += n;
      },
      closed: () => {
        series.closed++;
        log(0);
      },
    });
  });
}
