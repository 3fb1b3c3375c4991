/**
 * Sets of field paths, as structured-merge-diff's fieldpath.Set, with the FieldsV1 encoding of
 * metadata.managedFields. A path is a list of path elements spelled as in FieldsV1:
 * `f:<field>`, `k:{"key":value,...}` (list item by its keys), `v:<json>` (set item), `i:<index>`.
 */
import { goFmt, isObject, type JsonObject, setOwn } from './util.js';

export type Path = string[];

/** A node of the set: `member` says the path to this node is in the set. */
export class FieldSet {
  member = false;
  readonly children = new Map<string, FieldSet>();

  static of(...paths: Path[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: Path): void {
    let node: FieldSet = this;
    for (const pe of path) {
      let next = node.children.get(pe);
      if (!next) {
        next = new FieldSet();
        node.children.set(pe, next);
      }
      node = next;
    }
    node.member = true;
  }

  child(pe: string): FieldSet | undefined {
    return this.children.get(pe);
  }

  has(path: Path): boolean {
    let node: FieldSet | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return false;
    }
    return node.member;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  clone(): FieldSet {
    const s = new FieldSet();
    s.member = this.member;
    for (const [k, c] of this.children) s.children.set(k, c.clone());
    return s;
  }

  union(o: FieldSet): FieldSet {
    const s = this.clone();
    s.member ||= o.member;
    for (const [k, c] of o.children) {
      const mine = s.children.get(k);
      s.children.set(k, mine ? mine.union(c) : c.clone());
    }
    return s;
  }

  /** Members of this set not in `o`. */
  difference(o: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && !o.member;
    for (const [k, c] of this.children) {
      const theirs = o.children.get(k);
      const d = theirs ? c.difference(theirs) : c.clone();
      if (!d.isEmpty()) s.children.set(k, d);
    }
    return s;
  }

  intersection(o: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && o.member;
    for (const [k, c] of this.children) {
      const theirs = o.children.get(k);
      if (!theirs) continue;
      const i = c.intersection(theirs);
      if (!i.isEmpty()) s.children.set(k, i);
    }
    return s;
  }

  /**
   * EnsureNamedFieldsAreMembers: every `f:` element on the way to a member becomes a member too
   * (so pruning keeps a struct field another manager owns something under).
   */
  withNamedAncestors(): FieldSet {
    const s = new FieldSet();
    s.member = this.member;
    for (const [k, c] of this.children) {
      const n = c.withNamedAncestors();
      if (k.startsWith('f:') && !n.isEmpty()) n.member = true;
      if (!n.isEmpty()) s.children.set(k, n);
    }
    return s;
  }

  /** Member paths in the order structured-merge-diff iterates them: members first, then children. */
  paths(prefix: Path = []): Path[] {
    const keys = sortedElements([...this.children.keys()]);
    const out: Path[] = [];
    for (const k of keys) if (this.children.get(k)?.member) out.push([...prefix, k]);
    for (const k of keys) {
      const c = this.children.get(k) as FieldSet;
      if (c.children.size > 0) out.push(...c.paths([...prefix, k]));
    }
    return out;
  }

  /** The FieldsV1 JSON: `{}` for a member leaf, `".": {}` for a member with children. */
  toFieldsV1(): JsonObject {
    const out: JsonObject = {};
    for (const k of sortedElements([...this.children.keys()])) {
      const c = this.children.get(k) as FieldSet;
      if (c.isEmpty()) continue;
      const body = c.toFieldsV1();
      setOwn(out, k, c.member && Object.keys(body).length > 0 ? { '.': {}, ...body } : body);
    }
    return out;
  }

  static fromFieldsV1(v: unknown): FieldSet {
    const s = new FieldSet();
    if (!isObject(v)) return s;
    for (const [k, c] of Object.entries(v)) {
      if (k === '.') {
        s.member = true;
        continue;
      }
      const child = FieldSet.fromFieldsV1(c);
      if (isObject(c) && Object.keys(c).length === 0) child.member = true;
      s.children.set(k, child);
    }
    return s;
  }
}

const CATEGORY: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function parse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** PathElement.Compare: field names, then keys, then values, then indexes. */
export function comparePathElements(a: string, b: string): number {
  const ca = CATEGORY[a[0] as string] ?? 4;
  const cb = CATEGORY[b[0] as string] ?? 4;
  if (ca !== cb) return ca - cb;
  const ra = a.slice(2);
  const rb = b.slice(2);
  if (a[0] === 'f') return ra < rb ? -1 : ra > rb ? 1 : 0;
  if (a[0] === 'i') return Number(ra) - Number(rb);
  if (a[0] === 'k') {
    const ka = parse(ra);
    const kb = parse(rb);
    if (isObject(ka) && isObject(kb)) {
      const na = Object.keys(ka);
      const nb = Object.keys(kb);
      if (na.length !== nb.length) return na.length - nb.length;
      for (let i = 0; i < na.length; i++) {
        const x = na[i] as string;
        const y = nb[i] as string;
        if (x !== y) return x < y ? -1 : 1;
        const c = compareValues(ka[x], kb[y]);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
  return compareValues(parse(ra), parse(rb));
}

function sortedElements(keys: string[]): string[] {
  return keys.sort(comparePathElements);
}

/** value.ToString: strings quoted, numbers and bools bare. */
function valueString(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(valueString).join(', ')}]`;
  if (isObject(v))
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}=${valueString(x)}`)
      .join(', ')}}`;
  return goFmt(v);
}

/** fieldpath.Path.String(): `.spec.ports[port=80,protocol="TCP"].targetPort`, `[="x"]`, `[0]`. */
export function pathString(path: Path): string {
  return path
    .map((pe) => {
      const rest = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${rest}`;
        case 'k': {
          const k = parse(rest);
          if (!isObject(k)) return `[${rest}]`;
          return `[${Object.entries(k)
            .map(([n, v]) => `${n}=${valueString(v)}`)
            .join(',')}]`;
        }
        case 'v':
          return `[=${valueString(parse(rest))}]`;
        case 'i':
          return `[${rest}]`;
        default:
          return pe;
      }
    })
    .join('');
}
