// Prints the console's workload graph of a namespace as "source -> target  rate" lines, and
// exits 0 only when it has the walkthrough's traffic: cirros-vmi -> istio-vmi-svc -> istio-vmi
// and istio-vmi -> PassthroughCluster (with --healthy, also each under 10% errors, short of
// Kiali's "failure"). Used by scripts/demo.sh to wait for the graph.
// With --steady, prints the walkthrough's steady state from Prometheus instead: the share of
// istio-vmi's inbound requests that failed (as its sidecar counted them) and the rate of
// cirros-vmi's loop, over the last `seconds` (60 unless given).
// Usage: node scripts/demo-graph.mjs <console URL> [namespace] [--healthy]
//        node scripts/demo-graph.mjs --steady <Prometheus URL> [seconds]

const args = process.argv.slice(2);
if (args[0] === '--steady') await steady(args[1], Number(args[2] ?? 60));
const healthy = args.includes('--healthy');
const [url, namespace = 'default'] = args.filter((a) => a !== '--healthy');
if (!url) {
  console.error('usage: node scripts/demo-graph.mjs <console URL> [namespace] [--healthy]');
  process.exit(2);
}
const WANTED = ['cirros-vmi -> istio-vmi-svc', 'istio-vmi-svc -> istio-vmi', 'istio-vmi -> PassthroughCluster'];

let graph;
try {
  const res = await fetch(`${url}/api/namespaces/graph?namespaces=${encodeURIComponent(namespace)}&graphType=workload&duration=60s`, {
    signal: AbortSignal.timeout(10_000),
  });
  graph = await res.json();
  if (!res.ok) throw new Error(graph.error ?? `HTTP ${res.status}`);
} catch (e) {
  console.log(`  (the console does not answer yet: ${e.message})`);
  process.exit(1);
}
const label = new Map(graph.elements.nodes.map((n) => [n.data.id, n.data.label]));
const edges = graph.elements.edges.map((e) => {
  const perSecond = Number(e.data.http ? e.data.http.rate : (e.data.tcp?.bytesPerSec ?? 0));
  const rate = e.data.http ? `${perSecond.toFixed(2)} rps, ${Number(e.data.http.percentErr).toFixed(0)}% errors` : `${Math.round(perSecond * 8)} bit/s`;
  const ok = perSecond > 0 && (!healthy || Number(e.data.http?.percentErr ?? 0) < 10);
  return { name: `${label.get(e.data.source)} -> ${label.get(e.data.target)}`, rate, ok };
});
for (const e of edges) console.log(`  ${e.name.padEnd(36)} ${e.rate}`);
if (edges.length === 0) console.log('  (no traffic in the last minute yet)');
process.exit(WANTED.every((w) => edges.some((e) => e.name === w && e.ok)) ? 0 : 1);

async function steady(prometheus, seconds) {
  if (!prometheus || !(seconds > 0)) {
    console.error('usage: node scripts/demo-graph.mjs --steady <Prometheus URL> [seconds]');
    process.exit(2);
  }
  const query = async (q) => {
    const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  try {
    const byCode = await query(
      `sum by (response_code, response_flags) (increase(istio_requests_total{reporter="destination",destination_workload="istio-vmi"}[${seconds}s]))`,
    );
    const [rate] = await query(`sum(rate(istio_requests_total{reporter="source",source_workload="cirros-vmi",destination_workload="istio-vmi"}[${seconds}s]))`);
    const total = byCode.reduce((a, r) => a + r.value, 0);
    const failed = byCode.filter((r) => !r.metric.response_code?.startsWith('2') && r.value > 0);
    const failedCount = failed.reduce((a, r) => a + r.value, 0);
    const why = failed.map((r) => `${Math.round(r.value)} ${r.metric.response_code} ${r.metric.response_flags}`).join(', ');
    const share = total > 0 ? (100 * failedCount) / total : 0;
    console.log(
      `  istio-vmi's inbound requests, last ${seconds} s: ${Math.round(total)}, ${Math.round(failedCount)} failed (${share.toFixed(1)}%)${why ? `: ${why}` : ''}`,
    );
    console.log(`  cirros-vmi -> istio-vmi: ${(rate?.value ?? 0).toFixed(2)} ops`);
  } catch (e) {
    console.log(`  (Prometheus does not answer: ${e.message})`);
    process.exit(1);
  }
  process.exit(0);
}
