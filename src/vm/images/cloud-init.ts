// cloud-init for virtmesh VMs: the NoCloud seed ISO every VM gets, and the translation of
// user-data into a script for the built-in guest (which has no cloud-init of its own).
// The seed is a standard NoCloud one (user-data, meta-data, network-config on an iso9660
// volume labelled cidata), so a real cloud image reads it too; the built-in guest's
// script rides along as one extra file, which cloud-init ignores.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { run } from '../../util/exec.js';
import { SEED_GUEST_SCRIPT } from './guest-files.js';
import { parseCloudConfig, parseYaml11 } from './user-data.js';

export { parseCloudConfig, translateUserData, type UserDataDefaults } from './user-data.js';

export interface NoCloudSeedOptions {
  /** Directory the ISO is written into (created when missing). */
  dir: string;
  userData?: string;
  /** NoCloud network-config (YAML, version 1 or 2). */
  networkData?: string;
  metaData: { instanceId: string; localHostname: string };
  /** translateUserData's script for the built-in guest. */
  guestScript?: string;
}

export const SEED_ISO_NAME = 'seed.iso';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Writes dir/seed.iso (volume id cidata) and returns its absolute path. */
export async function writeNoCloudSeed(opts: NoCloudSeedOptions): Promise<string> {
  const { instanceId, localHostname } = opts.metaData;
  if (!instanceId || /[\0\n\r]/.test(instanceId)) throw new Error(`invalid cloud-init instance-id "${instanceId}"`);
  if (!HOSTNAME.test(localHostname)) throw new Error(`cloud-init local-hostname "${localHostname}" is not a valid host name`);
  const userData = opts.userData ?? '';
  if (/^#cloud-config\s*(\n|$)/.test(userData)) parseCloudConfig(userData);
  if (opts.networkData !== undefined) checkNetworkConfig(opts.networkData);

  const dir = resolve(opts.dir);
  const staging = join(dir, `.seed-${randomBytes(4).toString('hex')}`);
  const iso = join(dir, SEED_ISO_NAME);
  await mkdir(staging, { recursive: true });
  try {
    const files = ['user-data', 'meta-data'];
    await writeFile(join(staging, 'user-data'), userData);
    await writeFile(join(staging, 'meta-data'), stringify({ 'instance-id': instanceId, 'local-hostname': localHostname }));
    if (opts.networkData !== undefined) {
      await writeFile(join(staging, 'network-config'), opts.networkData);
      files.push('network-config');
    }
    if (opts.guestScript) {
      await writeFile(join(staging, SEED_GUEST_SCRIPT), opts.guestScript, { mode: 0o755 });
      files.push(SEED_GUEST_SCRIPT);
    }
    // The same command line as cloud-utils' cloud-localds.
    const tmpIso = join(staging, SEED_ISO_NAME);
    await run('genisoimage', ['-quiet', '-output', tmpIso, '-volid', 'cidata', '-joliet', '-rock', '-input-charset', 'utf-8', ...files], { cwd: staging });
    await rename(tmpIso, iso);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return iso;
}

function checkNetworkConfig(text: string): void {
  const doc = parseYaml11(text, 'cloud-init network-config');
  const value = doc.toJS() as unknown;
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw new Error('cloud-init network-config must be a YAML mapping');
}
