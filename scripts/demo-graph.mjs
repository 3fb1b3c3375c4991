// Prints the console's workload graph of a namespace as "source -> target  rate" lines, and
// exits 0 only when it has the walkthrough's traffic: cirros-vmi -> istio-vmi-svc -> istio-vmi
// and istio-vmi -> PassthroughCluster (with --healthy, also each under 10% errors, short of
// Kiali's "failure"). Used by scripts/demo.sh to wait for the graph.
// Usage: node scripts/demo-graph.mjs <console URL> [namespace] [--healthy]

const args = process.argv.slice(2);
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
