// cloud-init user-data, translated into one POSIX sh script that virtmesh's built-in guest
// runs at boot (the guest has no cloud-init). It keeps cloud-init's stage order and its
// habits: bootcmd, write_files, hostname, passwords, deferred write_files, then user
// scripts and runcmd; runcmd is one `sh` script without `set -e`, so a failing line does
// not stop the next, and jobs it starts with `&` keep running after it ends.

import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Document, isMap, LineCounter, parseDocument } from 'yaml';

export interface UserDataDefaults {
  /** The image's default user: `password:` sets this user's password. */
  user: string;
}

/** Parses YAML 1.1 (cloud-init reads it with PyYAML); a syntax error names `what` and its line and column. */
export function parseYaml11(text: string, what: string): Document.Parsed {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', prettyErrors: false, lineCounter });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    throw new Error(`${what} is not valid YAML (line ${line}, column ${col}): ${err.message.split('\n')[0]}`);
  }
  return doc;
}

/** Parses #cloud-config YAML into its top-level mapping. */
export function parseCloudConfig(userData: string): Record<string, unknown> {
  const doc = parseYaml11(userData, 'user-data');
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw new Error('#cloud-config user-data must be a YAML mapping (key: value lines)');
  return doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;
}

const SUPPORTED = new Set(['bootcmd', 'write_files', 'password', 'chpasswd', 'runcmd', 'hostname', 'fqdn', 'prefer_fqdn_over_hostname', 'preserve_hostname']);
// Meaningful only with an SSH server or a package manager, which the built-in guest lacks.
const NO_SSH = new Set(['ssh_pwauth', 'ssh_authorized_keys', 'disable_root', 'ssh_deletekeys', 'ssh_genkeytypes', 'ssh_keys']);
const NO_PACKAGES = new Set(['packages', 'package_update', 'package_upgrade', 'package_reboot_if_required']);
// Accepted silently: the guest always writes /etc/hosts.
const IMPLIED = new Set(['manage_etc_hosts']);

const UNSUPPORTED_FORMATS: Array<[RegExp, string]> = [
  [/^(content-type:\s*multipart|mime-version:)/i, 'multipart (MIME) user-data'],
  [/^#include/, '#include user-data'],
  [/^#cloud-config-archive/, '#cloud-config-archive user-data'],
  [/^## template:/, 'templated (jinja) user-data'],
  [/^#part-handler/, '#part-handler user-data'],
  [/^#upstart-job/, '#upstart-job user-data'],
];

export function translateUserData(userData: string, defaults: UserDataDefaults): string {
  if (!/^[a-z_][a-z0-9_.-]*$/.test(defaults.user)) throw new Error(`invalid default user name "${defaults.user}"`);
  const text = userData.replace(/^\uFEFF/, '');
  if (text.trim() === '') return '';
  const s = new Script();
  if (/^#cloud-config\s*(\n|$)/.test(text)) {
    if (!translateCloudConfig(s, parseCloudConfig(text), defaults)) return '';
  } else if (text.startsWith('#!')) {
    s.userScript('part-001', text);
  } else if (text.startsWith('#cloud-boothook')) {
    s.runStage('boothook', 'boothooks/part-001', text.replace(/^#cloud-boothook[^\n]*\n?/, '#!/bin/sh\n'));
  } else {
    const format = UNSUPPORTED_FORMATS.find(([re]) => re.test(text));
    if (format) throw new Error(`${format[1]} is not supported by virtmesh's built-in guest; use #cloud-config or a #! script`);
    // cloud-init logs and skips user-data it does not recognise.
    s.say(`user-data starts with neither #cloud-config nor #!; ignored`);
  }
  return s.text();
}

function translateCloudConfig(s: Script, cfg: Record<string, unknown>, defaults: UserDataDefaults): boolean {
  for (const key of Object.keys(cfg)) {
    if (NO_SSH.has(key)) s.say(`${key}: ignored, the built-in guest has no SSH server (use the serial console)`);
    else if (NO_PACKAGES.has(key)) s.say(`${key}: ignored, the built-in guest has no package manager`);
    else if (!SUPPORTED.has(key) && !IMPLIED.has(key)) s.say(`cloud-config key "${key}" is not supported by virtmesh's built-in guest; ignored`);
  }
  if (cfg.bootcmd !== undefined) s.runStage('bootcmd', 'bootcmd', shellify('bootcmd', cfg.bootcmd));
  const files = writeFiles(cfg.write_files);
  for (const f of files.filter((f) => !f.defer)) s.writeFile(f);
  hostname(s, cfg);
  passwords(s, cfg, defaults);
  for (const f of files.filter((f) => f.defer)) s.writeFile(f);
  if (cfg.runcmd !== undefined) s.userScript('runcmd', shellify('runcmd', cfg.runcmd));
  return !s.empty();
}

/** cloud-init's shellify: a string item is a shell line as it is, a list item is an argv. */
function shellify(key: string, value: unknown): string {
  if (!Array.isArray(value)) throw new Error(`cloud-config ${key} must be a list of commands`);
  const lines = value.map((item, i) => {
    if (typeof item === 'string') return item;
    if (Array.isArray(item) && item.every((a) => typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean')) {
      return item.map((a) => quote(String(a))).join(' ');
    }
    throw new Error(`cloud-config ${key} item ${i + 1} (${JSON.stringify(item)}) must be a string or a list of strings; quote it`);
  });
  return `#!/bin/sh\n${lines.map((l) => `${l}\n`).join('')}`;
}

interface FileToWrite {
  path: string;
  data: Buffer;
  mode: string;
  owner?: string;
  append: boolean;
  defer: boolean;
  note?: string;
}

function writeFiles(value: unknown): FileToWrite[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error('cloud-config write_files must be a list');
  return value.map((entry, i) => {
    const where = `write_files item ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${where} must be a mapping with path and content`);
    const e = entry as Record<string, unknown>;
    if (typeof e.path !== 'string' || !e.path.startsWith('/') || /[\0\n\r]/.test(e.path)) throw new Error(`${where}: path must be an absolute path`);
    if (e.source !== undefined) throw new Error(`${where}: source (fetching a URI) is not supported by virtmesh's built-in guest; use content`);
    const { data, note } = decodeContent(e.content, e.encoding, `${where} (${e.path})`);
    return {
      path: posix.normalize(e.path),
      data,
      note,
      mode: permissions(e.permissions, where),
      owner: e.owner === undefined ? undefined : ownerOf(e.owner, where),
      append: e.append === true,
      defer: e.defer === true,
    };
  });
}

function decodeContent(content: unknown, encoding: unknown, where: string): { data: Buffer; note?: string } {
  const raw = content instanceof Uint8Array ? Buffer.from(content) : Buffer.from(content === undefined || content === null ? '' : String(content), 'utf8');
  const enc = encoding === undefined || encoding === null ? 'text/plain' : String(encoding).toLowerCase();
  const base64 = (b: Buffer) => {
    const t = b.toString('latin1').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) throw new Error(`${where}: content is not valid base64`);
    return Buffer.from(t, 'base64');
  };
  const gunzip = (b: Buffer) => {
    try {
      return gunzipSync(b);
    } catch {
      throw new Error(`${where}: content is not valid gzip data`);
    }
  };
  if (['b64', 'base64'].includes(enc)) return { data: base64(raw) };
  if (['gz', 'gzip'].includes(enc)) return { data: gunzip(raw) };
  if (['gz+b64', 'gz+base64', 'gzip+b64', 'gzip+base64'].includes(enc)) return { data: gunzip(base64(raw)) };
  if (['text/plain', 'text', 'plain'].includes(enc)) return { data: raw };
  // cloud-init warns about an unknown encoding and writes the content as it is.
  return { data: raw, note: `write_files: unknown encoding "${enc}" for ${where}; written as plain text` };
}

function permissions(value: unknown, where: string): string {
  if (value === undefined || value === null) return '0644';
  // YAML 1.1 reads an unquoted 0644 as the octal number 420.
  const n = typeof value === 'number' ? value : /^0?o?[0-7]{1,4}$/.test(String(value)) ? Number.parseInt(String(value).replace(/^0?o/, ''), 8) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0o7777) throw new Error(`${where}: permissions "${String(value)}" is not an octal mode like '0644'`);
  return `0${n.toString(8)}`;
}

function ownerOf(value: unknown, where: string): string {
  const owner = String(value);
  if (!/^[a-z_][a-z0-9_.-]*(:[a-z_][a-z0-9_.-]*)?$/i.test(owner)) throw new Error(`${where}: owner "${owner}" is not user or user:group`);
  return owner;
}

function hostname(s: Script, cfg: Record<string, unknown>): void {
  if (cfg.preserve_hostname === true || (cfg.hostname === undefined && cfg.fqdn === undefined)) return;
  const fqdn = String(cfg.fqdn ?? cfg.hostname);
  const short = cfg.hostname !== undefined && cfg.fqdn !== undefined ? String(cfg.hostname) : fqdn.split('.')[0];
  const name = cfg.prefer_fqdn_over_hostname === true ? fqdn : short;
  for (const h of [fqdn, name]) {
    if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(h) || h.length > 253) {
      throw new Error(`cloud-config hostname "${h}" is not a valid host name`);
    }
  }
  const hosts = `127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\t%s\\n`;
  s.line(
    `hostname ${quote(name)} && echo ${quote(name)} >"$root/etc/hostname" && printf '${hosts}' ${quote(fqdn === name ? name : `${fqdn} ${name}`)} >"$root/etc/hosts" || say "cannot set the hostname"`,
  );
}

const HASHED = /^\$(1|2a|2y|5|6)(\$.+){2}$/;

function passwords(s: Script, cfg: Record<string, unknown>, defaults: UserDataDefaults): void {
  const ch = cfg.chpasswd === undefined || cfg.chpasswd === null ? {} : cfg.chpasswd;
  if (typeof ch !== 'object' || Array.isArray(ch)) throw new Error('cloud-config chpasswd must be a mapping (expire, users, list)');
  const c = ch as Record<string, unknown>;
  const entries: Array<{ user: string; password: string; type: 'text' | 'hash' | 'random' }> = [];
  const add = (user: string, password: string, type?: string) => {
    if (!/^[a-z_][a-z0-9_.-]*$/.test(user)) throw new Error(`chpasswd: "${user}" is not a valid user name`);
    if (/[\n\r]/.test(password)) throw new Error(`chpasswd: the password of ${user} has a line break`);
    const random = type?.toUpperCase() === 'RANDOM' || password === 'R' || password === 'RANDOM';
    entries.push({ user, password, type: random ? 'random' : type === 'hash' || (type === undefined && HASHED.test(password)) ? 'hash' : 'text' });
  };
  if (c.users !== undefined) {
    if (!Array.isArray(c.users)) throw new Error('chpasswd users must be a list of {name, password, type}');
    for (const [i, u] of c.users.entries()) {
      const e = (u ?? {}) as Record<string, unknown>;
      if (typeof e.name !== 'string') throw new Error(`chpasswd users item ${i + 1} has no name`);
      add(e.name, String(e.password ?? ''), e.type === undefined ? 'text' : String(e.type));
    }
  }
  if (c.list !== undefined && c.list !== null) {
    const lines = typeof c.list === 'string' ? c.list.split('\n') : Array.isArray(c.list) ? c.list.map(String) : undefined;
    if (!lines) throw new Error('chpasswd list must be user:password lines');
    for (const line of lines.map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf(':');
      if (at <= 0) throw new Error(`chpasswd list line "${line}" is not user:password`);
      add(line.slice(0, at), line.slice(at + 1));
    }
  }
  if (entries.length === 0 && cfg.password !== undefined && cfg.password !== null) add(defaults.user, String(cfg.password));
  if (entries.length === 0) return;
  const random = entries.filter((e) => e.type === 'random').map((e) => ({ ...e, password: randomBytes(12).toString('base64url') }));
  const text = [...entries.filter((e) => e.type === 'text'), ...random].map((e) => `${e.user}:${e.password}\n`).join('');
  const hashed = entries
    .filter((e) => e.type === 'hash')
    .map((e) => `${e.user}:${e.password}\n`)
    .join('');
  if (text) s.line(`printf %s ${quote(text)} | chpasswd || say "chpasswd failed"`);
  if (hashed) s.line(`printf %s ${quote(hashed)} | chpasswd -e || say "chpasswd -e failed"`);
  if (random.length) s.line(`say ${quote(`Set the following 'random' passwords: ${random.map((e) => `${e.user}:${e.password}`).join(' ')}`)}`);
  if (c.expire !== false) s.say('chpasswd expire: not enforced, the built-in guest does not force a password change at login');
}

/** Single-quotes a string for sh. */
export function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

class Script {
  private readonly body: string[] = [];

  say(message: string): void {
    this.body.push(`say ${quote(message)}`);
  }

  line(line: string): void {
    this.body.push(line);
  }

  empty(): boolean {
    return this.body.length === 0;
  }

  /** Writes a script under the instance directory and runs it; its failure is logged, nothing more. */
  runStage(stage: string, name: string, script: string): void {
    this.body.push(`# ${stage}`, this.heredocTo(`"$instance/${name}"`, script), `chmod 700 "$instance/${name}"`);
    this.body.push(`"$instance/${name}" || say "${stage} exited with status $?"`);
  }

  /** A user script (or runcmd) in scripts/, run the way cloud-init's scripts_user does. */
  userScript(name: string, script: string): void {
    this.runStage(name === 'runcmd' ? 'runcmd' : 'user-data script', `scripts/${name}`, script);
  }

  writeFile(f: FileToWrite): void {
    if (f.note) this.say(f.note);
    const b64 = (f.data.toString('base64').match(/.{1,76}/g) ?? []).join('\n');
    const target = quote(f.path);
    // A here-document's body starts on the line after its command, so `&&` goes on that line.
    const lines = [
      '{',
      `  mkdir -p ${quote(posix.dirname(f.path))} &&`,
      `  base64 -d ${f.append ? '>>' : '>'}${target} <<'VIRTMESH_B64' &&`,
      ...(b64 ? [b64] : []),
      'VIRTMESH_B64',
      `  chmod ${f.mode} ${target}${f.owner ? ` &&\n  chown ${quote(f.owner)} ${target}` : ''}`,
      `} || say ${quote(`write_files: cannot write ${f.path}`)}`,
    ];
    this.body.push(`# write_files${f.defer ? ' (deferred)' : ''}: ${f.path}`, ...lines);
  }

  text(): string {
    const head = [
      '#!/bin/sh',
      "# cloud-init user-data, translated by virtmesh for its built-in guest. $root is '' in the guest.",
      'root="$VIRTMESH_GUEST_ROOT"',
      'instance="$root/var/lib/cloud/instance"',
      'say() { echo "virtmesh-guest: cloud-init: $*"; }',
      'mkdir -p "$instance/scripts" "$instance/boothooks"',
    ];
    return `${[...head, ...this.body].join('\n')}\n`;
  }

  private heredocTo(target: string, content: string): string {
    const body = content.endsWith('\n') ? content : `${content}\n`;
    let delim = 'VIRTMESH_EOF';
    for (let i = 1; body.split('\n').includes(delim); i++) delim = `VIRTMESH_EOF_${i}`;
    return `cat >${target} <<'${delim}'\n${body}${delim}`;
  }
}
