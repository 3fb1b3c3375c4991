// Development only: drives the console on the fixture server with Chromium and takes screenshots.
//   node src/console/web/dev/screenshots.mjs http://127.0.0.1:8089/prefix/ /tmp/shots
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:8089/';
const out = process.argv[3] ?? '/tmp/virtmesh-shots';
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const problems = [];
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
const fixture = (q) => fetch(new URL(`/__fixture?${q}`, base)).then((r) => r.json());

async function shot(hash, name, wait) {
  await page.goto(`${base}#${hash}`);
  if (wait) await wait();
  await page.waitForTimeout(700);
  await page.screenshot({ path: `${out}/${name}.png` });
  console.log(`${name}: ${out}/${name}.png`);
}

await shot('/graph', 'graph', () => page.waitForFunction(() => (window.__virtmeshGraph?.nodes().length ?? 0) > 0));
console.log(
  'graph nodes',
  await page.evaluate(() =>
    window.__virtmeshGraph
      .nodes()
      .map((n) => `${n.id}:${n.nodeType}`)
      .join(' '),
  ),
);
console.log('graph edges', await page.evaluate(() => JSON.stringify(window.__virtmeshGraph.edges().slice(0, 2))));
// Drag a node, reload, and check it stays where it was dropped.
const target = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-legacy-vm'));
const box = await page.getByTestId('graph').boundingBox();
await page.mouse.move(box.x + target.renderedPosition.x, box.y + target.renderedPosition.y);
await page.mouse.down();
await page.mouse.move(box.x + target.renderedPosition.x + 80, box.y + target.renderedPosition.y + 60, { steps: 8 });
await page.mouse.up();
const dragged = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-legacy-vm').position);
await page.getByTestId('refresh').click();
await page.waitForTimeout(500);
const afterRefresh = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-legacy-vm').position);
await page.reload();
await page.waitForFunction(() => (window.__virtmeshGraph?.nodes().length ?? 0) > 0);
const afterReload = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-legacy-vm').position);
console.log('drag', target.position, '->', dragged, 'refresh', afterRefresh, 'reload', afterReload);
await page.getByTestId('reset-layout').click();
const afterReset = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-legacy-vm').position);
console.log('after reset', afterReset, 'stored', await page.evaluate(() => localStorage.getItem('virtmesh.graph.positions')));
// Click a node and an edge.
const vmi = await page.evaluate(() => window.__virtmeshGraph.nodes().find((n) => n.id === 'wl-default-istio-vmi'));
await page.mouse.click(box.x + vmi.renderedPosition.x, box.y + vmi.renderedPosition.y);
await page.waitForSelector('[data-testid="side-panel"]');
await page.screenshot({ path: `${out}/graph-node-panel.png` });
await page.evaluate(() => window.__virtmeshGraph.cy.getElementById('wl-default-curl-client->svc-default-istio-vmi').emit('tap'));
await page.waitForTimeout(200);
await page.screenshot({ path: `${out}/graph-edge-panel.png` });
await page.getByTestId('toggle-animation').check();
await page.getByTestId('edge-labels').selectOption('p95');
await page.waitForTimeout(500);
await page.screenshot({ path: `${out}/graph-animated.png` });
await page.getByTestId('toggle-animation').uncheck();

await shot('/workloads', 'workloads', () => page.waitForSelector('[data-testid="workloads-table"]'));
await shot('/workloads/default/istio-vmi', 'workload-overview', () => page.waitForSelector('[data-testid="pods-table"]'));
await shot('/workloads/default/istio-vmi?tab=inbound', 'workload-inbound', () =>
  page.waitForSelector('[data-testid="chart-request_count"][data-points]:not([data-points="0"])'),
);
console.log(
  'charts',
  await page.evaluate(() => [...document.querySelectorAll('[data-testid^="chart-"]')].map((c) => `${c.dataset.testid}=${c.dataset.points}`).join(' ')),
);
await shot('/workloads/default/istio-vmi?tab=outbound', 'workload-outbound', () => page.waitForSelector('[data-testid="chart-tcp_sent"]'));
await shot('/workloads/default/istio-vmi?tab=logs', 'workload-logs', () => page.waitForSelector('[data-testid="logs"]'));
await shot('/services', 'services', () => page.waitForSelector('[data-testid="services-table"]'));
await shot('/istio', 'istio-config', () => page.waitForSelector('[data-testid="istio-config-table"]'));
await shot('/proxy-status', 'proxy-status', () => page.waitForSelector('[data-testid="proxy-status-table"]'));

await fixture('prometheus=down');
await shot('/graph', 'prometheus-down', () => page.waitForSelector('[data-testid="banner-prometheus"]'));
console.log('banner', await page.getByTestId('banner-prometheus').textContent());
await fixture('prometheus=up');
await page.waitForSelector('[data-testid="banner-prometheus"]', { state: 'detached', timeout: 15000 });
console.log('banner gone after recovery');
await fixture('empty=1');
await shot('/graph', 'graph-empty', () => page.waitForSelector('[data-testid="empty"]'));
console.log('empty', await page.getByTestId('empty').first().textContent());
await shot('/workloads', 'workloads-empty', () => page.waitForSelector('[data-testid="empty"]'));
await fixture('empty=0&fail=workloads');
await shot('/workloads', 'workloads-error', () => page.waitForSelector('[data-testid="error"]'));
await fixture('fail=');

console.log(problems.length ? `console problems:\n${problems.join('\n')}` : 'no console errors');
await browser.close();
