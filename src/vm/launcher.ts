// Runs one VM in a pod's network namespace, the way virt-launcher does with the
// masquerade binding: a tap device on an in-pod bridge (k6t-eth0, 10.0.2.1), a DHCP
// server handing the guest 10.0.2.2 with the cluster's DNS and search domains, NAT
// between the pod IP and the guest (rules rendered by the node agent), and QEMU
// with the serial console on a socket whose output is also the container log.

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { run as runHost, runIn } from '../util/exec.js';
import { isProcessOf, killProcessOf } from '../util/process.js';
import { type Accelerator, qemuLastWords } from './accel.js';
import { defaultUserForFlavor, ensureGuestImages, guestKernelCmdline, resolveContainerDiskImage, translateUserData, writeNoCloudSeed } from './images/index.js';
import type { VmPlan } from './spec.js';

export const GUEST_IP = '10.0.2.2';
export const GUEST_GATEWAY = '10.0.2.1';
export const VM_BRIDGE = 'k6t-eth0';

export interface LaunchContext {
  /** Where this VM's files live (disks, sockets, logs). */
  dir: string;
  netns: string;
  podIP: string;
  dnsIP: string;
  searchDomains: string[];
  imageCacheDir: string;
  /** The compute container's log: launcher lines, then the serial console. */
  serialLog: string;
  /** KVM or TCG, as the node's probe decided (resolveAccelerator). */
  accelerator: Accelerator;
  onProgress?: (step: string) => void;
}

export interface RunningVm {
  pid: number;
  consoleSocket: string;
  /** Resolves with QEMU's exit code (null when it was killed). */
  exited: Promise<number | null>;
  /** QEMU's last stderr lines, once it has exited with an error or was killed; empty when it said nothing. */
  lastWords(): string;
  stop(graceSeconds: number): Promise<void>;
}

/** A launcher line in the compute log; best-effort, the pod's directory may already be gone. */
const say = (ctx: Pick<LaunchContext, 'serialLog'>, line: string) => {
  try {
    appendFileSync(ctx.serialLog, `virtmesh: ${line}\n`);
  } catch {}
};

export async function startVm(plan: VmPlan, ctx: LaunchContext): Promise<RunningVm> {
  mkdirSync(ctx.dir, { recursive: true });
  const boot = plan.disks.find((d) => d.source.kind === 'containerDisk');
  const image = boot?.source.kind === 'containerDisk' ? resolveContainerDiskImage(boot.source.image) : undefined;
  if (!image || image.kind === 'unknown') throw new Error(image?.message ?? 'no containerDisk to boot');
  say(ctx, `preparing ${plan.namespace}/${plan.name}: ${plan.memoryMiB} MiB, ${plan.cpus} vCPU, ${ctx.accelerator.summary}`);

  const args = ['-name', `guest=${plan.namespace}_${plan.name}`, '-nodefaults', '-no-user-config', '-display', 'none'];
  args.push('-machine', `q35,accel=${ctx.accelerator.accel}`, '-cpu', ctx.accelerator.cpu, '-smp', String(plan.cpus), '-m', String(plan.memoryMiB));
  if (image.kind === 'builtin') {
    const guest = await ensureGuestImages({ cacheDir: ctx.imageCacheDir, onProgress: (s: string) => ctx.onProgress?.(s) });
    args.push('-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guestKernelCmdline(image.flavor));
  }
  let index = 0;
  for (const disk of plan.disks) {
    const id = `disk${index++}`;
    let file: string;
    let format = 'raw';
    let readonly = false;
    if (disk.source.kind === 'containerDisk') {
      if (image.kind !== 'file') continue; // built-in images boot from kernel and initramfs
      file = join(ctx.dir, `${disk.name}.qcow2`);
      await runHost('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', image.format, '-b', image.path, file]);
      format = 'qcow2';
    } else if (disk.source.kind === 'cloudInitNoCloud') {
      const seedDir = join(ctx.dir, disk.name);
      mkdirSync(seedDir, { recursive: true });
      const guestScript =
        image.kind === 'builtin' && disk.source.userData ? translateUserData(disk.source.userData, { user: defaultUserForFlavor(image.flavor) }) : undefined;
      file = await writeNoCloudSeed({
        dir: seedDir,
        userData: disk.source.userData,
        networkData: disk.source.networkData,
        metaData: { instanceId: `${plan.name}.${plan.namespace}`, localHostname: plan.name },
        guestScript,
      });
      readonly = true;
    } else {
      file = join(ctx.dir, `${disk.name}.qcow2`);
      await runHost('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(disk.source.bytes || 1024 ** 3)]);
      format = 'qcow2';
    }
    args.push('-drive', `file=${file},if=none,id=${id},format=${format}${readonly ? ',readonly=on' : ''}`);
    args.push('-device', disk.bus === 'virtio' ? `virtio-blk-pci,drive=${id}` : `ide-hd,drive=${id}`);
  }

  await setUpGuestNetwork(ctx);
  const dnsmasq = await startDhcp(plan, ctx);

  try {
    return launchQemu(plan, ctx, args, dnsmasq);
  } catch (e) {
    dnsmasq.kill('SIGKILL');
    throw e;
  }
}

function launchQemu(plan: VmPlan, ctx: LaunchContext, args: string[], dnsmasq: ChildProcess): RunningVm {
  const { consoleSocket, qmpSocket } = vmSockets(ctx.dir);
  args.push('-chardev', `socket,id=serial0,path=${consoleSocket},server=on,wait=off,logfile=${ctx.serialLog},logappend=on`, '-serial', 'chardev:serial0');
  args.push('-netdev', 'tap,id=net0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=net0,mac=${plan.mac}`);
  args.push('-device', 'virtio-rng-pci', '-qmp', `unix:${qmpSocket},server=on,wait=off`, '-pidfile', join(ctx.dir, 'qemu.pid'));
  say(ctx, `starting qemu-system-x86_64 ${args.join(' ')}`);
  const stderrFile = join(ctx.dir, 'qemu.stderr');
  const qemu = spawnInNetns(ctx, 'qemu-system-x86_64', args, stderrFile);
  const exited = new Promise<number | null>((resolve) => {
    qemu.on('exit', (code, signal) => {
      say(ctx, `QEMU exited${code === null ? ` (killed by ${signal})` : ` with code ${code}`}`);
      // An abort (an assertion in QEMU) is a signal too: its own words say why.
      const words = code === 0 ? '' : qemuLastWords(readTail(stderrFile));
      if (words) say(ctx, `QEMU said: ${words}`);
      dnsmasq.kill('SIGKILL');
      resolve(code);
    });
  });
  const pid = qemu.pid ?? 0;
  const processes: VmProcesses = { qemu: pid, dnsmasq: dnsmasq.pid };
  writeFileSync(join(ctx.dir, PROCESSES_FILE), JSON.stringify(processes));
  const running = () => qemu.exitCode === null && qemu.signalCode === null;
  return {
    pid,
    consoleSocket,
    exited,
    lastWords: () => qemuLastWords(readTail(stderrFile)),
    stop: (graceSeconds) => stopQemu({ running, kill: () => qemu.kill('SIGKILL'), powerdown: () => qmp(qmpSocket, 'system_powerdown') }, exited, graceSeconds),
  };
}

/** The sockets QEMU serves in the VM's directory: the serial console and QMP. */
const vmSockets = (dir: string) => ({ consoleSocket: join(dir, 'console.sock'), qmpSocket: join(dir, 'qmp.sock') });

/** The pids of a VM's processes (QEMU and its DHCP server), recorded in the VM's directory. */
const PROCESSES_FILE = 'processes.json';
export interface VmProcesses {
  qemu?: number;
  dnsmasq?: number;
}

/** What the VM's directory records of its processes; undefined when there is no record, or a crash cut it short. */
export function readVmProcesses(dir: string): VmProcesses | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, PROCESSES_FILE), 'utf8')) as VmProcesses;
  } catch {
    return undefined;
  }
}

/**
 * Takes over a VM that a previous node agent started and that still runs (that agent
 * crashed or was killed), as a restarted kubelet keeps the containers it finds. Undefined
 * when its QEMU is gone. QEMU is not this process's child: its exit is noticed by polling,
 * and a QMP session held open tells a clean exit (QEMU announces SHUTDOWN: the guest
 * powered off) from a kill.
 */
export function adoptVm(ctx: Pick<LaunchContext, 'dir' | 'serialLog'>): RunningVm | undefined {
  const pids = readVmProcesses(ctx.dir);
  const pid = pids?.qemu ?? 0;
  if (!pids || !isProcessOf(pid, ctx.dir)) return undefined;
  const { consoleSocket, qmpSocket } = vmSockets(ctx.dir);
  const session = new QmpSession(qmpSocket);
  const exited = new Promise<number | null>((resolve) => {
    const timer = setInterval(async () => {
      if (isProcessOf(pid, ctx.dir)) return;
      clearInterval(timer);
      // The SHUTDOWN event may still be on its way: the session ends when QEMU's side closes.
      await Promise.race([session.closed, new Promise((r) => setTimeout(r, 1000))]);
      session.close();
      const code = session.shutdownSeen ? 0 : null;
      say(ctx, `QEMU exited${code === null ? ' (killed)' : ' after a shutdown'}`);
      killProcessOf(pids.dnsmasq, ctx.dir);
      resolve(code);
    }, 250);
    timer.unref(); // the VM's own life does not keep a stopping node agent running
  });
  say(ctx, `node agent restarted: took over the running VM (QEMU pid ${pid})`);
  return {
    pid,
    consoleSocket,
    exited,
    lastWords: () => qemuLastWords(readTail(join(ctx.dir, 'qemu.stderr'))),
    stop: (graceSeconds) =>
      stopQemu(
        { running: () => isProcessOf(pid, ctx.dir), kill: () => killProcessOf(pid, ctx.dir), powerdown: () => session.execute('system_powerdown') },
        exited,
        graceSeconds,
      ),
  };
}

/** tap0 on the in-pod bridge k6t-eth0 (10.0.2.1/24): the guest's side of the masquerade. */
async function setUpGuestNetwork(ctx: LaunchContext): Promise<void> {
  const cmds = [
    'tuntap add dev tap0 mode tap',
    `link add ${VM_BRIDGE} type bridge`,
    `addr add ${GUEST_GATEWAY}/24 dev ${VM_BRIDGE}`,
    `link set tap0 master ${VM_BRIDGE}`,
    'link set tap0 up',
    `link set ${VM_BRIDGE} up`,
  ];
  await runIn(ctx.netns, 'ip', ['-batch', '-'], { input: `${cmds.join('\n')}\n` });
}

/** dnsmasq as DHCP only (no DNS), giving the guest one fixed lease, as KubeVirt's DHCP server does. */
function startDhcp(plan: VmPlan, ctx: LaunchContext): Promise<ChildProcess> {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${VM_BRIDGE}`,
    '--bind-interfaces',
    '--user=root',
    `--dhcp-range=${GUEST_IP},${GUEST_IP},255.255.255.0,infinite`,
    `--dhcp-host=${plan.mac},${GUEST_IP},${plan.name}`,
    `--dhcp-option=option:router,${GUEST_GATEWAY}`,
    `--dhcp-option=option:dns-server,${ctx.dnsIP}`,
    `--dhcp-option=option:domain-search,${ctx.searchDomains.join(',')}`,
    '--dhcp-option=option:mtu,1500',
    '--dhcp-authoritative',
    `--dhcp-leasefile=${join(ctx.dir, 'dhcp.leases')}`,
  ];
  const child = spawnInNetns(ctx, 'dnsmasq', args, join(ctx.dir, 'dnsmasq.log'));
  return new Promise((resolve, reject) => {
    const early = (code: number | null) =>
      reject(new Error(`the DHCP server for the guest exited at start (code ${code}): ${readTail(join(ctx.dir, 'dnsmasq.log'))}`));
    child.once('exit', early);
    setTimeout(() => {
      child.off('exit', early);
      resolve(child);
    }, 150);
  });
}

/** A process in the pod's namespace, in its own process group, output to a file (it outlives nothing: the node agent reaps it). */
function spawnInNetns(ctx: LaunchContext, cmd: string, args: string[], outFile: string): ChildProcess {
  const fd = openSync(outFile, 'a');
  const child = spawn('ip', ['netns', 'exec', ctx.netns, cmd, ...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => {});
  return child;
}

function readTail(file: string, bytes = 2000): string {
  try {
    return readFileSync(file, 'utf8').slice(-bytes).trim();
  } catch {
    return '';
  }
}

/** ACPI power button through QMP, then a kill once the grace period is over (grace 0: kill at once). */
async function stopQemu(
  qemu: { running(): boolean; kill(): void; powerdown(): Promise<unknown> },
  exited: Promise<number | null>,
  graceSeconds: number,
): Promise<void> {
  if (!qemu.running()) return;
  if (graceSeconds > 0) {
    await qemu.powerdown().catch(() => {});
    const timer = new Promise((r) => setTimeout(r, graceSeconds * 1000));
    await Promise.race([exited, timer]);
  }
  if (qemu.running()) qemu.kill();
  await exited;
}

/** One QMP command on a session of its own. */
export async function qmp(socketPath: string, command: string): Promise<unknown> {
  const session = new QmpSession(socketPath);
  try {
    return await session.execute(command);
  } finally {
    session.close();
  }
}

/**
 * A QMP session: the capabilities handshake QMP requires, then commands answered in order.
 * It also notes QEMU's SHUTDOWN event, which QEMU sends before a clean exit. QMP serves one
 * client at a time, so a session held open carries every command for its VM.
 */
class QmpSession {
  shutdownSeen = false;
  /** Resolves when the connection is gone (QEMU exited, or close()). */
  readonly closed: Promise<void>;
  readonly #sock: Socket;
  readonly #ready: Promise<void>;
  #buffer = '';
  #answers: Array<{ resolve: (value: unknown) => void; reject: (e: Error) => void }> = [];
  #error: Error | undefined;

  constructor(socketPath: string) {
    this.#sock = createConnection(socketPath);
    this.#sock.unref();
    this.#ready = new Promise((resolve, reject) => this.#answers.push({ resolve: () => resolve(), reject }));
    this.#ready.catch(() => {});
    this.closed = new Promise((resolve) => this.#sock.once('close', () => resolve()));
    this.#sock.on('data', (d) => this.#read(d.toString()));
    this.#sock.on('error', (e) => this.#fail(e));
    this.#sock.on('close', () => this.#fail(new Error('QMP connection closed')));
  }

  /** One command's answer, within 5 s of asking (the handshake included). */
  async execute(command: string): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`QMP ${command}: no answer within 5 s`)), 5000);
    });
    try {
      await Promise.race([this.#ready, timeout]);
      const answer = new Promise((resolve, reject) => {
        if (this.#error) return reject(this.#error);
        this.#answers.push({ resolve, reject });
        this.#sock.write(`${JSON.stringify({ execute: command })}\n`);
      });
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#sock.destroy();
  }

  #read(text: string): void {
    this.#buffer += text;
    for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let msg: { QMP?: unknown; event?: string; return?: unknown; error?: { desc?: string } };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.QMP)
        this.#sock.write('{"execute":"qmp_capabilities"}\n'); // its answer settles #ready
      else if (msg.event === 'SHUTDOWN') this.shutdownSeen = true;
      else if (msg.error) this.#answers.shift()?.reject(new Error(`QMP: ${msg.error.desc}`));
      else if (msg.return !== undefined) this.#answers.shift()?.resolve(msg.return);
    }
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const a of this.#answers.splice(0)) a.reject(e);
  }
}
