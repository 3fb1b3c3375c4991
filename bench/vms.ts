// VM start benchmark: VMI create -> Running and -> Ready (readiness probe with no
// initial delay, guest answering HTTP), for one VM and for ten at once, medians over
// several runs. The floor, measured in the same run: the same guest image booted by
// bare QEMU (user-mode network, a forwarded loopback port) until it answers HTTP.
// Everything runs on loopback and in the cluster's own namespaces, and is removed.
// Run: npm run bench:vms

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfig } from '../src/cli/config.js';
import { freeLoopbackPort } from '../src/util/ports.js';
import {
  type Accelerator,
  defaultUserForFlavor,
  ensureGuestImages,
  guestKernelCmdline,
  parseAccelSetting,
  resolveAccelerator,
  translateUserData,
  writeNoCloudSeed,
} from '../src/vm/index.js';
import { eventually, startVmCluster, testVmi } from '../test/helpers/vm-cluster.js';

const RUNS = Number(process.env.VIRTMESH_BENCH_RUNS ?? 3);
const USER_DATA = `#cloud-config
runcmd:
- while true ; do nc -lp 8080 -c "echo -e 'HTTP/1.1 200 OK\\n\\nHello'" ; done &
`;

/** Ready as soon as the guest answers: no initial delay, a try every second. */
const PROBE = { httpGet: { port: 8080 }, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function httpOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1000, insecureHTTPParser: true }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** `count` bare QEMUs with the built-in guest at once, until the last one's HTTP listener answers: what a VM start cannot beat. */
// `accel` is the accelerator the cluster's VMs get (the same probe), so the floor is measured on equal terms.
async function bareQemuMs(count: number, accel: Accelerator): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-bench-qemu-'));
  const images = await ensureGuestImages({ cacheDir: readConfig().imageCacheDir });
  const seed = await writeNoCloudSeed({
    dir,
    userData: USER_DATA,
    metaData: { instanceId: 'bench', localHostname: 'bench' },
    guestScript: translateUserData(USER_DATA, { user: defaultUserForFlavor('cirros') }),
  });
  const ports = await Promise.all(Array.from({ length: count }, () => freeLoopbackPort(0)));
  const started = Date.now();
  const vms = ports.map((port) => {
    const args = ['-machine', `q35,accel=${accel.accel}`, '-cpu', accel.cpu, '-m', '128', '-nodefaults', '-display', 'none'];
    args.push('-kernel', images.kernel, '-initrd', images.initrd, '-append', guestKernelCmdline('cirros'));
    args.push('-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080`, '-device', 'virtio-net-pci,netdev=n0');
    args.push('-drive', `file=${seed},if=virtio,format=raw,readonly=on`, '-device', 'virtio-rng-pci');
    return spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
  });
  try {
    await Promise.all(ports.map((port) => eventually('bare QEMU guest answering HTTP', () => httpOk(port), 600_000, 100)));
    return Date.now() - started;
  } finally {
    for (const vm of vms) vm.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates `count` VMIs at once; returns per-VMI ms to Running and to Ready. */
async function clusterRun(count: number): Promise<{ running: number[]; ready: number[] }> {
  const c = await startVmCluster();
  try {
    const names = Array.from({ length: count }, (_, i) => `bench${i}`);
    const started = Date.now();
    const items = names.map((n) => JSON.parse(testVmi(n, { ports: [8080], userData: USER_DATA, readinessProbe: PROBE })));
    await c.k(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const running = new Map<string, number>();
    const ready = new Map<string, number>();
    await eventually(
      `${count} VMIs Ready`,
      async () => {
        const list = JSON.parse(await c.k(['get', 'vmi', '-o', 'json'])) as {
          items: Array<{ metadata: { name: string }; status?: { phase?: string; conditions?: Array<{ type: string; status: string }> } }>;
        };
        const now = Date.now();
        for (const v of list.items) {
          if (v.status?.phase === 'Running' && !running.has(v.metadata.name)) running.set(v.metadata.name, now - started);
          if (v.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') && !ready.has(v.metadata.name))
            ready.set(v.metadata.name, now - started);
        }
        return ready.size === count;
      },
      600_000,
      200,
    );
    return { running: [...running.values()], ready: [...ready.values()] };
  } finally {
    await c.down();
  }
}

async function main(): Promise<void> {
  const cfg = readConfig();
  const accel = await resolveAccelerator({ setting: parseAccelSetting(cfg.vmAccel), imageCacheDir: cfg.imageCacheDir });
  console.log(`virtmesh VM start benchmark: ${RUNS} runs each, VMs with ${accel.summary}; the cluster is polled every 0.2 s`);
  for (const count of [1, 10]) {
    const floor: number[] = [];
    const running: number[] = [];
    const ready: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(await bareQemuMs(count, accel));
      const r = await clusterRun(count);
      running.push(median(r.running));
      ready.push(Math.max(...r.ready));
    }
    const what = count === 1 ? '1 VMI' : `${count} VMIs at once (last one)`;
    console.log(
      `${what.padEnd(28)} create -> Running ${seconds(median(running))}   create -> Ready ${seconds(median(ready))}   ` +
        `floor (bare QEMU to HTTP answer) ${seconds(median(floor))}   Ready/floor ${(median(ready) / median(floor)).toFixed(2)}x`,
    );
  }
}

await main();
