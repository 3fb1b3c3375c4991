// pilot-agent's application probes: an injected pod's HTTP and TCP probes are
// rewritten to /app-health/<container>/<readyz|livez|startupz> on port 15020, and
// the agent runs the original probe against the workload (ISTIO_KUBE_APP_PROBERS).
// For a VM that means the pod's loopback, where QEMU forwards the guest's ports.

import { probeOnce } from '../util/probe.js';

export interface AppProbe {
  httpGet?: {
    path?: string;
    port: number | string;
    host?: string;
    scheme?: string;
    httpHeaders?: Array<{ name: string; value: string }>;
  };
  tcpSocket?: { port: number | string; host?: string };
  timeoutSeconds?: number;
}

/** Path (e.g. /app-health/compute/readyz) -> the probe it stands for. */
export type AppProbers = Record<string, AppProbe>;

export function parseAppProbers(json: string | undefined): AppProbers {
  if (!json) return {};
  const v = JSON.parse(json) as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('ISTIO_KUBE_APP_PROBERS is not a JSON object');
  return v as AppProbers;
}

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

/** Runs one probe against the workload, through the pod's loopback. Never throws: a broken probe is a failed probe. */
export function runAppProbe(probe: AppProbe, userAgent = 'kube-probe/1.32'): Promise<ProbeOutcome> {
  return probeOnce(probe, '127.0.0.1', {}, userAgent);
}
