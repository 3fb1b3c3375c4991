import type { FieldError } from './field-errors.js';

/** A stored Kubernetes object, as plain JSON (defined by the store, the lowest layer). */
export type { KubeObject } from '../../store/index.js';

import type { KubeObject } from '../../store/index.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** What admission checks may look at besides the object itself. */
export interface AdmissionContext {
  operation: Operation;
  /** The stored object, on UPDATE. */
  oldObject?: KubeObject;
  /** Reads another object from the store (e.g. the Namespace, to see its labels). */
  get(group: string, resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
}

/**
 * One semantic check set for a kind, in the role of a validating webhook.
 * `webhook` names the real webhook whose checks these are; when set, the API server
 * reports failures as that webhook's denial, as a real cluster would.
 */
export interface SemanticValidator {
  webhook?: string;
  validate(obj: KubeObject, ctx: AdmissionContext): FieldError[];
}
