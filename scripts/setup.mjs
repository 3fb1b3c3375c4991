#!/usr/bin/env node
// Installs what virtmesh needs on a fresh Debian machine (as root), then builds it.
// Safe to run again: each step checks first and says what it does.
// Only Node's own modules here: this runs before npm packages exist.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  // Building the guest images (kernel from Debian's package; busybox, curl and ncat copied in) and cloud-init seeds.
  'pkg:busybox-static': 'busybox-static', // the guest needs the static build, not the dynamic busybox
  curl: 'curl',
  ncat: 'ncat',
  cpio: 'cpio',
  genisoimage: 'genisoimage',
  xz: 'xz-utils',
  // Observability: the cluster runs the real Prometheus, as Istio's addons do.
  prometheus: 'prometheus',
};

function aptInstall(packages) {
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages ${packages.join(' ')}; run this as root or install them with apt-get`);
  }
  say(`installing Debian packages: ${packages.join(' ')}`);
  run('apt-get', ['update', '-q']);
  // Packages with a service (nginx, haproxy) must not start it: the benchmark runs its own, on loopback.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
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

const missing = Object.entries({ ...debian, ...(forBench ? benchDebian : {}), ...(forTest ? testDebian : {}) })
  .filter(([cmd]) => (cmd.startsWith('pkg:') ? !installed(cmd.slice(4)) : !has(cmd)))
  .map(([, pkg]) => pkg);
aptInstall([...new Set(missing)]);

// npm packages: install when node_modules is missing or older than the lock file.
const modules = join(root, 'node_modules');
const lock = join(root, 'package-lock.json');
const stale = !existsSync(join(modules, '.package-lock.json')) || statSync(lock).mtimeMs > statSync(join(modules, '.package-lock.json')).mtimeMs;
if (stale) {
  say('installing npm packages (npm ci; better-sqlite3 compiles from source, about a minute)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
} else say('npm packages are installed');

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

say('building (tsc, and the web console with vite)');
run('npm', ['run', '-s', 'build']);

const kubectlVersion = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
if (kubectlVersion.status === 0) {
  const v = JSON.parse(kubectlVersion.stdout).clientVersion;
  say(`kubectl ${v.gitVersion} is on this machine`);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
say(`virtmesh ${pkg.version} is ready: node bin/virtmesh.js --help`);
