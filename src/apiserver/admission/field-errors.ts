// Field errors phrased exactly as Kubernetes' apimachinery field.Error prints them,
// so `kubectl` users see the messages they already know.

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTypeInvalid';

export interface FieldError {
  type: FieldErrorType;
  /** Path in Kubernetes notation: `spec.ports[0].port`, `metadata.labels[app]`. */
  field: string;
  /** Free text after the value, e.g. "must be between 1 and 65535, inclusive". */
  detail?: string;
  badValue?: unknown;
  /** For FieldValueNotSupported: the allowed values. */
  supported?: string[];
}

const make =
  (type: FieldErrorType) =>
  (field: string, badValue?: unknown, detail?: string): FieldError => ({ type, field, badValue, detail });

export const fieldError = {
  required: (field: string, detail?: string): FieldError => ({ type: 'FieldValueRequired', field, detail }),
  invalid: make('FieldValueInvalid'),
  typeInvalid: make('FieldValueTypeInvalid'),
  duplicate: (field: string, badValue: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, badValue }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail }),
  tooLong: (field: string, badValue: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field,
    badValue,
    detail: `may not be more than ${max} bytes`,
  }),
  notSupported: (field: string, badValue: unknown, supported: string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    badValue,
    supported,
  }),
};

/** Go's %#v-ish rendering that field.Error uses: strings quoted, numbers bare. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The body of a field error without the field path, e.g. `Invalid value: 0: must be ...`. */
export function fieldErrorBody(e: FieldError): string {
  const tail = e.detail ? `: ${e.detail}` : '';
  switch (e.type) {
    case 'FieldValueRequired':
      return `Required value${tail}`;
    case 'FieldValueInvalid':
    case 'FieldValueTypeInvalid':
      return `Invalid value: ${formatValue(e.badValue)}${tail}`;
    case 'FieldValueNotSupported':
      return `Unsupported value: ${formatValue(e.badValue)}: supported values: ${(e.supported ?? []).map((s) => JSON.stringify(s)).join(', ')}`;
    case 'FieldValueDuplicate':
      return `Duplicate value: ${formatValue(e.badValue)}`;
    case 'FieldValueForbidden':
      return `Forbidden${tail}`;
    case 'FieldValueTooLong':
      return `Too long${tail}`;
  }
}

export function fieldErrorMessage(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/** Builds child paths the way Kubernetes prints them. */
export function child(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}
