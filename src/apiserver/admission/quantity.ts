// Kubernetes resource quantities ("128Mi", "1.5G", "1e3", "500m"), parsed the way
// k8s.io/apimachinery/pkg/api/resource.ParseQuantity reads them, with its error messages.

export const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix";
export const QUANTITY_NUMERIC_ERROR = 'unable to parse numeric part of quantity';

export class QuantityError extends Error {}

const binary: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimal: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const isDigit = (c: string) => c >= '0' && c <= '9';

/** Splits a quantity into its numeric part and its suffix, as resource.parseQuantityString does. */
function split(s: string): { value: string; suffix: string } {
  let pos = 0;
  if (s[0] === '+' || s[0] === '-') pos = 1;
  while (pos < s.length && isDigit(s[pos])) pos++;
  if (pos < s.length && s[pos] === '.') {
    pos++;
    while (pos < s.length && isDigit(s[pos])) pos++;
  }
  const value = s.slice(0, pos);
  const suffixStart = pos;
  while (pos < s.length && 'eEinumkKMGTP'.includes(s[pos])) pos++;
  if (pos < s.length && (s[pos] === '-' || s[pos] === '+')) pos++;
  while (pos < s.length && isDigit(s[pos])) pos++;
  if (pos < s.length) throw new QuantityError(QUANTITY_FORMAT_ERROR);
  return { value, suffix: s.slice(suffixStart) };
}

/** 2^10 per binary step, 10^n per decimal suffix, or an `e`/`E` exponent. */
function multiplier(suffix: string): number {
  if (suffix in binary) return 2 ** binary[suffix];
  if (suffix in decimal) return 10 ** decimal[suffix];
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[-+]?\d+$/.test(suffix.slice(1))) {
    return 10 ** Number.parseInt(suffix.slice(1), 10);
  }
  throw new QuantityError(QUANTITY_SUFFIX_ERROR);
}

/**
 * The value of a quantity in base units (bytes for memory): "1Gi" -> 1073741824,
 * "1G" -> 1e9, "1.5Ki" -> 1536, "1e3" -> 1000, "500m" -> 0.5, "-1G" -> -1e9.
 * Numbers are taken as they are. Throws QuantityError with kube's message otherwise.
 */
export function parseQuantity(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s)) throw new QuantityError(QUANTITY_FORMAT_ERROR);
    return s;
  }
  if (typeof s !== 'string' || s.length === 0) throw new QuantityError(QUANTITY_FORMAT_ERROR);
  const { value, suffix } = split(s);
  const digits = value.replace(/^[+-]/, '');
  if (!/\d/.test(digits)) throw new QuantityError(digits.length === 0 ? QUANTITY_FORMAT_ERROR : QUANTITY_NUMERIC_ERROR);
  const n = Number(digits) * multiplier(suffix);
  if (!Number.isFinite(n)) throw new QuantityError(QUANTITY_NUMERIC_ERROR);
  return value.startsWith('-') ? -n : n;
}

/** parseQuantity that reports the error instead of throwing. */
export function tryParseQuantity(s: unknown): { value: number } | { error: string } {
  try {
    if (typeof s !== 'string' && typeof s !== 'number') return { error: QUANTITY_FORMAT_ERROR };
    return { value: parseQuantity(s) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
