// Readiness and liveness probes as the kubelet runs them: httpGet and tcpSocket
// against the pod IP, after initialDelaySeconds, every periodSeconds, each try
// bounded by timeoutSeconds; successThreshold/failureThreshold consecutive results
// flip the state.

import { type ProbeResult, type ProbeSpec, probeOnce } from '../util/probe.js';

export { type ProbeResult, type ProbeSpec, probeOnce };

/**
 * Runs a probe on its schedule and reports each change of state. Readiness starts
 * false and liveness true, as the kubelet does.
 */
export class Prober {
  readonly #spec: ProbeSpec;
  readonly #target: () => string | undefined;
  readonly #namedPorts: Record<string, number>;
  readonly #onChange: (healthy: boolean, result: ProbeResult) => void;
  readonly #onFailure: (result: ProbeResult) => void;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #healthy: boolean;
  #successes = 0;
  #failures = 0;

  constructor(
    kind: 'readiness' | 'liveness',
    spec: ProbeSpec,
    target: () => string | undefined,
    onChange: (healthy: boolean, result: ProbeResult) => void,
    onFailure: (result: ProbeResult) => void = () => {},
    namedPorts: Record<string, number> = {},
  ) {
    this.#namedPorts = namedPorts;
    this.#spec = spec;
    this.#target = target;
    this.#onChange = onChange;
    this.#onFailure = onFailure;
    this.#healthy = kind === 'liveness';
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /**
   * Probes from initialDelaySeconds after the container started. A node agent taking over a
   * running VM starts late, and from the health the container last had, so that failures can
   * still take a ready container out of service.
   */
  start(containerStartedAt = Date.now(), healthy?: boolean): void {
    if (healthy !== undefined) this.#healthy = healthy;
    this.#schedule(Math.max(0, (this.#spec.initialDelaySeconds ?? 0) * 1000 - (Date.now() - containerStartedAt)));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    const ip = this.#target();
    const result = ip ? await probeOnce(this.#spec, ip, this.#namedPorts) : { ok: false, message: 'pod has no IP yet' };
    if (this.#stopped) return;
    if (result.ok) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#healthy && this.#successes >= (this.#spec.successThreshold ?? 1)) {
        this.#healthy = true;
        this.#onChange(true, result);
      }
    } else {
      this.#successes = 0;
      this.#failures++;
      this.#onFailure(result);
      if (this.#healthy && this.#failures >= (this.#spec.failureThreshold ?? 3)) {
        this.#healthy = false;
        this.#onChange(false, result);
      }
    }
    this.#schedule((this.#spec.periodSeconds ?? 10) * 1000);
  }
}
