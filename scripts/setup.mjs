#!/usr/bin/env node
// Installs what virtmesh needs on a fresh Debian machine (as root), then builds it.
// Safe to run again: each step checks first and says what it does.
// Only Node's own modules here: this runs before npm packages exist.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (s) => process.stdout.write(`• ${s}\n`);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const installed = (pkg) => spawnSync('dpkg-query', ['-W', `-f=\${Status}`, pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });

// Debian packages the project uses: a file that shows the package is there -> the package.
const debian = {
  kubectl: 'kubernetes-client',
  python3: 'python3',
  make: 'make',
  'g++': 'g++',
  // The node: namespaces, links and packet rules; VMs and their DHCP server.
  ip: 'iproute2',
  iptables: 'iptables',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  dnsmasq: 'dnsmasq-base',
  // Building the guest images (kernel from Debian's package; busybox, curl and ncat copied in;
  // the guest's small static nc and curl compiled with gcc and glibc's static library) and cloud-init seeds.
  'pkg:busybox-static': 'busybox-static', // the guest needs the static build, not the dynamic busybox
  curl: 'curl',
  ncat: 'ncat',
  gcc: 'gcc',
  'pkg:libc6-dev': 'libc6-dev',
  cpio: 'cpio',
  genisoimage: 'genisoimage',
  xz: 'xz-utils',
  // Observability: the cluster runs the real Prometheus, as Istio's addons do.
  prometheus: 'prometheus',
};

const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

/** A command in the background; its output goes to a log file (`name`) shown only when it fails. */
function background(name, what, cmd, args, opts = {}) {
  const log = join(tmpdir(), `virtmesh-setup-${process.pid}-${name}.log`);
  const fd = openSync(log, 'w');
  const t0 = Date.now();
  say(`${what} (in the background; log ${log})`);
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', fd, fd], ...opts });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) {
        say(`${what}: done (${seconds(t0)})`);
        rmSync(log, { force: true });
        return resolve();
      }
      process.stderr.write(`${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}\n`);
      reject(new Error(`${what} failed (${signal ?? `exit status ${code}`}); its log: ${log}`));
    });
  });
}

// Packages with a service (nginx, haproxy) must not start it: the benchmark runs its own, on loopback.
const policy = '/usr/sbin/policy-rc.d';
let listsUpdated = false;
async function aptInstall(packages) {
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages ${packages.join(' ')}; run this as root or install them with apt-get`);
  }
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!listsUpdated) await background('apt-update', 'apt-get update', 'apt-get', ['update', '-q'], { env });
    listsUpdated = true;
    const args = ['install', '-y', '-q', '--no-install-recommends', ...packages];
    await background('apt-install', `installing Debian packages: ${packages.join(' ')}`, 'apt-get', args, { env });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

// What the mesh benchmark compares the sidecar with (`setup.mjs --bench`).
const benchDebian = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk' };
const forBench = process.argv.includes('--bench');
// The browser the console's tests drive (`setup.mjs --test`).
const testDebian = { chromium: 'chromium' };
const forTest = process.argv.includes('--test');

const missing = [
  ...new Set(
    Object.entries({ ...debian, ...(forBench ? benchDebian : {}), ...(forTest ? testDebian : {}) })
      .filter(([cmd]) => (cmd.startsWith('pkg:') ? !installed(cmd.slice(4)) : !has(cmd)))
      .map(([, pkg]) => pkg),
  ),
];
// npm ci compiles better-sqlite3 (python3, make, g++): that toolchain first, then the rest of
// the Debian packages and the npm packages side by side, the two longest steps of a first run.
const toolchain = missing.filter((p) => ['python3', 'make', 'g++'].includes(p));
await aptInstall(toolchain);
const started = Date.now();
const debianDone = aptInstall(missing.filter((p) => !toolchain.includes(p)));

// npm packages: install when node_modules is missing or older than the lock file.
const modules = join(root, 'node_modules');
const lock = join(root, 'package-lock.json');
const stale = !existsSync(join(modules, '.package-lock.json')) || statSync(lock).mtimeMs > statSync(join(modules, '.package-lock.json')).mtimeMs;
if (!stale) say('npm packages are installed');
const npmDone = stale
  ? background('npm-ci', 'installing npm packages (npm ci; better-sqlite3 compiles from source, about a minute)', 'npm', ['ci', '--no-audit', '--no-fund'])
  : Promise.resolve();
const [debianResult, npmResult] = await Promise.allSettled([debianDone, npmDone]);
for (const r of [debianResult, npmResult]) if (r.status === 'rejected') throw r.reason;
if (missing.length || stale) say(`packages ready (${seconds(started)})`);

// The native SQLite binding must load on this Node (a copied node_modules may not).
const probe = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: root, stdio: 'pipe' });
if (probe.status !== 0) {
  say('rebuilding better-sqlite3 for this Node.js');
  run('npm', ['rebuild', 'better-sqlite3']);
}

// The sidecar reads each captured connection's original destination through a small native addon.
const addonSource = join(root, 'native', 'original-dst', 'original_dst.c');
const addonBuilt = join(root, 'native', 'original-dst', 'build', 'Release', 'original_dst.node');
if (!existsSync(addonBuilt) || statSync(addonSource).mtimeMs > statSync(addonBuilt).mtimeMs) {
  say('building the SO_ORIGINAL_DST addon (node-gyp)');
  // Node's own headers (Debian's nodejs ships them): node-gyp would otherwise try to download them.
  const headers = existsSync('/usr/include/node/node_api.h') && !process.env.npm_config_nodedir ? { npm_config_nodedir: '/usr' } : {};
  run('npm', ['run', '-s', 'build:native'], { env: { ...process.env, ...headers } });
} else say('the SO_ORIGINAL_DST addon is built');

// The build and the guest images (with the accelerator probe) side by side: neither needs the other.
const t0 = Date.now();
say('building (tsc, and the web console with vite)');
await Promise.all([
  background('guest-images', 'building the guest images and trying KVM (virtmesh images --build)', process.execPath, [
    '--import',
    'tsx',
    'src/cli/main.ts',
    'images',
    '--build',
  ]),
  new Promise((resolve, reject) =>
    spawn('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' }).on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm run build failed (exit status ${code})`)),
    ),
  ),
]);
say(`built (${seconds(t0)})`);

const kubectlVersion = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
if (kubectlVersion.status === 0) {
  const v = JSON.parse(kubectlVersion.stdout).clientVersion;
  say(`kubectl ${v.gitVersion} is on this machine`);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
say(`virtmesh ${pkg.version} is ready: node bin/virtmesh.js --help`);
