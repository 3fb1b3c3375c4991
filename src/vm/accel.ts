// Which accelerator VMs get, decided by trying it. /dev/kvm can exist and still not run
// a guest (QEMU aborts setting an MSR, or the guest kernel hangs at kvm-clock), so KVM
// is used only when the built-in guest reaches its init under it; otherwise TCG. The
// outcome is cached per host boot, QEMU version and guest image: the probe costs once.

import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors/index.js';
import { run } from '../util/exec.js';
import { writeAtomically } from '../util/fs.js';
import { ensureGuestImages, type GuestImages, guestKernelCmdline } from './images/index.js';

export type AccelSetting = 'auto' | 'kvm' | 'tcg';
export const ACCEL_SETTINGS: readonly AccelSetting[] = ['auto', 'kvm', 'tcg'];

export interface Accelerator {
  accel: 'kvm' | 'tcg';
  /** QEMU's -cpu model. */
  cpu: string;
  /** The verdict and why, one line: "KVM (host CPU)", "TCG: /dev/kvm present but ...". */
  summary: string;
}

/** What trying one CPU model under KVM gave. */
export interface KvmTrial {
  cpu: string;
  booted: boolean;
  /** Why not: QEMU's own last words, or what the guest did not do in time. */
  detail?: string;
}

/** What the machine offers: no /dev/kvm, one that cannot be opened, or the trials of each CPU model. */
export type KvmFindings = { device: 'absent' } | { device: 'unusable'; error: string } | { device: 'present'; trials: KvmTrial[] };

/** CPU models tried in order: the host's own, the host's without the MSR that fails on some nested hosts, a named model. */
export const KVM_CPU_MODELS = ['host', 'host,-arch-capabilities', 'qemu64'];
/** How long a guest may take under KVM to reach its init (a working KVM needs about a second). */
export const KVM_BOOT_TIMEOUT_MS = 6000;
const TCG_CPU = 'max';

export function parseAccelSetting(value: string | undefined): AccelSetting {
  const v = (value ?? '').trim() || 'auto';
  if (!(ACCEL_SETTINGS as readonly string[]).includes(v)) throw createError('VM_ERR_CLUSTER_BAD_ACCEL', [v]);
  return v as AccelSetting;
}

/** The decision, from what was found; `kvm` that cannot work is an error, not a quiet TCG. */
export function chooseAccelerator(setting: AccelSetting, findings: KvmFindings | undefined): Accelerator {
  if (setting === 'tcg' || !findings) return { accel: 'tcg', cpu: TCG_CPU, summary: 'TCG (VIRTMESH_VM_ACCEL=tcg)' };
  let why: string;
  if (findings.device === 'absent') why = 'no /dev/kvm';
  else if (findings.device === 'unusable') why = `/dev/kvm cannot be opened: ${findings.error}`;
  else {
    const good = findings.trials.find((t) => t.booted);
    if (good) {
      const failed = findings.trials.slice(0, findings.trials.indexOf(good));
      const note = failed.length ? `; ${failed.map((t) => `-cpu ${t.cpu}: ${t.detail}`).join('; ')}` : '';
      return { accel: 'kvm', cpu: good.cpu, summary: good.cpu === 'host' ? 'KVM (host CPU)' : `KVM (CPU model ${good.cpu}${note})` };
    }
    why = `/dev/kvm present but a guest does not boot under it: ${findings.trials.map((t) => `-cpu ${t.cpu}: ${t.detail}`).join('; ')}`;
  }
  if (setting === 'kvm') throw createError('VM_ERR_CLUSTER_KVM_UNUSABLE', [why]);
  return { accel: 'tcg', cpu: TCG_CPU, summary: `TCG: ${why}` };
}

function openKvm(): KvmFindings | undefined {
  if (!existsSync('/dev/kvm')) return { device: 'absent' };
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return undefined;
  } catch (e) {
    return { device: 'unusable', error: (e as Error).message };
  }
}

/** Boots the built-in guest under KVM with one CPU model; booted once its init speaks on the serial line. */
export function tryKvmBoot(guest: GuestImages, cpu: string, timeoutMs = KVM_BOOT_TIMEOUT_MS): Promise<KvmTrial> {
  const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-machine', 'q35,accel=kvm', '-cpu', cpu, '-m', '128'];
  args.push('-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guestKernelCmdline('alpine'), '-serial', 'stdio');
  return new Promise((resolve) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let serial = '';
    let stderr = '';
    let settled = false;
    const done = (trial: KvmTrial) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      qemu.kill('SIGKILL');
      resolve(trial);
    };
    const timer = setTimeout(() => done({ cpu, booted: false, detail: `the guest did not reach its init within ${timeoutMs / 1000} s` }), timeoutMs);
    qemu.stdout.on('data', (d: Buffer) => {
      serial += d.toString('utf8');
      if (serial.includes('virtmesh-guest: booting')) done({ cpu, booted: true });
    });
    qemu.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    qemu.on('error', (e) => done({ cpu, booted: false, detail: e.message }));
    qemu.on('exit', (code, signal) => done({ cpu, booted: false, detail: qemuLastWords(stderr) || `QEMU exited (${signal ?? `code ${code}`})` }));
  });
}

/** QEMU's last stderr lines, without its program-name prefix, on one line. */
export function qemuLastWords(stderr: string, lines = 3): string {
  return stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(-lines)
    .map((l) => l.replace(/^qemu-system-x86_64: /, '').trim())
    .join(' / ');
}

interface CachedProbe {
  key: string;
  findings: KvmFindings;
  checkedAt: string;
}

const CACHE_FILE = 'accelerator.json';

async function probeKey(guest: GuestImages): Promise<string> {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const qemu = (await run('qemu-system-x86_64', ['--version'])).stdout.split('\n')[0].trim();
  return `${bootId} ${qemu} ${guest.version}`;
}

/** The findings cached under `key` (this boot, QEMU and image), or new ones from `probe`, then cached. */
export async function cachedFindings(cacheFile: string, key: string, probe: () => Promise<KvmTrial[]>): Promise<KvmFindings> {
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as CachedProbe;
    if (cached.key === key) return cached.findings;
  } catch {} // none yet, or unreadable: probe again
  const entry: CachedProbe = { key, findings: { device: 'present', trials: await probe() }, checkedAt: new Date().toISOString() };
  writeAtomically(cacheFile, `${JSON.stringify(entry, null, 2)}\n`);
  return entry.findings;
}

export interface ResolveAcceleratorOptions {
  setting: AccelSetting;
  /** Where the guest images live; the probe's outcome is cached there. */
  imageCacheDir: string;
  onProgress?: (step: string) => void;
}

/** The accelerator for this machine: from the cache when this boot already probed, else by trying KVM. */
export async function resolveAccelerator(opts: ResolveAcceleratorOptions): Promise<Accelerator> {
  if (opts.setting === 'tcg') return chooseAccelerator('tcg', undefined);
  const device = openKvm();
  if (device) return chooseAccelerator(opts.setting, device);
  const guest = await ensureGuestImages({ cacheDir: opts.imageCacheDir, onProgress: (s) => opts.onProgress?.(s) });
  const key = await probeKey(guest);
  const findings = await cachedFindings(join(opts.imageCacheDir, CACHE_FILE), key, () => {
    opts.onProgress?.(`trying KVM: booting the built-in guest with -cpu ${KVM_CPU_MODELS.join(', ')}`);
    // Side by side: a model that hangs costs its timeout once, not once per model.
    return Promise.all(KVM_CPU_MODELS.map((cpu) => tryKvmBoot(guest, cpu)));
  });
  return chooseAccelerator(opts.setting, findings);
}
