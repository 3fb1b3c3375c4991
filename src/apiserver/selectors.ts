// Label and field selectors with kube-apiserver's syntax and error messages.

import type { KubeObject } from './admission/types.js';

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' }
  | { key: string; op: '=' | '!='; values: [string] };

export class SelectorError extends Error {}

export type Matcher = (fields: Record<string, string | undefined>) => boolean;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

function parseLabelTerm(term: string): Requirement {
  let m = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term);
  if (m) return { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) };
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { key: m[1], op: m[2] === '!=' ? '!=' : '=', values: [m[3]] };
  m = /^!\s*(\S+)$/.exec(term);
  if (m) return { key: m[1], op: '!' };
  if (/^[A-Za-z0-9][-A-Za-z0-9_./]*$/.test(term)) return { key: term, op: 'exists' };
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
}

const operators: Record<Requirement['op'], (v: string | undefined, values: string[]) => boolean> = {
  exists: (v) => v !== undefined,
  '!': (v) => v === undefined,
  '=': (v, values) => v === values[0],
  '!=': (v, values) => v !== values[0],
  in: (v, values) => v !== undefined && values.includes(v),
  notin: (v, values) => v === undefined || !values.includes(v),
};

function matches(reqs: Requirement[], fields: Record<string, string | undefined>): boolean {
  return reqs.every((r) => operators[r.op](fields[r.key], 'values' in r ? r.values : []));
}

export function parseLabelSelector(s: string | null | undefined): Matcher {
  if (!s) return () => true;
  const reqs = splitTerms(s).map(parseLabelTerm);
  return (labels) => matches(reqs, labels);
}

/** Field selectors: only `=`, `==` and `!=` on the fields the kind supports. */
export function parseFieldSelector(s: string | null | undefined, supported: string[]): Matcher {
  if (!s) return () => true;
  const reqs = splitTerms(s).map((term) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid selector: '${s}'; can't understand '${term}'`);
    if (!supported.includes(m[1])) throw new SelectorError(`field label not supported: ${m[1]}`);
    return { key: m[1], op: m[2] === '!=' ? '!=' : '=', values: [m[3]] } as Requirement;
  });
  return (fields) => matches(reqs, fields);
}

type Any = any;
const extra: Record<string, (o: Any) => Record<string, string | undefined>> = {
  Pod: (o) => ({
    'spec.nodeName': o.spec?.nodeName ?? '',
    'spec.restartPolicy': o.spec?.restartPolicy,
    'spec.schedulerName': o.spec?.schedulerName,
    'spec.serviceAccountName': o.spec?.serviceAccountName,
    'status.phase': o.status?.phase ?? '',
    'status.podIP': o.status?.podIP ?? '',
    'status.nominatedNodeName': o.status?.nominatedNodeName ?? '',
  }),
  Event: (o) => ({
    'involvedObject.kind': o.involvedObject?.kind ?? '',
    'involvedObject.namespace': o.involvedObject?.namespace ?? '',
    'involvedObject.name': o.involvedObject?.name ?? '',
    'involvedObject.uid': o.involvedObject?.uid ?? '',
    'involvedObject.apiVersion': o.involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': o.involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': o.involvedObject?.fieldPath ?? '',
    reason: o.reason ?? '',
    reportingComponent: o.reportingComponent ?? '',
    source: o.source?.component ?? '',
    type: o.type ?? '',
  }),
  Namespace: (o) => ({ 'status.phase': o.status?.phase ?? '' }),
  Secret: (o) => ({ type: o.type ?? '' }),
  VirtualMachineInstance: (o) => ({ 'status.phase': o.status?.phase ?? '', 'status.nodeName': o.status?.nodeName ?? '' }),
};

/** The field set a field selector matches against, for an object of `kind`. */
export function selectableFields(kind: string, obj: KubeObject): Record<string, string | undefined> {
  return {
    'metadata.name': obj.metadata?.name ?? '',
    'metadata.namespace': obj.metadata?.namespace ?? '',
    ...(extra[kind]?.(obj) ?? {}),
  };
}

export function supportedFieldLabels(kind: string): string[] {
  return Object.keys(selectableFields(kind, { metadata: {}, spec: {}, status: {} }));
}
