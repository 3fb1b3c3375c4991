// Boots the built-in guest under QEMU (TCG) with a NoCloud seed: the walkthrough's
// istio-vmi user-data must serve "Hello" on port 8080, the cirros flavour must run a #!
// user-data script and let its default user log in. The first run builds the images
// (about a minute); VIRTMESH_VM_IMAGE_CACHE picks the cache directory.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { walkthroughUserData } from '../../../test/helpers/cluster.js';
import { readConfig } from '../../cli/config.js';
import { freeLoopbackPort } from '../../util/ports.js';
import { adoptVm } from '../launcher.js';
import { ensureGuestImages, type GuestImages, guestKernelCmdline } from './build.js';
import { translateUserData, writeNoCloudSeed } from './cloud-init.js';
import { defaultUserForFlavor, type GuestFlavor } from './guest-files.js';

const ISTIO_VMI_USER_DATA = walkthroughUserData('istio-vmi.yaml');

let images: GuestImages;
let work: string;
const vms: ChildProcess[] = [];

before(
  async () => {
    work = mkdtempSync(join(tmpdir(), 'virtmesh-boot-test-'));
    const cacheDir = readConfig().imageCacheDir; // the cache every cluster on the machine uses
    // Two callers at once: the lock makes one build and the other wait for it.
    const [a, b] = await Promise.all([ensureGuestImages({ cacheDir }), ensureGuestImages({ cacheDir })]);
    assert.deepEqual(a, b);
    images = a;
  },
  { timeout: 600_000 },
);

after(async () => {
  for (const vm of vms) {
    if (vm.exitCode === null && vm.signalCode === null) {
      vm.kill('SIGKILL');
      await new Promise((r) => vm.once('exit', r));
    }
  }
  rmSync(work, { recursive: true, force: true });
});

interface Guest {
  vm: ChildProcess;
  log: string;
  started: number;
  console: string;
  monitor: string;
}

async function boot(name: string, flavor: GuestFlavor, userData: string, port: number, netdevExtra = ''): Promise<Guest> {
  const dir = join(work, name);
  const seed = await writeNoCloudSeed({
    dir,
    userData,
    metaData: { instanceId: `default.${name}`, localHostname: name },
    guestScript: translateUserData(userData, { user: defaultUserForFlavor(flavor) }),
  });
  const [log, consoleSock, monitor] = ['serial.log', 'console.sock', 'monitor.sock'].map((f) => join(dir, f));
  const args = ['-machine', 'q35', '-accel', 'tcg', '-m', '128', '-smp', '1', '-display', 'none', '-no-reboot'];
  args.push('-kernel', images.kernel, '-initrd', images.initrd, '-append', guestKernelCmdline(flavor));
  args.push('-chardev', `socket,id=serial0,path=${consoleSock},server=on,wait=off,logfile=${log}`, '-serial', 'chardev:serial0');
  args.push('-monitor', `unix:${monitor},server=on,wait=off`, '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`);
  args.push('-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080${netdevExtra}`, '-device', 'virtio-net-pci,netdev=n0,romfile=');
  args.push('-drive', `file=${seed},if=virtio,format=raw,readonly=on`);
  const started = Date.now();
  const vm = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  vms.push(vm);
  let stderr = '';
  vm.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  vm.on('exit', (code) => {
    if (code) console.error(`qemu exited with ${code}: ${stderr}`);
  });
  return { vm, log, started, console: consoleSock, monitor };
}

const serialLog = (g: Guest) => {
  try {
    return readFileSync(g.log, 'utf8');
  } catch {
    return '';
  }
};

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, g?: Guest): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${g ? `; serial log:\n${serialLog(g).slice(-3000)}` : ''}`);
}

/** One HTTP/1.0 GET over a plain socket (ncat's reply uses bare LF line ends); the whole reply. */
function httpGet(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\nHost: istio-vmi\r\n\r\n'));
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (d) => {
      data += d.toString();
    });
    s.on('error', () => resolve(undefined));
    s.on('close', () => resolve(data || undefined));
  });
}

// The shell prompt is [user@host dir]$ ; console lines from background jobs may follow it.
const PROMPT = /\][$#] /;

/**
 * Logs in on the serial console and runs one command line; returns what the console
 * printed after it. Waits for user-data to finish first: its console output would
 * otherwise land between a prompt and what is typed at it. Under TCG on a busy machine a
 * keystroke can arrive while login is still switching the terminal (and be flushed), so a
 * login that makes no progress is abandoned with a bare Enter and tried again.
 */
async function loginAndRun(g: Guest, host: string, user: string, password: string | undefined, command: string, t: TestContext): Promise<string> {
  if (/virtmesh-guest: running user-data/.test(serialLog(g))) {
    await waitFor('user-data to finish', 90_000, () => (/virtmesh-guest: user-data finished/.test(serialLog(g)) ? true : undefined), g);
  }
  const sock = connect(g.console);
  let seen = '';
  sock.on('data', (d) => {
    seen += d.toString();
  });
  await new Promise((r) => sock.once('connect', r));
  // Types `input` once `prompt` shows; false when it does not within the wait.
  const answer = async (prompt: RegExp, input: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!prompt.test(seen)) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    seen = '';
    sock.write(`${input}\r`);
    return true;
  };
  try {
    for (let attempt = 1; attempt <= 3; attempt++) {
      seen = '';
      sock.write('\r');
      const loggedIn =
        (await answer(new RegExp(`${host} login: $`), user, 30_000)) &&
        (password === undefined || (await answer(/Password: $/, password, 30_000))) &&
        (await answer(PROMPT, command, 30_000));
      if (loggedIn) {
        await sleep(1500);
        return seen;
      }
      t.diagnostic(`login attempt ${attempt} made no progress; console said: ${JSON.stringify(seen.slice(-300))}`);
    }
    throw new Error(`could not log in as ${user} in 3 attempts; serial log:\n${serialLog(g).slice(-3000)}`);
  } finally {
    sock.destroy();
  }
}

const elapsed = (g: Guest) => ((Date.now() - g.started) / 1000).toFixed(1);

describe('built-in guest boot', { timeout: 600_000 }, () => {
  it('runs the walkthrough istio-vmi user-data: DHCP, then "Hello" on port 8080', async (t) => {
    const port = await freeLoopbackPort(0);
    // DNS search domains as a cluster's DHCP would hand them out.
    const g = await boot('istio-vmi', 'fedora', ISTIO_VMI_USER_DATA, port, ',dnssearch=default.svc.cluster.local,dnssearch=svc.cluster.local');
    await waitFor(
      'the boot banner',
      60_000,
      () => (/virtmesh-guest: booting virtmesh built-in guest, fedora flavour/.test(serialLog(g)) ? true : undefined),
      g,
    );
    const dhcp = await waitFor('the DHCP line', 60_000, () => /virtmesh-guest: eth0 (\d+\.\d+\.\d+\.\d+\/\d+) via (\S+)/.exec(serialLog(g)) ?? undefined, g);
    t.diagnostic(`network up after ${elapsed(g)}s: ${dhcp[0]}`);
    assert.equal(dhcp[1], '10.0.2.15/24');
    const reply = await waitFor('"Hello" from the guest', 90_000, async () => ((r) => (r?.includes('Hello') ? r : undefined))(await httpGet(port)), g);
    assert.match(reply, /^HTTP\/1\.1 200 OK\n\nHello\n/);
    t.diagnostic(`"Hello" after ${elapsed(g)}s`);
    const log = serialLog(g);
    assert.match(log, /NoCloud seed on \/dev\/vda \(instance-id default\.istio-vmi, hostname istio-vmi\)/);
    assert.match(log, /dnf: not found/);
    // cloud-config's password lets the default user log in on the serial console.
    const session = await loginAndRun(g, 'istio-vmi', 'fedora', 'fedora', 'id; cat /etc/resolv.conf; command -v nc; command -v curl', t);
    assert.match(session, /uid=1000\(fedora\)/);
    assert.match(session, /search default\.svc\.cluster\.local svc\.cluster\.local\r?\nnameserver 10\.0\.2\.3/);
    assert.match(session, /\/usr\/bin\/nc\s+\/usr\/bin\/curl/);
  });

  it("runs a cirros #! user-data script with the guest's nc and curl, logs in cirros/gocubsgo and powers off on ACPI", async (t) => {
    // The guest's small nc and curl: a loop of `nc -lp` answering curl back to back (once the
    // loop runs, the listener passes from one nc to the next: no refusal), and options they
    // leave to the real ncat and curl. Results go to a file: getty flushes console output.
    const userData = [
      '#!/bin/sh',
      'echo "virtmesh-marker-$((6 * 7))"',
      `while true ; do nc -lp 8081 -c "echo -e 'HTTP/1.1 200 OK\\n\\nfast'" ; done &`,
      'curl -s -m 10 127.0.0.1:8081 >/dev/null; sleep 1',
      'ok=0; i=0; while [ $i -lt 20 ]; do [ "$(curl -s -m 10 127.0.0.1:8081)" = fast ] && ok=$((ok+1)); i=$((i+1)); done',
      '{ echo "tools: curl answered $ok of 20"; curl --version | head -1; nc --version 2>&1; } >/tmp/tools.txt',
    ].join('\n');
    const g = await boot('cirros-client', 'cirros', `${userData}\n`, await freeLoopbackPort(0));
    await waitFor('the user-data marker', 90_000, () => (/virtmesh-marker-42/.test(serialLog(g)) ? true : undefined), g);
    t.diagnostic(`user-data ran after ${elapsed(g)}s`);
    assert.match(serialLog(g), /booting virtmesh built-in guest, cirros flavour/);
    assert.match(serialLog(g), /CPU emulated \(no KVM\): address space randomization off/);
    const session = await loginAndRun(g, 'cirros-client', 'cirros', 'gocubsgo', 'id; cat /tmp/tools.txt', t);
    assert.match(session, /uid=1000\(cirros\)/);
    assert.match(session, /tools: curl answered 20 of 20/);
    assert.match(session, /curl \d+\.\d+\.\d+ \(x86_64-pc-linux-gnu\) libcurl/, 'curl --version is the real curl');
    assert.match(session, /Ncat: Version \d/, 'nc --version is the real ncat');
    const mon = connect(g.monitor);
    await new Promise((r) => mon.once('connect', r));
    mon.write('system_powerdown\n');
    const code = await waitFor('QEMU to exit after the power button', 60_000, () => g.vm.exitCode ?? undefined, g);
    mon.destroy();
    assert.equal(code, 0);
    assert.match(serialLog(g), /power button pressed, powering off/);
  });

  it('boots the alpine flavour, where root logs in without a password', async (t) => {
    const g = await boot('alpine-vmi', 'alpine', '', await freeLoopbackPort(0));
    await waitFor('the login prompt', 90_000, () => (/alpine-vmi login: /.test(serialLog(g)) ? true : undefined), g);
    assert.match(serialLog(g), /booting virtmesh built-in guest, alpine flavour/);
    assert.doesNotMatch(serialLog(g), /running user-data/);
    const session = await loginAndRun(g, 'alpine-vmi', 'root', undefined, 'id', t);
    assert.match(session, /uid=0\(root\)/);
  });
});

// A node agent that restarts takes over the VMs still running (adoptVm): it must tell a guest
// that powered itself off (exit 0, the pod Succeeded) from a QEMU that was killed.
describe('taking over a running VM', { timeout: 300_000 }, () => {
  const adopt = async (g: Guest) => {
    await waitFor('the QMP socket', 30_000, () => (existsSync(join(dirname(g.log), 'qmp.sock')) ? true : undefined), g);
    writeFileSync(join(dirname(g.log), 'processes.json'), JSON.stringify({ qemu: g.vm.pid }));
    const vm = adoptVm({ dir: dirname(g.log), serialLog: join(dirname(g.log), 'launcher.log') });
    assert.ok(vm, 'a running QEMU is taken over');
    return vm;
  };

  it('reports 0 for a guest that powers itself off, 0 for a stop through ACPI, and null for a kill', async () => {
    const [self, acpi, killed] = await Promise.all([
      boot('self-off', 'cirros', '#!/bin/sh\nsleep 2\npoweroff\n', await freeLoopbackPort(0)),
      boot('acpi-off', 'cirros', '', await freeLoopbackPort(0)),
      boot('killed', 'cirros', '', await freeLoopbackPort(0)),
    ]);
    const [selfVm, acpiVm, killedVm] = await Promise.all([adopt(self), adopt(acpi), adopt(killed)]);
    assert.equal(await selfVm.exited, 0, 'the guest powered itself off');
    await waitFor('the login prompt', 90_000, () => (/acpi-off login: /.test(serialLog(acpi)) ? true : undefined), acpi);
    await acpiVm.stop(60);
    assert.equal(await acpiVm.exited, 0, 'ACPI power-off through the held QMP session');
    assert.match(serialLog(acpi), /power button pressed, powering off/);
    process.kill(killed.vm.pid as number, 'SIGKILL');
    assert.equal(await killedVm.exited, null, 'killed: no SHUTDOWN from QEMU');
    assert.equal(adoptVm({ dir: dirname(killed.log), serialLog: '/dev/null' }), undefined, 'nothing to take over once QEMU is gone');
  });
});
