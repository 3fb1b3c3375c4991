// Kubernetes Status objects: the one shape every API error takes on the wire,
// with the reasons and messages kube-apiserver uses, so kubectl prints its usual lines.

import { type FieldError, fieldErrorBody, fieldErrorMessage } from './admission/field-errors.js';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** What errors say about the object: `pods`, or `virtualmachineinstances.kubevirt.io`, and the kind. */
export interface Target {
  group: string;
  resource: string;
  kind: string;
  name?: string;
}
const qualified = (t: Target) => (t.group ? `${t.resource}.${t.group}` : t.resource);
const details = (t: Target, extra: Partial<StatusDetails> = {}): StatusDetails => ({
  name: t.name,
  group: t.group || undefined,
  kind: t.resource,
  ...extra,
});

export const status = {
  notFound: (t: Target) => new StatusError(404, 'NotFound', `${qualified(t)} "${t.name}" not found`, details(t)),
  alreadyExists: (t: Target) => new StatusError(409, 'AlreadyExists', `${qualified(t)} "${t.name}" already exists`, details(t)),
  conflict: (t: Target, why: string) => new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${t.name}": ${why}`, details(t)),
  badRequest: (message: string) => new StatusError(400, 'BadRequest', message),
  /** 422 with field causes, phrased `Kind "name" is invalid: field: Invalid value: ...`. */
  invalid: (t: Target, errors: FieldError[]) => {
    const msgs = errors.map(fieldErrorMessage);
    const summary = msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
    return new StatusError(422, 'Invalid', `${t.kind} "${t.name ?? ''}" is invalid: ${summary}`, {
      name: t.name,
      group: t.group || undefined,
      kind: t.kind,
      causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
    });
  },
  /**
   * A validating webhook's denial, as kube-apiserver relays it. KubeVirt's webhooks answer
   * 422 Invalid with field causes (kubectl prints "The request is invalid: ..."); Istio's
   * answer with a message only, which kube-apiserver turns into a 403 without a reason.
   */
  denied: (webhook: string, message: string, errors: FieldError[] = [], withCauses = true) =>
    withCauses
      ? new StatusError(422, 'Invalid', `admission webhook "${webhook}" denied the request: ${message}`, {
          causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
        })
      : new StatusError(403, '', `admission webhook "${webhook}" denied the request: ${message}`),
  forbidden: (message: string, t?: Target) => new StatusError(403, 'Forbidden', message, t ? details(t) : undefined),
  unauthorized: () => new StatusError(401, 'Unauthorized', 'Unauthorized'),
  gone: (message: string) => new StatusError(410, 'Expired', message),
  methodNotAllowed: (message: string) => new StatusError(405, 'MethodNotAllowed', message),
  unsupportedMediaType: (message: string) => new StatusError(415, 'UnsupportedMediaType', message),
  notAcceptable: (message: string) => new StatusError(406, 'NotAcceptable', message),
  tooLarge: (message: string) => new StatusError(413, 'RequestEntityTooLarge', message),
  internal: (message: string) => new StatusError(500, 'InternalError', `Internal error occurred: ${message}`),
  /** The plain 404 for a path the server does not serve. */
  pageNotFound: () => new StatusError(404, 'NotFound', 'the server could not find the requested resource'),
};

export function successStatus(t: Target, uid?: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...details(t), uid } };
}
