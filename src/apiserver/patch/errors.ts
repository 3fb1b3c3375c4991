export type PatchErrorStatus = 400 | 409 | 413 | 415 | 422;
export type PatchErrorReason = 'BadRequest' | 'Conflict' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | 'Invalid';

/** One entry of a kube Status' details.causes (used for server-side apply conflicts). */
export interface PatchErrorCause {
  type: string;
  message: string;
  field: string;
}

const REASONS: Record<PatchErrorStatus, PatchErrorReason> = {
  400: 'BadRequest',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
};

/** A patch failure, carrying the HTTP status and Status.reason kube-apiserver would answer with. */
export class PatchError extends Error {
  readonly status: PatchErrorStatus;
  readonly reason: PatchErrorReason;
  readonly causes?: PatchErrorCause[];

  constructor(status: PatchErrorStatus, message: string, causes?: PatchErrorCause[]) {
    super(message);
    this.name = 'PatchError';
    this.status = status;
    this.reason = REASONS[status];
    if (causes) this.causes = causes;
  }
}

export const badRequest = (message: string): PatchError => new PatchError(400, message);
export const invalid = (message: string): PatchError => new PatchError(422, message);
