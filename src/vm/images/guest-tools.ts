// The built-in guest's nc and curl: small static C programs (guest-tools/*.c) for the
// common cases, compiled at image build time with the host's gcc and glibc. Under CPU
// emulation (TCG) the host's dynamically linked ncat and curl take 80-250 ms to start; these
// take 10-20 ms. For every option or URL they do not handle they run the real programs,
// which the image keeps in /usr/libexec/virtmesh (packed at first: see handover.h).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../util/exec.js';

// The sources live in src/ beside this file; the build (dist/) reads them from there too.
const SOURCE_DIR = join(import.meta.dirname, '..', '..', '..', 'src', 'vm', 'images', 'guest-tools');

/** Where the image keeps the real, dynamically linked programs the small ones hand over to. */
export const REAL_TOOLS_DIR = '/usr/libexec/virtmesh';
/** The real programs with the libraries only they load, packed (gzip'd cpio): /init unpacks them after boot. */
export const REAL_TOOLS_ARCHIVE = '/usr/lib/virtmesh/real-tools.cpio.gz';
/** Made by /init once the real programs are unpacked; a hand-over waits for it. */
export const REAL_TOOLS_READY = '/run/virtmesh-real-tools.ready';
/** Shared by the programs: handing over to the real one. */
const HEADERS = ['handover.h'];

/** Each small program: its source, the host program it stands in front of, and the define naming that program's place in the guest. */
export const GUEST_TOOLS = [
  { name: 'nc', source: 'nc.c', real: '/usr/bin/ncat', define: 'REAL_NCAT' },
  { name: 'curl', source: 'curl.c', real: '/usr/bin/curl', define: 'REAL_CURL' },
] as const;

export type GuestToolName = (typeof GUEST_TOOLS)[number]['name'];

/** The C sources' text, for the image recipe (a changed source builds a new image). */
export function guestToolSources(): Record<string, string> {
  return Object.fromEntries([...GUEST_TOOLS.map((t) => t.source), ...HEADERS].map((f) => [f, readFileSync(join(SOURCE_DIR, f), 'utf8')]));
}

/** "curl/7.88.1": the User-Agent the real curl sends, which the small one sends too. */
export async function curlUserAgent(curl = '/usr/bin/curl', signal?: AbortSignal): Promise<string> {
  const { stdout } = await run(curl, ['--version'], { signal });
  const version = /^curl (\S+)/.exec(stdout)?.[1];
  if (!version) throw new Error(`cannot tell the version of ${curl} from its --version: ${stdout.split('\n')[0]}`);
  return `curl/${version}`;
}

/**
 * Compiles the guest tools into outDir (static, stripped, non-PIE: under TCG a program at a
 * fixed address reuses code QEMU already translated). Returns each tool's path.
 */
export async function compileGuestTools(outDir: string, opts: { realDir?: string; signal?: AbortSignal } = {}): Promise<Record<GuestToolName, string>> {
  const realDir = opts.realDir ?? REAL_TOOLS_DIR;
  const agent = await curlUserAgent('/usr/bin/curl', opts.signal);
  const out = {} as Record<GuestToolName, string>;
  for (const t of GUEST_TOOLS) {
    const binary = join(outDir, t.name);
    const defines = [
      `-D${t.define}="${join(realDir, t.real.split('/').pop()!)}"`,
      `-DREAL_ARCHIVE="${REAL_TOOLS_ARCHIVE}"`,
      `-DREAL_READY="${REAL_TOOLS_READY}"`,
    ];
    if (t.name === 'curl') defines.push(`-DCURL_USER_AGENT="${agent}"`);
    // glibc warns that a static getaddrinfo needs its NSS modules at run time: files and dns are built in since 2.34.
    await run('gcc', ['-static', '-Os', '-s', '-Wall', ...defines, '-o', binary, join(SOURCE_DIR, t.source)], { signal: opts.signal, timeoutMs: 120_000 });
    out[t.name] = binary;
  }
  return out;
}
