// NetworkAttachmentDefinition checks, as Multus' net-attach-def-admission-controller makes
// them: spec.config, when set, must be a CNI config (or config list) that libcni accepts.
// Denials read `invalid config: error parsing configuration: <Go's JSON error>`.

import { type FieldError, fieldError } from './field-errors.js';
import type { KubeObject } from './types.js';
import { arr, isObj, obj } from './util.js';

export const NAD_WEBHOOK = 'net-attach-def-admission-controller-validating-config.k8s.cni.cncf.io';

/** How Go's encoding/json quotes a character in its syntax errors. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}

/** Go's encoding/json syntax error for `s`, or undefined when `s` is valid JSON. */
export function goJSONSyntaxError(s: string): string | undefined {
  let i = 0;
  const bad = (c: string, context: string) => `invalid character ${quoteChar(c)} ${context}`;
  const ws = () => {
    while (i < s.length && ' \t\r\n'.includes(s[i])) i++;
  };
  class Stop extends Error {}
  const fail = (msg: string): never => {
    throw new Stop(msg);
  };
  const end = () => fail('unexpected end of JSON input');
  const digits = (context: string) => {
    if (i >= s.length) end();
    if (!/[0-9]/.test(s[i])) fail(bad(s[i], context));
    while (i < s.length && /[0-9]/.test(s[i])) i++;
  };
  const number = () => {
    if (s[i] === '-') i++;
    if (i >= s.length) end();
    if (s[i] === '0') i++;
    else digits('in numeric literal');
    if (s[i] === '.') {
      i++;
      digits('after decimal point in numeric literal');
    }
    if (s[i] === 'e' || s[i] === 'E') {
      i++;
      if (s[i] === '+' || s[i] === '-') i++;
      digits('in exponent of numeric literal');
    }
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= s.length) end();
      const c = s[i++];
      if (c === '"') return;
      if (c === '\\') {
        if (i >= s.length) end();
        const e = s[i++];
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            if (i >= s.length) end();
            if (!/[0-9a-fA-F]/.test(s[i])) fail(bad(s[i], 'in \\u hexadecimal character escape'));
            i++;
          }
        } else if (!'"\\/bfnrt'.includes(e)) fail(bad(e, 'in string escape code'));
      } else if (c < ' ') fail(bad(c, 'in string literal'));
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= s.length) end();
      if (s[i] !== word[k]) fail(bad(s[i], `in literal ${word} (expecting ${quoteChar(word[k])})`));
    }
  };
  const value = (): void => {
    ws();
    if (i >= s.length) end();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (i >= s.length) end();
        if (s[i] !== '"') fail(bad(s[i], 'looking for beginning of object key string'));
        string();
        ws();
        if (i >= s.length) end();
        if (s[i] !== ':') fail(bad(s[i], 'after object key'));
        i++;
        value();
        ws();
        if (i >= s.length) end();
        if (s[i] === '}') {
          i++;
          return;
        }
        if (s[i] !== ',') fail(bad(s[i], 'after object key:value pair'));
        i++;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (i >= s.length) end();
        if (s[i] === ']') {
          i++;
          return;
        }
        if (s[i] !== ',') fail(bad(s[i], 'after array element'));
        i++;
      }
    }
    if (c === '"') string();
    else if (c === '-' || (c >= '0' && c <= '9')) number();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else fail(bad(c, 'looking for beginning of value'));
  };
  try {
    value();
    ws();
    if (i < s.length) fail(bad(s[i], 'after top-level value'));
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return e.message;
    throw e;
  }
}

const goKind = (v: unknown) =>
  Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'bool' : typeof v === 'string' ? 'string' : 'object';

/** libcni's ConfListFromBytes, then ConfFromBytes: the error the webhook reports, if any. */
export function cniConfigError(config: string): string | undefined {
  const syntax = goJSONSyntaxError(config);
  if (syntax) return `error parsing configuration: ${syntax}`;
  const conf: unknown = JSON.parse(config);
  if (conf !== null && !isObj(conf)) {
    return `error parsing configuration: json: cannot unmarshal ${goKind(conf)} into Go value of type types.NetConf`;
  }
  const c = obj(conf);
  const plugins = arr(c.plugins);
  const validList = plugins.length > 0 && plugins.every((p) => isObj(p) && typeof p.type === 'string' && p.type !== '');
  if (validList) return undefined;
  if (c.type !== undefined && c.type !== null && typeof c.type !== 'string') {
    return `error parsing configuration: json: cannot unmarshal ${goKind(c.type)} into Go struct field NetConf.type of type string`;
  }
  if (!c.type) return "error parsing configuration: missing 'type'";
  return undefined;
}

const shorten = (s: string) => (s.length > 64 ? `${s.slice(0, 61)}...` : s);

export function validateNetworkAttachmentDefinition(nad: KubeObject): FieldError[] {
  const config = obj(nad.spec).config;
  if (typeof config !== 'string' || config === '') return [];
  const err = cniConfigError(config);
  return err ? [fieldError.invalid('spec.config', shorten(config), `invalid config: ${err}`)] : [];
}
