// One side of the benchmark's sidecar pair, as its own process (as in a pod): the
// source sidecar takes wrk's connections on its outbound listener as if captured on
// their way to a service address; the destination sidecar takes them on its inbound
// listener and forwards to the upstream. The config is what the control plane would
// push for one HTTP service with one endpoint, given statically.
// Run by bench/proxy.ts: node --import tsx bench/sidecar-process.ts outbound|inbound

import { type ProxyConfigSet, type ProxyNode, startSidecar } from '../src/proxy/index.js';
import { nodeOf, workload } from '../src/proxy/test-helpers.js';

const side = process.argv[2] as 'outbound' | 'inbound';
const upstream = Number(process.env.VIRTMESH_BENCH_UPSTREAM);
const outboundPort = Number(process.env.VIRTMESH_BENCH_OUTBOUND);
const inboundPort = Number(process.env.VIRTMESH_BENCH_INBOUND);
const SERVICE_IP = '10.96.0.100';
const HOST = 'bench.default.svc.cluster.local';
const service = { host: HOST, name: 'bench', namespace: 'default' };

const node = (name: string, ip: string): ProxyNode => nodeOf(workload(name, ip));

const outboundConfig: ProxyConfigSet = {
  clusters: [
    { name: `outbound|8080||${HOST}`, type: 'EDS', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, service },
    { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000 },
  ],
  endpoints: [{ clusterName: `outbound|8080||${HOST}`, endpoints: [{ address: '127.0.0.1', port: inboundPort, healthStatus: 'HEALTHY' }] }],
  listeners: [
    {
      name: 'virtualOutbound',
      address: '0.0.0.0',
      port: 15001,
      trafficDirection: 'OUTBOUND',
      useOriginalDst: true,
      protocol: 'tcp',
      filterChains: [],
      defaultFilterChain: { filter: { type: 'tcp', cluster: 'PassthroughCluster' } },
    },
    {
      name: `${SERVICE_IP}_8080`,
      address: SERVICE_IP,
      port: 8080,
      trafficDirection: 'OUTBOUND',
      protocol: 'http',
      filterChains: [{ filter: { type: 'http', routeConfigName: `${HOST}:8080` } }],
    },
  ],
  routes: [
    {
      name: `${HOST}:8080`,
      virtualHosts: [{ name: `${HOST}:8080`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: `outbound|8080||${HOST}` } }] }],
    },
  ],
};

const inboundConfig: ProxyConfigSet = {
  clusters: [
    {
      name: 'inbound|8080||',
      type: 'STATIC',
      lbPolicy: 'ROUND_ROBIN',
      connectTimeoutMs: 10_000,
      service,
      upstreamAddress: '127.0.0.1',
      upstreamPort: upstream,
    },
    { name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000 },
  ],
  endpoints: [],
  listeners: [
    {
      name: 'virtualInbound',
      address: '0.0.0.0',
      port: 15006,
      trafficDirection: 'INBOUND',
      useOriginalDst: true,
      protocol: 'http',
      filterChains: [{ match: { destinationPort: 8080 }, filter: { type: 'http', routeConfigName: 'inbound|8080||' } }],
      defaultFilterChain: { filter: { type: 'tcp', cluster: 'InboundPassthroughCluster' } },
    },
  ],
  routes: [
    {
      name: 'inbound|8080||',
      virtualHosts: [{ name: 'inbound|http|8080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }] }],
    },
  ],
};

// Ports other than the capture listener are ephemeral: two sidecars share this host's loopback.
const spare = { admin: 0, agent: 0, health: 0, prometheus: 0 };
const sidecar =
  side === 'outbound'
    ? await startSidecar({
        node: node('client', '10.244.0.10'),
        initialConfig: outboundConfig,
        ports: { ...spare, outbound: outboundPort, inbound: 0 },
        bindAddress: '127.0.0.1',
        originalDst: () => ({ address: SERVICE_IP, port: 8080 }),
      })
    : await startSidecar({
        node: node('server', '10.244.0.11'),
        initialConfig: inboundConfig,
        ports: { ...spare, outbound: 0, inbound: inboundPort },
        bindAddress: '127.0.0.1',
        originalDst: () => ({ address: '10.244.0.11', port: 8080 }),
      });
process.on('SIGTERM', () => void sidecar.close().then(() => process.exit(0)));
