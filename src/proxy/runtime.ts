// What every connection handler shares: the running config, the metrics, the logs,
// the limits, and the proxy's own identity.

import type { Listener, ProxyNode, WorkloadMeta } from './config.js';
import type { ConfigStore } from './config-store.js';
import type { IstioMetrics, ServiceLabels } from './metrics.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';
export const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'];

export interface Logger {
  level: LogLevel;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Writes `[time][level] message` lines to `sink` for levels at or above the current one. */
export function createLogger(sink: (line: string) => void, level: LogLevel = 'info'): Logger {
  const logger: Logger = {
    level,
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warning', m),
    error: (m) => write('error', m),
  };
  const write = (l: LogLevel, m: string) => {
    if (LOG_LEVELS.indexOf(l) >= LOG_LEVELS.indexOf(logger.level)) sink(`${new Date().toISOString()}\t${l}\t${m}`);
  };
  return logger;
}

export interface Limits {
  /** Time allowed for a request head once its first byte came (Envoy's request_headers_timeout). */
  requestHeadersMs: number;
  /** Inactivity after which a connection closes, or its request is given up (Envoy's idle and stream idle timeouts). */
  idleMs: number;
  /**
   * How long protocol sniffing waits for the client's first bytes before treating the connection as TCP.
   * Longer than Envoy's 100 ms listener-filter timeout: an emulated guest can take that long between connect and send.
   */
  sniffMs: number;
  /** Inactivity after which a TCP-proxied (or upgraded) connection closes (Envoy's TCP proxy idle timeout). */
  tcpIdleMs: number;
  /** How long an upstream connection may stay idle in the pool. */
  upstreamIdleMs: number;
  /** How long a connection closed on our side waits for the client's close (Envoy's delayed_close_timeout). */
  delayedCloseMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  requestHeadersMs: 60_000,
  idleMs: 300_000,
  sniffMs: 1_000,
  tcpIdleMs: 3_600_000,
  upstreamIdleMs: 60_000,
  delayedCloseMs: 1_000,
};

export interface Address {
  address: string;
  port: number;
}

/** Where a downstream connection came in and where it was going. */
export interface Flow {
  direction: 'INBOUND' | 'OUTBOUND';
  /** The listener whose filter chain handles it. */
  listener: Listener;
  /** The original destination. */
  dst: Address;
  downstreamRemote: string;
  downstreamLocal: string;
}

export interface ListenerCounters {
  downstream_cx_total: number;
  downstream_cx_active: number;
}

export interface ProxyRuntime {
  node: ProxyNode;
  self: WorkloadMeta;
  store: ConfigStore;
  metrics: IstioMetrics;
  log: Logger;
  accessLog: ((line: string) => void) | undefined;
  limits: Limits;
  draining: boolean;
  /** Percentage of new traces marked sampled (Istio's demo profile samples all). */
  samplePercent: number;
  /** This workload's x-envoy-peer-metadata header lines. */
  peerHeaders: string;
  listenerCounters: Map<string, ListenerCounters>;
  /** destination_service labels of traffic with no service behind it (PassthroughCluster and friends). */
  syntheticService(host: string, name: string, namespace: string): ServiceLabels;
}
