import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RouteConfiguration } from './config.js';
import { findHeadEnd, type HttpHead, parseRequestHead } from './http-head.js';
import { CompiledRouteConfig, compileRe2, matchRoute, pickCluster } from './router.js';

function head(text: string): HttpHead {
  const buf = Buffer.from(text);
  return parseRequestHead(buf, 0, findHeadEnd(buf, 0)) as HttpHead;
}

const config: RouteConfiguration = {
  name: '8080',
  virtualHosts: [
    {
      name: 'exact',
      domains: ['svc.ns.svc.cluster.local', 'svc.ns.svc.cluster.local:8080'],
      routes: [{ name: 'exact', match: { prefix: '/' }, route: { cluster: 'a' } }],
    },
    { name: 'suffix', domains: ['*.example.com'], routes: [{ name: 'suffix', match: { prefix: '/' }, route: { cluster: 'b' } }] },
    { name: 'longer-suffix', domains: ['*.api.example.com'], routes: [{ name: 'longer-suffix', match: { prefix: '/' }, route: { cluster: 'c' } }] },
    { name: 'prefix', domains: ['internal.*'], routes: [{ name: 'prefix', match: { prefix: '/' }, route: { cluster: 'd' } }] },
    { name: 'any', domains: ['*'], routes: [{ name: 'any', match: { prefix: '/' }, route: { cluster: 'e' } }] },
  ],
};

describe('virtual hosts and routes', { timeout: 30_000 }, () => {
  const rc = new CompiledRouteConfig(config);
  const vhName = (host: string) => rc.findVirtualHost(host)?.virtualHost.name;

  it('picks exact domains first (with and without the port), then the longest *.suffix, then prefix.*, then *', () => {
    assert.equal(vhName('svc.ns.svc.cluster.local'), 'exact');
    assert.equal(vhName('SVC.ns.svc.cluster.local:8080'), 'exact');
    assert.equal(vhName('svc.ns.svc.cluster.local:9999'), 'exact', 'the port-less domain answers any port');
    assert.equal(vhName('www.example.com'), 'suffix');
    assert.equal(vhName('v1.api.example.com:80'), 'longer-suffix');
    assert.equal(vhName('internal.corp'), 'prefix');
    assert.equal(vhName('kubevirt.io'), 'any');
  });

  it('without a catch-all, an unknown host has no virtual host', () => {
    const strict = new CompiledRouteConfig({ name: 'x', virtualHosts: [config.virtualHosts[0]] });
    assert.equal(strict.findVirtualHost('other'), undefined);
  });

  it('refuses a domain in two virtual hosts, as Envoy does', () => {
    assert.throws(() => new CompiledRouteConfig({ name: 'x', virtualHosts: [config.virtualHosts[0], config.virtualHosts[0]] }), /more than one virtual host/);
  });

  it('matches routes first to last by path, prefix, regex (whole path) and headers', () => {
    const rc2 = new CompiledRouteConfig({
      name: 'r',
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            { name: 'exact-path', match: { path: '/login' }, route: { cluster: 'login' } },
            { name: 'regex', match: { safeRegex: '/api/v[0-9]+/.*' }, route: { cluster: 'api' } },
            { name: 'canary', match: { prefix: '/', headers: [{ name: 'x-canary', exact: 'yes' }] }, route: { cluster: 'canary' } },
            { name: 'by-agent', match: { prefix: '/', headers: [{ name: 'user-agent', regex: '(?i)curl/.*' }] }, route: { cluster: 'curl' } },
            {
              name: 'no-debug',
              match: {
                prefix: '/',
                headers: [
                  { name: 'x-debug', present: false },
                  { name: ':method', exact: 'GET' },
                ],
              },
              route: { cluster: 'plain' },
            },
            { name: 'rest', match: { prefix: '/' }, route: { cluster: 'rest' } },
          ],
        },
      ],
    });
    const vh = rc2.findVirtualHost('x')!;
    const route = (text: string) => {
      const h = head(text);
      const path = h.target.split('?')[0];
      return matchRoute(vh, h, h.host, path, h.target)?.route.name;
    };
    assert.equal(route('GET /login?next=/ HTTP/1.1\r\nHost: x\r\n\r\n'), 'exact-path');
    assert.equal(route('GET /login/2 HTTP/1.1\r\nHost: x\r\nx-debug: 1\r\n\r\n'), 'rest');
    assert.equal(route('GET /api/v2/users HTTP/1.1\r\nHost: x\r\n\r\n'), 'regex');
    assert.equal(route('GET /api/vX/users HTTP/1.1\r\nHost: x\r\n\r\n'), 'no-debug', 'the regex must match the whole path');
    assert.equal(route('GET / HTTP/1.1\r\nHost: x\r\nX-Canary: yes\r\n\r\n'), 'canary');
    assert.equal(route('POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: CURL/8.0\r\n\r\n'), 'by-agent');
    assert.equal(route('POST / HTTP/1.1\r\nHost: x\r\n\r\n'), 'rest');
  });

  it('compiles RE2 syntax JavaScript shares, and refuses what RE2 or JavaScript refuse', () => {
    assert.ok(compileRe2('(?P<ver>v[0-9]+)/.*').test('v1/x'));
    assert.ok(compileRe2('(?i)abc').test('ABC'));
    assert.ok(!compileRe2('ab').test('xaby'), 'whole-string match');
    assert.throws(() => compileRe2('(unclosed'), /invalid regex/);
    assert.throws(() => compileRe2('a(?=b)'), /not RE2/);
    assert.throws(() => compileRe2('(a)\\1'), /not RE2/);
    assert.throws(() => compileRe2('(?U)a'), /unsupported RE2 flag/);
  });

  it('draws weighted clusters by weight (a zero weight is never drawn)', () => {
    const rc3 = new CompiledRouteConfig({
      name: 'w',
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            {
              match: { prefix: '/' },
              route: {
                weightedClusters: [
                  { name: 'v1', weight: 0 },
                  { name: 'v2', weight: 75 },
                  { name: 'v3', weight: 25 },
                ],
              },
            },
          ],
        },
      ],
    });
    const r = rc3.findVirtualHost('x')!.routes[0];
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const c = pickCluster(r)!;
      counts[c] = (counts[c] ?? 0) + 1;
    }
    assert.equal(counts.v1, undefined);
    assert.ok(counts.v2 > counts.v3 * 2, JSON.stringify(counts));
  });
});
