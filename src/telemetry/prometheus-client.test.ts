import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PrometheusClient, PrometheusError, parsePrometheusDuration } from './prometheus-client.js';

/** A stand-in Prometheus behind a path prefix, answering as the real one does. */
let server: Server;
let base: string;
const seen: Array<{ path: string; body: URLSearchParams }> = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      seen.push({ path: req.url ?? '', body: params });
      const q = params.get('query') ?? '';
      const json = (status: number, o: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(o));
      };
      if (!req.url?.startsWith('/prometheus/api/v1/')) return json(404, { status: 'error', errorType: 'not_found', error: 'no such path' });
      if (q === 'slow') return setTimeout(() => json(200, { status: 'success', data: { resultType: 'vector', result: [] } }), 2000);
      if (q === 'html') {
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('<html>Bad Gateway</html>');
      }
      if (q.startsWith('sum('))
        return json(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error: unexpected end of input' });
      if (q === 'scalar(1)') return json(200, { status: 'success', data: { resultType: 'scalar', result: [1700000000, '1'] } });
      if (req.url.endsWith('query_range')) {
        return json(200, {
          status: 'success',
          data: {
            resultType: 'matrix',
            result: [
              {
                metric: { a: 'b' },
                values: [
                  [1, '1'],
                  [2, 'NaN'],
                ],
              },
            ],
          },
        });
      }
      json(200, { status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up' }, value: [1700000000, '1'] }] } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prometheus/`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const rejectsWith = async (p: Promise<unknown>, kind: string, message: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PrometheusError);
    assert.equal(e.kind, kind);
    assert.match(e.message, message);
    return true;
  });
};

describe('Prometheus client', () => {
  it('runs instant and range queries under a path prefix', async () => {
    const prom = new PrometheusClient(base);
    assert.equal(prom.url, base.slice(0, -1));
    assert.deepEqual(await prom.query('up', 1700000000), [{ metric: { __name__: 'up' }, value: [1700000000, '1'] }]);
    const last = seen.at(-1);
    assert.equal(last?.path, '/prometheus/api/v1/query');
    assert.equal(last?.body.get('time'), '1700000000');
    assert.deepEqual(await prom.query('scalar(1)'), [{ metric: {}, value: [1700000000, '1'] }]);
    const m = await prom.queryRange('up', 0, 60, 15);
    assert.equal(m[0].values.length, 2);
    assert.deepEqual(Object.fromEntries(seen.at(-1)?.body ?? []), { query: 'up', start: '0', end: '60', step: '15' });
  });

  it('says what failed: Prometheus rejecting the query, an HTTP error, a wrong URL', async () => {
    const prom = new PrometheusClient(base);
    await rejectsWith(prom.query('sum('), 'bad_query', /rejected the query \(bad_data\): invalid parameter "query": 1:5: parse error/);
    await rejectsWith(prom.query('html'), 'server', /answered HTTP 502 Bad Gateway for \/api\/v1\/query: <html>Bad Gateway/);
    const e = await new PrometheusClient(base.replace('/prometheus/', '/')).query('up').catch((x) => x);
    assert.equal(e.kind, 'server');
    assert.equal(e.status, 503);
    assert.equal(e.code, 'VM_ERR_TELEMETRY_PROMETHEUS_FAILED');
  });

  it('says Prometheus is unreachable, with the connect error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await rejectsWith(
      new PrometheusClient(`http://127.0.0.1:${port}`).query('up'),
      'unreachable',
      new RegExp(`^Prometheus at http://127\\.0\\.0\\.1:${port} is unreachable: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`),
    );
  });

  it('gives up after its timeout', async () => {
    await rejectsWith(new PrometheusClient(base, { timeoutMs: 200 }).query('slow'), 'unreachable', /did not answer within 0\.2 s/);
  });

  it('reads Prometheus durations', () => {
    assert.equal(parsePrometheusDuration('60s'), 60);
    assert.equal(parsePrometheusDuration('10m'), 600);
    assert.equal(parsePrometheusDuration('1h30m'), 5400);
    assert.equal(parsePrometheusDuration('600'), 600);
    assert.equal(parsePrometheusDuration('abc'), undefined);
    assert.equal(parsePrometheusDuration('0s'), undefined);
  });
});
