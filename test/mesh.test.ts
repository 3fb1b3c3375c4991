// The walkthrough end to end, as `npm run demo` runs it (scripts/demo.sh: the
// manifests of examples/istio-vmi unchanged, the 120 s probe delay included), with
// real VMs, real sidecars, the real control plane and the real kubectl. While the
// demo waits for istio-vmi, the troubleshooting cases of docs/troubleshooting.md run in their own
// namespaces (Init:0/3 without the istio-cni network, 2/2 without the namespace
// label, 2/3 while the sidecar has no config). Then: injection (3/3), capture of
// every connection in and out of a VM, Istio's metrics at both reporters,
// PassthroughCluster to the external stand-in, proxy-status, config pushes and
// NACKs, a control plane outage; with the walkthrough's traffic running, Prometheus,
// the graph and the console (observability-cases.ts); and `cluster down` leaving
// nothing behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { standInAddress } from '../src/node/index.js';
import type { GraphResponse } from '../src/telemetry/index.js';
import { type KubectlResult, walkthrough } from './helpers/cluster.js';
import { dnsQuery, httpGet, tcpState } from './helpers/net.js';
import { getJson, walkthroughSteadyState } from './helpers/observability.js';
import { eventually, leftovers, startVmCluster, testVmi, type VmCluster } from './helpers/vm-cluster.js';
import { edgeNames, observabilityCases } from './observability-cases.js';

type Sample = { labels: Record<string, string>; value: number };

/** Prometheus text -> samples of one metric. */
function samples(text: string, metric: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    out.push({ labels, value: Number(line.slice(close + 1).trim()) });
  }
  return out;
}

const sum = (xs: Sample[], where: Record<string, string>) =>
  xs.filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

/** One row per proxy of `virtmesh proxy-status`: NAME CLUSTER CDS LDS EDS RDS ECDS ISTIOD VERSION. */
function proxyStatusRows(text: string): Array<{ name: string; cds: string; lds: string; eds: string; rds: string }> {
  const lines = text.trim().split('\n');
  const header = lines[0];
  const at = (col: string) => header.indexOf(col);
  const cols = ['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION'].map(at);
  return lines.slice(1).map((l) => {
    const cell = (i: number) => l.slice(cols[i], i + 1 < cols.length ? cols[i + 1] : undefined).trim();
    return { name: cell(0), cds: cell(2), lds: cell(3), eds: cell(4), rds: cell(5) };
  });
}

/** A small VMI on the built-in cirros guest that asks for a sidecar, listening on 9090 and on Istio's 15008. */
function listenerVmi(name: string): string {
  const vmi = JSON.parse(
    testVmi(name, {
      userData: [
        '#!/bin/sh',
        `while true ; do nc -lp 9090 -c "echo -e 'HTTP/1.1 200 OK\\n\\n${name}-9090'" ; done &`,
        `while true ; do nc -lp 15008 -c "echo -e 'HTTP/1.1 200 OK\\n\\nguest-15008'" ; done &`,
      ].join('\n'),
    }),
  );
  vmi.metadata.annotations = { 'sidecar.istio.io/inject': 'true' };
  return JSON.stringify(vmi);
}

describe('the walkthrough in an injected namespace', { timeout: 1_200_000 }, () => {
  let c: VmCluster;
  /** scripts/demo.sh, the README's main command after its setup step (which `npm test` has run). */
  let demo: Promise<KubectlResult>;
  let demoExited = false;
  let stopDemo = () => {};
  const json = async (args: string[]) => JSON.parse(await c.k([...args, '-o', 'json']));
  /** The daemon's run file: pid, console and Prometheus addresses. */
  const runInfo = () => JSON.parse(readFileSync(join(c.stateDir, 'run', 'cluster.json'), 'utf8'));
  const launcherPod = async (vmi: string, ns = 'default') => (await json(['get', 'pods', '-n', ns, '-l', `vm.kubevirt.io/name=${vmi}`])).items[0];
  const metrics = async (vmi: string) => httpGet((await launcherPod(vmi)).status.podIP, 15020, '/stats/prometheus');
  /** The requests a VM's sidecar has counted that match `where`. */
  const requests = async (vmi: string, where: Record<string, string>) => sum(samples(await metrics(vmi), 'istio_requests_total'), where);
  /** cirros-vmi's loop as istio-vmi's sidecar counts it (OK answers only, unless `ok` is false). */
  const loopRequests = (ok = true) =>
    requests('istio-vmi', { reporter: 'destination', source_workload: 'cirros-vmi', ...(ok ? { response_code: '200' } : {}) });
  const proxyStatus = async () => {
    const r = await c.virtmesh(['proxy-status']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const synced = (row: { cds: string; lds: string; eds: string; rds: string } | undefined) =>
    row !== undefined && [row.cds, row.lds, row.eds, row.rds].every((s) => s === 'SYNCED');
  const rowOf = async (vmi: string) => {
    const pod = await launcherPod(vmi);
    return proxyStatusRows(await proxyStatus()).find((r) => r.name === `${pod.metadata.name}.default`);
  };

  before(async () => {
    // kubevirt.io, istio-vmi's outside site, is the cluster's stand-in, as `npm run demo` has it.
    c = await startVmCluster({ VIRTMESH_EXTERNAL_STAND_IN: 'kubevirt.io' });
    const child = spawn('bash', [join(import.meta.dirname, '..', 'scripts', 'demo.sh')], { env: { ...c.env, HOME: c.dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    demo = new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
    void demo.then(() => (demoExited = true));
    stopDemo = () => void (demoExited || child.kill('SIGTERM'));
    // A third VM in the walkthrough's namespace, once the demo has prepared it for injection.
    await eventually(
      'the demo to prepare namespace default',
      async () => {
        if (demoExited) throw new Error(`the demo ended early:\n${stdout}\n${stderr}`);
        return (await c.kubectl(['get', 'net-attach-def', 'istio-cni'])).code === 0;
      },
      60_000,
      500,
    );
    await c.k(['create', '-f', '-'], listenerVmi('port-vmi'));
  });

  after(async () => {
    const tag = c?.tag;
    const state = c?.stateDir;
    stopDemo(); // it has ended, unless a case before it failed
    await demo;
    await c?.down();
    if (tag && state) assert.deepEqual(leftovers(tag, state), [], 'cluster down left nothing behind');
  });

  // The troubleshooting cases of docs/troubleshooting.md: two while the demo waits for istio-vmi's probe, the third
  // (which freezes the control plane) once the demo is done.

  it("troubleshooting Init:0/3: an injected pod waits with Multus's event until the istio-cni network exists", async () => {
    await c.k(['create', 'namespace', 'nonad']);
    await c.k(['label', 'namespace', 'nonad', 'istio-injection=enabled']);
    await c.k(['create', '-n', 'nonad', '-f', '-'], listenerVmi('nonad-vmi'));
    const row = await eventually(
      'Init:0/3',
      async () => (await c.k(['get', 'pods', '-n', 'nonad', '--no-headers'])).split('\n').find((l) => /\s0\/3\s+Init:0\/3\s/.test(l)),
      60_000,
      1000,
    );
    assert.match(row, /^virt-launcher-nonad-vmi-/);
    const events = await c.k(['get', 'events', '-n', 'nonad', '--field-selector', 'reason=FailedCreatePodSandBox']);
    assert.match(events, /cannot find a network-attachment-definition \(istio-cni\) in namespace \(nonad\)/);
    // The fix docs/troubleshooting.md gives: create the network; the pod then starts.
    await c.k(['create', '-n', 'nonad', '-f', '-'], walkthrough('nad.yaml'));
    await eventually('the pod past Init:0/3', async () => /\s3\/3\s+Running\s/.test(await c.k(['get', 'pods', '-n', 'nonad', '--no-headers'])), 120_000, 1000);
    await c.k(['delete', 'namespace', 'nonad', '--wait=true', '--timeout=120s']);
  });

  it('troubleshooting 2/2: no sidecar in a namespace without the istio-injection label, and no proxy in proxy-status', async () => {
    await c.k(['create', 'namespace', 'nolabel']);
    await c.k(['create', '-n', 'nolabel', '-f', '-'], walkthrough('nad.yaml'));
    await c.k(['create', '-n', 'nolabel', '-f', '-'], listenerVmi('nolabel-vmi'));
    const row = await eventually(
      '2/2 Running',
      async () => (await c.k(['get', 'pods', '-n', 'nolabel', '--no-headers'])).split('\n').find((l) => /\s2\/2\s+Running\s/.test(l)),
      120_000,
      1000,
    );
    assert.match(row, /^virt-launcher-nolabel-vmi-\w+\s+2\/2\s/);
    assert.doesNotMatch(await proxyStatus(), /nolabel/);
    // The console's workload list marks it "Missing sidecar".
    const { consoleUrl } = runInfo();
    const workloads = await (await fetch(`${consoleUrl}/api/namespaces/nolabel/workloads`)).json();
    assert.deepEqual(
      workloads.map((w: { name: string; istioSidecar: boolean }) => [w.name, w.istioSidecar]),
      [['nolabel-vmi', false]],
    );
    const pods = await json(['get', 'pods', '-n', 'nolabel']);
    assert.deepEqual(
      pods.items[0].spec.containers.map((x: { name: string }) => x.name),
      ['compute', 'volumecontainerdisk'],
    );
    await c.k(['delete', 'namespace', 'nolabel', '--wait=true', '--timeout=120s']);
  });

  it('runs the walkthrough as `npm run demo` does: istio-vmi 2/3 while its probe waits, then both pods 3/3, both proxies SYNCED, the graph', async () => {
    const r = await demo;
    assert.equal(r.code, 0, `the demo failed:\n${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    for (let n = 1; n <= 6; n++) assert.match(out, new RegExp(`==> \\[\\s*\\d+s\\] ${n}/6 `), `step ${n} announced`);
    // The wait shows its progress: istio-vmi is 2/3 until its readiness probe has passed three times.
    assert.match(out, /\[\s*\d+s\] .*istio-vmi-\w+ 2\/3 Running/);
    const pods = out.slice(out.indexOf('+ kubectl get pods\n'));
    assert.match(pods, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    assert.match(pods, /^virt-launcher-istio-vmi-\w+\s+3\/3\s+Running\s/m);
    assert.match(pods, /^virt-launcher-cirros-vmi-\w+\s+3\/3\s+Running\s/m);
    const status = out.slice(out.indexOf('+ virtmesh proxy-status\n'));
    const rows = proxyStatusRows(status.split('\n').slice(1).join('\n')).filter((row) => /^virt-launcher-(istio|cirros)-vmi-/.test(row.name));
    assert.equal(rows.length, 2);
    assert.ok(rows.every(synced), status);
    assert.match(out, /cirros-vmi -> istio-vmi-svc\s+\d\.\d\d rps/);
    assert.match(out, /istio-vmi-svc -> istio-vmi\s+\d\.\d\d rps/);
    assert.match(out, /istio-vmi -> PassthroughCluster\s+\d\.\d\d rps/);
    const { consoleUrl } = runInfo();
    assert.ok(out.includes(`Console (istioctl dashboard kiali):   ${consoleUrl}`), 'the console URL');
  });

  it('troubleshooting 2/3: the sidecar is not ready until the control plane answers, and says so in its log', async () => {
    await c.k(['create', 'namespace', 'nocp']);
    await c.k(['label', 'namespace', 'nocp', 'istio-injection=enabled']);
    await c.k(['create', '-n', 'nocp', '-f', '-'], walkthrough('nad.yaml'));
    const pid = Number(readFileSync(join(c.stateDir, 'run', 'pilot.pid'), 'utf8'));
    process.kill(pid, 'SIGSTOP'); // connections are accepted, nothing answers: as an istiod that does not serve
    try {
      await c.k(['create', '-n', 'nocp', '-f', '-'], listenerVmi('nocp-vmi'));
      const pod = await eventually(
        '2/3 Running with istio-proxy not ready',
        async () => {
          const p = (await json(['get', 'pods', '-n', 'nocp'])).items[0];
          const statuses: Array<{ name: string; ready: boolean }> = p?.status?.containerStatuses ?? [];
          const ready = Object.fromEntries(statuses.map((x) => [x.name, x.ready]));
          return p?.status?.phase === 'Running' && ready.compute && ready['istio-proxy'] === false ? p : undefined;
        },
        120_000,
        1000,
      );
      const name = pod.metadata.name as string;
      assert.match(await c.k(['get', 'pod', '-n', 'nocp', name, '--no-headers']), /\s2\/3\s+Running\s/);
      const log = await eventually(
        "the sidecar's reason in its log",
        async () => {
          const text = await c.k(['logs', '-n', 'nocp', name, '-c', 'istio-proxy']);
          return text.includes('Envoy proxy is NOT ready: config not received from XDS server (is Istiod running?)') ? text : undefined;
        },
        30_000,
        1000,
      );
      assert.ok(log);
      const events = await c.k(['get', 'events', '-n', 'nocp', '--field-selector', 'reason=Unhealthy']);
      assert.match(events, /Readiness probe failed: HTTP probe failed with statuscode: 503/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await eventually(
      '3/3 once the control plane answers',
      async () => /\s3\/3\s+Running\s/.test(await c.k(['get', 'pods', '-n', 'nocp', '--no-headers'])),
      120_000,
      1000,
    );
    await c.k(['delete', 'namespace', 'nocp', '--wait=true', '--timeout=120s']);
  });

  it('injects the sidecar: both launcher pods 3/3 Running, with the probe rewritten to the agent', async () => {
    await c.k(['wait', '--for=condition=ready', '--timeout=400s', 'pod', '-l', 'app=istio-vmi']);
    await eventually(
      'both walkthrough launcher pods 3/3 Running',
      async () => {
        const rows = (await c.k(['get', 'pods', '--no-headers'])).split('\n').filter((l) => /^virt-launcher-(istio|cirros)-vmi-/.test(l));
        return rows.length === 2 && rows.every((r) => /\s3\/3\s+Running\s/.test(r));
      },
      120_000,
      1000,
    );
    const pod = await launcherPod('istio-vmi');
    assert.deepEqual(
      pod.spec.containers.map((x: { name: string }) => x.name),
      ['compute', 'volumecontainerdisk', 'istio-proxy'],
    );
    assert.deepEqual(
      pod.spec.initContainers.map((x: { name: string }) => x.name),
      ['istio-validation', 'container-disk-binary', 'volumecontainerdisk-init'],
    );
    assert.deepEqual(pod.spec.containers[0].readinessProbe.httpGet, { path: '/app-health/compute/readyz', port: 15020, scheme: 'HTTP' });
    assert.equal(pod.metadata.annotations['traffic.sidecar.istio.io/kubevirtInterfaces'], 'k6t-eth0');
    assert.match(await c.k(['logs', pod.metadata.name, '-c', 'istio-proxy']), /\S/, 'the sidecar logs');
  });

  it('proxy-status lists both proxies, SYNCED for CDS, LDS, EDS and RDS', async () => {
    const out = await eventually(
      'both proxies SYNCED',
      async () => {
        const text = await proxyStatus();
        const rows = proxyStatusRows(text).filter((r) => /^virt-launcher-(istio|cirros)-vmi-/.test(r.name));
        return rows.length === 2 && rows.every(synced) ? text : undefined;
      },
      60_000,
      1000,
    );
    assert.match(out.split('\n')[0], /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ECDS\s+ISTIOD\s+VERSION\s*$/);
    assert.match(out, /virt-launcher-istio-vmi-\w+\.default\s+Kubernetes\s+SYNCED/);
  });

  it("carries cirros-vmi's loop through both sidecars; both report it with Istio's labels at about 1 request per second", async () => {
    const where = { source_workload: 'cirros-vmi', destination_workload: 'istio-vmi', destination_service_name: 'istio-vmi-svc', response_code: '200' };
    const count = (vmi: string, reporter: string) => requests(vmi, { ...where, reporter });
    await eventually(
      'requests reported by both sidecars',
      async () => (await count('istio-vmi', 'destination')) > 0 && (await count('cirros-vmi', 'source')) > 0,
      120_000,
      1000,
    );
    const dest = samples(await metrics('istio-vmi'), 'istio_requests_total').find(
      (s) => s.labels.reporter === 'destination' && s.labels.source_workload === 'cirros-vmi',
    );
    assert.ok(dest);
    assert.deepEqual(
      {
        source_workload_namespace: dest.labels.source_workload_namespace,
        source_app: dest.labels.source_app,
        destination_workload_namespace: dest.labels.destination_workload_namespace,
        destination_app: dest.labels.destination_app,
        destination_service: dest.labels.destination_service,
        destination_service_namespace: dest.labels.destination_service_namespace,
        request_protocol: dest.labels.request_protocol,
        connection_security_policy: dest.labels.connection_security_policy,
        source_principal: dest.labels.source_principal,
      },
      {
        source_workload_namespace: 'default',
        source_app: 'cirros-vmi',
        destination_workload_namespace: 'default',
        destination_app: 'istio-vmi',
        destination_service: 'istio-vmi-svc.default.svc.cluster.local',
        destination_service_namespace: 'default',
        request_protocol: 'http',
        connection_security_policy: 'none',
        // Principals come from mTLS certificates; plaintext traffic has none, as in Istio without mTLS.
        source_principal: 'unknown',
      },
    );
    const window = 20;
    const [d1, s1] = [await count('istio-vmi', 'destination'), await count('cirros-vmi', 'source')];
    await new Promise((r) => setTimeout(r, window * 1000));
    const [d2, s2] = [await count('istio-vmi', 'destination'), await count('cirros-vmi', 'source')];
    for (const [who, rate] of [
      ['destination', (d2 - d1) / window],
      ['source', (s2 - s1) / window],
    ] as const) {
      assert.ok(rate >= 0.5 && rate <= 1.5, `${who}-reported rate ${rate.toFixed(2)} rps; the loop makes about 1`);
    }
    const durations = samples(await metrics('istio-vmi'), 'istio_request_duration_milliseconds_count');
    assert.ok(sum(durations, { reporter: 'destination', source_workload: 'cirros-vmi' }) > 0, 'request durations recorded');
  });

  // The walkthrough's steady state over a real 5-minute window: it opens here, the cases below
  // run meanwhile (none of them is on the loop's path), and it is judged before the daemon is
  // killed (its DNS server answers cirros-vmi's lookups).
  const STEADY_SECONDS = 300;
  let steadyFrom = 0;
  it('opens a 5-minute window of steady state, with the loop answered', async () => {
    const n = await loopRequests();
    await eventually('the loop answered', async () => (await loopRequests()) > n, 30_000, 1000);
    steadyFrom = Math.floor(Date.now() / 1000);
  });

  it("reports istio-vmi's calls to kubevirt.io, answered by the external stand-in, as PassthroughCluster", async () => {
    const standIn = standInAddress(c.env.VIRTMESH_NODE_POD_CIDR as string);
    const dnsServer = (await json(['get', 'endpoints', '-n', 'kube-system', 'kube-dns'])).subsets[0].addresses[0].ip; // the node's bridge, port 53
    assert.deepEqual((await dnsQuery(dnsServer, 'kubevirt.io')).answers, [standIn], 'the cluster DNS answers kubevirt.io with the stand-in');
    assert.match(await httpGet(standIn, 80, '/'), /A stand-in for 10\.[\d.]+, served by virtmesh/);
    const m = samples(await metrics('istio-vmi'), 'istio_requests_total');
    const passthrough = m.filter((s) => s.labels.reporter === 'source' && s.labels.destination_service_name === 'PassthroughCluster');
    assert.ok(passthrough.length > 0, 'source-reported PassthroughCluster requests');
    assert.equal(passthrough[0].labels.destination_service, 'kubevirt.io');
    assert.equal(passthrough[0].labels.source_workload, 'istio-vmi');
    assert.equal(passthrough[0].labels.response_code, '200');
    // The access log names the upstream: the stand-in's address, outside the mesh.
    const log = await c.k(['logs', (await launcherPod('istio-vmi')).metadata.name, '-c', 'istio-proxy']);
    assert.ok(log.includes(`"kubevirt.io" "${standIn}:80" PassthroughCluster`), 'an access log line for kubevirt.io through PassthroughCluster');
  });

  // Prometheus, the graph and metrics API and the console, while the walkthrough's traffic runs.
  observabilityCases(() => c);

  it('takes inbound connections through the sidecar: a declared port, any port of a VM that declares none, never 15008', async () => {
    const istio = (await launcherPod('istio-vmi')).status.podIP;
    assert.match(await eventually('Hello from istio-vmi:8080', async () => (await httpGet(istio, 8080)).match(/Hello/)?.[0], 30_000, 500), /Hello/);
    await c.k(['wait', '--for=condition=ready', '--timeout=300s', 'pod', '-l', 'app=port-vmi']);
    const port = (await launcherPod('port-vmi')).status.podIP;
    assert.equal(await eventually('port-vmi:9090', () => httpGet(port, 9090).catch(() => undefined), 120_000, 1000), 'port-vmi-9090\n');
    // No Service names 9090: it reaches the guest through InboundPassthroughCluster, a TCP proxy, as in Istio.
    const inbound = samples(await metrics('port-vmi'), 'istio_tcp_connections_opened_total');
    assert.ok(sum(inbound, { reporter: 'destination', destination_workload: 'port-vmi' }) > 0, 'the inbound connection went through the sidecar');
    // The sidecar's admin API listens on the pod's loopback only: no way in from outside, captured or not.
    assert.equal(await tcpState(port, 15000), 'ECONNREFUSED');
    // The guest listens on 15008 too, but Istio's ports stay with the sidecar (which has nothing there).
    assert.notEqual(await tcpState(port, 15008).then(async (s) => (s === 'open' ? httpGet(port, 15008).catch(() => 'closed') : s)), 'guest-15008\n');
  });

  it('pushes a new endpoint to every proxy; proxy-status shows it SYNCED with a new version', async () => {
    /** The EDS version a proxy acknowledged, from `virtmesh proxy-status <pod>`'s per-type table. */
    const ackedEds = async (pod: string) => {
      const r = await c.virtmesh(['proxy-status', `${pod}.default`]);
      assert.equal(r.code, 0, r.stderr);
      const row = r.stdout.split('\n').find((l) => l.startsWith('EDS '));
      return row?.trim().split(/\s+/)[4];
    };
    const pods = await Promise.all(['istio-vmi', 'cirros-vmi'].map(async (vmi) => (await launcherPod(vmi)).metadata.name as string));
    const before = await Promise.all(pods.map(ackedEds));
    await c.k(
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'port-svc' }, spec: { selector: { app: 'port-vmi' }, ports: [{ port: 9090 }] } }),
    );
    const portIP = (await launcherPod('port-vmi')).status.podIP;
    for (const [i, pod] of pods.entries()) {
      await eventually(
        `${pod} has port-svc's endpoint`,
        async () => {
          const r = await c.virtmesh(['proxy-config', 'endpoint', `${pod}.default`]);
          return r.code === 0 && r.stdout.split('\n').some((l) => l.includes(`${portIP}:9090`) && l.includes('port-svc.default.svc.cluster.local'));
        },
        60_000,
        1000,
      );
      await eventually(
        `${pod} acknowledges a new EDS version`,
        async () => {
          const now = await ackedEds(pod);
          return now !== undefined && now !== '-' && now !== before[i];
        },
        30_000,
        500,
      );
    }
    await eventually('every proxy SYNCED after the push', async () => synced(await rowOf('istio-vmi')) && synced(await rowOf('cirros-vmi')), 60_000, 1000);
  });

  it('keeps the last good config when a proxy rejects one (NACK), and serves on', async () => {
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'istio-vmi-regex' },
      // RE2 takes the ungreedy flag; the sidecar compiles routes with JavaScript's RegExp, which has no such thing.
      spec: { hosts: ['istio-vmi-svc'], http: [{ match: [{ uri: { regex: '(?U)/(.*)' } }], route: [{ destination: { host: 'istio-vmi-svc' } }] }] },
    };
    await c.k(['create', '-f', '-'], JSON.stringify(vs));
    const row = await eventually(
      'cirros-vmi NACKs the route',
      async () => {
        const r = await rowOf('cirros-vmi');
        return r && /NACK/.test(r.rds) ? r : undefined;
      },
      60_000,
      1000,
    );
    assert.equal(row.cds, 'SYNCED');
    const count = () => loopRequests();
    const n1 = await count();
    await eventually('traffic on, with the old routes', async () => (await count()) >= n1 + 3, 30_000, 1000);
    await c.k(['delete', 'virtualservice', 'istio-vmi-regex']);
    await eventually('SYNCED once the bad route is gone', async () => synced(await rowOf('cirros-vmi')), 60_000, 1000);
  });

  it('serves traffic while the control plane is away and resyncs when it comes back', async () => {
    const pidFile = join(c.stateDir, 'run', 'pilot.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const count = () => loopRequests();
    process.kill(pid, 'SIGSTOP'); // frozen: connections stay open, nothing answers
    try {
      const n1 = await count();
      await eventually('traffic while the control plane is frozen', async () => (await count()) >= n1 + 5, 30_000, 1000);
    } finally {
      process.kill(pid, 'SIGKILL');
      process.kill(pid, 'SIGCONT');
    }
    const n2 = await count();
    await eventually('traffic while the control plane is down', async () => (await count()) >= n2 + 2, 30_000, 500);
    await eventually('a new control plane process', async () => Number(readFileSync(pidFile, 'utf8')) !== pid, 30_000, 500);
    await eventually('both proxies back and SYNCED', async () => synced(await rowOf('istio-vmi')) && synced(await rowOf('cirros-vmi')), 90_000, 1000);
  });

  it("holds the walkthrough's steady state for 5 minutes: under 1% of istio-vmi's inbound requests fail, at least 0.9 ops, the graph healthy", async (t) => {
    assert.ok(steadyFrom > 0, 'the window was opened');
    const end = steadyFrom + STEADY_SECONDS;
    // Wait out the window, and two scrapes (every 5 s) past it.
    const left = end + 10 - Date.now() / 1000;
    t.diagnostic(`${Math.max(0, Math.round(left))} s of the window left`);
    if (left > 0) await new Promise((r) => setTimeout(r, left * 1000));
    const { prometheusUrl, consoleUrl } = runInfo();
    const steady = await walkthroughSteadyState(prometheusUrl, end, STEADY_SECONDS);
    t.diagnostic(
      `over ${STEADY_SECONDS} s: ${steady.requests.toFixed(1)} requests to istio-vmi, failed ${JSON.stringify(steady.failed)}, ${steady.rate.toFixed(3)} ops`,
    );
    assert.ok(steady.requests > 0, 'istio-vmi was asked');
    assert.ok(steady.failedShare < 0.01, `${(100 * steady.failedShare).toFixed(2)}% of istio-vmi's inbound requests failed: ${JSON.stringify(steady.failed)}`);
    assert.ok(steady.rate >= 0.9, `cirros-vmi -> istio-vmi at ${steady.rate.toFixed(3)} ops; the walkthrough shows about 1`);
    // The console's graph of the same 5 minutes: every node and edge with traffic healthy (Kiali: no 5xx at all).
    const graph = await getJson<GraphResponse>(
      `${consoleUrl}/api/namespaces/graph?namespaces=default&graphType=workload&duration=${STEADY_SECONDS}s&queryTime=${end}&injectServiceNodes=true`,
    );
    const edges = edgeNames(graph);
    for (const e of ['cirros-vmi -> istio-vmi-svc', 'istio-vmi-svc -> istio-vmi', 'istio-vmi -> PassthroughCluster']) {
      assert.equal(edges.get(e)?.health, 'healthy', `${e}: ${edges.get(e)?.health} ${JSON.stringify(edges.get(e)?.responses)}`);
    }
    for (const [name, e] of edges) assert.ok(['healthy', 'na'].includes(e.health), `edge ${name}: ${e.health} ${JSON.stringify(e.responses)}`);
    for (const { data: n } of graph.elements.nodes) {
      assert.ok(['healthy', 'na'].includes(n.health), `node ${n.label}: ${n.health} ${n.healthReason ?? ''}`);
    }
    assert.equal(graph.elements.nodes.find((n) => n.data.label === 'istio-vmi' && n.data.nodeType !== 'box')?.data.health, 'healthy');
  });

  it('takes the sidecars over when the daemon is killed and started again: same process, same counters, SYNCED again', async () => {
    const pod = await launcherPod('istio-vmi');
    const pidFile = join(c.stateDir, 'node', 'pods', pod.metadata.uid, 'istio-proxy.pid');
    const sidecarPid = Number(readFileSync(pidFile, 'utf8'));
    const count = () => loopRequests(false);
    const before = await count();
    const daemon = runInfo().pid as number;
    const prometheusPid = Number(readFileSync(join(c.stateDir, 'run', 'prometheus.pid'), 'utf8'));
    const crashedAt = Math.floor(Date.now() / 1000);
    process.kill(daemon, 'SIGKILL');
    await eventually('the daemon to die', async () => !existsSync(`/proc/${daemon}`), 10_000, 50);
    // Prometheus goes with its daemon, however the daemon ends.
    await eventually("the daemon's Prometheus to end", async () => !existsSync(`/proc/${prometheusPid}`), 10_000, 50);
    const up = await c.virtmesh(['cluster', 'up']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(Number(readFileSync(pidFile, 'utf8')), sidecarPid, 'the same sidecar process');
    assert.ok(existsSync(`/proc/${sidecarPid}`));
    // A new process would have started its counters at zero.
    await eventually('the counters go on from where they were', async () => (await count()) > before, 60_000, 1000);
    await eventually('both proxies reconnected and SYNCED', async () => synced(await rowOf('istio-vmi')) && synced(await rowOf('cirros-vmi')), 90_000, 1000);
    assert.match(await c.k(['get', 'pod', pod.metadata.name, '--no-headers']), /\s3\/3\s+Running\s/);
    // The restarted Prometheus has what the old one scraped before the crash.
    const { prometheusUrl } = runInfo();
    const old = await eventually(
      'the restarted Prometheus to answer with the data scraped before the crash',
      async () => {
        const r = await (await fetch(`${prometheusUrl}/api/v1/query?query=istio_requests_total&time=${crashedAt - 10}`)).json();
        return r.data?.result?.length > 0 ? r.data.result : undefined;
      },
      30_000,
      500,
    );
    assert.ok(old.some((s: { metric: Record<string, string> }) => s.metric.source_workload === 'cirros-vmi'));
  });
});
