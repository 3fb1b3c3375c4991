import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../store/index.js';
import { CLUSTER_DNS_TTL, type ClusterDnsResult, createClusterDnsIndex } from './records.js';

const service = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({ metadata: { namespace, name }, spec });
const endpointsOf = (namespace: string, name: string, subsets: unknown[]): KubeObject => ({ metadata: { namespace, name }, subsets });

function fixture() {
  const index = createClusterDnsIndex();
  index.upsertService(
    service('shop', 'web', {
      clusterIP: '10.96.0.20',
      clusterIPs: ['10.96.0.20'],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    }),
  );
  index.upsertService(service('shop', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  index.upsertEndpoints(
    endpointsOf('shop', 'db', [
      {
        addresses: [{ ip: '10.244.0.5', hostname: 'db-0' }, { ip: '10.244.0.6' }],
        notReadyAddresses: [{ ip: '10.244.0.7', hostname: 'db-2' }],
        ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
      },
    ]),
  );
  index.upsertService(service('shop', 'ext', { type: 'ExternalName', externalName: 'payments.example.test.' }));
  return index;
}

const addresses = (r: ClusterDnsResult | undefined) => r?.answers.map((a) => ('data' in a ? a.data : undefined));

describe('cluster DNS index: services', () => {
  it('answers a ClusterIP service with its ClusterIP, with the default TTL', () => {
    const r = fixture().lookup('web.shop.svc.cluster.local', 'A');
    assert.equal(r?.rcode, 'NOERROR');
    assert.deepEqual(r?.answers, [{ name: 'web.shop.svc.cluster.local', type: 'A', ttl: CLUSTER_DNS_TTL, data: '10.96.0.20' }]);
    assert.equal(CLUSTER_DNS_TTL, 5);
  });

  it('matches names case-insensitively and with or without the trailing dot, keeping the asked case', () => {
    const r = fixture().lookup('WEB.Shop.SVC.cluster.local.', 'A');
    assert.deepEqual(addresses(r), ['10.96.0.20']);
    assert.equal(r?.answers[0].name, 'WEB.Shop.SVC.cluster.local');
  });

  it('answers AAAA for an existing name with no records (IPv4-only cluster), with the SOA for negative caching', () => {
    const r = fixture().lookup('web.shop.svc.cluster.local', 'AAAA');
    assert.equal(r?.rcode, 'NOERROR');
    assert.deepEqual(r?.answers, []);
    assert.equal(r?.authorities[0].type, 'SOA');
    assert.equal(r?.authorities[0].name, 'cluster.local');
  });

  it('says NXDOMAIN for unknown services, namespaces and shapes of names in the zone', () => {
    const index = fixture();
    for (const name of ['nope.shop.svc.cluster.local', 'web.other.svc.cluster.local', 'what.cluster.local', 'a.b.c.web.shop.svc.cluster.local']) {
      const r = index.lookup(name, 'A');
      assert.equal(r?.rcode, 'NXDOMAIN', name);
      assert.equal(r?.authorities[0].type, 'SOA', name);
    }
  });

  it('leaves names outside the cluster domain to be forwarded', () => {
    const index = fixture();
    assert.equal(index.lookup('example.com', 'A'), undefined);
    assert.equal(index.lookup('notcluster.local', 'A'), undefined);
  });

  it('answers the configured host names outside the cluster with their address, as the hosts plugin does', () => {
    const index = createClusterDnsIndex({ hosts: { 'kubevirt.io': '10.244.0.254' } });
    assert.deepEqual(addresses(index.lookup('KubeVirt.io.', 'A')), ['10.244.0.254']);
    assert.equal(index.lookup('kubevirt.io', 'A')?.answers[0].name, 'kubevirt.io');
    assert.deepEqual(index.lookup('kubevirt.io', 'AAAA')?.answers, [], 'no IPv6 address, and nothing forwarded');
    assert.equal(index.lookup('www.kubevirt.io', 'A'), undefined, 'only the exact name');
  });

  it('answers the names between the zone and the services as empty (they have names below them)', () => {
    const index = fixture();
    for (const name of ['cluster.local', 'svc.cluster.local', 'shop.svc.cluster.local', 'pod.cluster.local', 'shop.pod.cluster.local']) {
      const r = index.lookup(name, 'A');
      assert.equal(r?.rcode, 'NOERROR', name);
      assert.deepEqual(r?.answers, [], name);
    }
    assert.equal(index.lookup('cluster.local', 'SOA')?.answers[0].type, 'SOA');
  });

  it('reports the DNS schema version at dns-version.<zone>', () => {
    const r = fixture().lookup('dns-version.cluster.local', 'TXT');
    assert.deepEqual(r?.answers[0], { name: 'dns-version.cluster.local', type: 'TXT', ttl: 5, data: ['1.1.0'] });
  });

  it('honours another cluster domain', () => {
    const index = createClusterDnsIndex({ clusterDomain: 'Mesh.Internal.' });
    index.upsertService(service('default', 'api', { clusterIP: '10.0.0.9' }));
    assert.equal(index.clusterDomain, 'mesh.internal');
    assert.deepEqual(addresses(index.lookup('api.default.svc.mesh.internal', 'A')), ['10.0.0.9']);
    assert.equal(index.lookup('api.default.svc.cluster.local', 'A'), undefined);
  });

  it('replaces a service on upsert and forgets it on delete', () => {
    const index = fixture();
    index.upsertService(service('shop', 'web', { clusterIP: '10.96.0.99' }));
    assert.deepEqual(addresses(index.lookup('web.shop.svc.cluster.local', 'A')), ['10.96.0.99']);
    index.deleteService('shop', 'web');
    assert.equal(index.lookup('web.shop.svc.cluster.local', 'A')?.rcode, 'NXDOMAIN');
    index.clear();
    assert.equal(index.lookup('db.shop.svc.cluster.local', 'A')?.rcode, 'NXDOMAIN');
  });
});

describe('cluster DNS index: headless services and endpoints', () => {
  it('answers a headless service with its ready endpoint addresses only', () => {
    assert.deepEqual(addresses(fixture().lookup('db.shop.svc.cluster.local', 'A')), ['10.244.0.5', '10.244.0.6']);
  });

  it('says NXDOMAIN for a headless service without ready endpoints, as CoreDNS does', () => {
    const index = fixture();
    index.deleteEndpoints('shop', 'db');
    assert.equal(index.lookup('db.shop.svc.cluster.local', 'A')?.rcode, 'NXDOMAIN');
    index.upsertEndpoints(endpointsOf('shop', 'db', [{ notReadyAddresses: [{ ip: '10.244.0.5' }] }]));
    assert.equal(index.lookup('db.shop.svc.cluster.local', 'A')?.rcode, 'NXDOMAIN');
  });

  it('answers endpoint names: the hostname, else the IP with dashes', () => {
    const index = fixture();
    assert.deepEqual(addresses(index.lookup('db-0.db.shop.svc.cluster.local', 'A')), ['10.244.0.5']);
    assert.deepEqual(addresses(index.lookup('10-244-0-6.db.shop.svc.cluster.local', 'A')), ['10.244.0.6']);
    assert.equal(index.lookup('db-2.db.shop.svc.cluster.local', 'A')?.rcode, 'NXDOMAIN');
  });

  it('answers an endpoint without ports (headless service without ports)', () => {
    const index = createClusterDnsIndex();
    index.upsertService(service('ns', 'peers', { clusterIP: 'None' }));
    index.upsertEndpoints(endpointsOf('ns', 'peers', [{ addresses: [{ ip: '10.244.1.1' }] }]));
    assert.deepEqual(addresses(index.lookup('peers.ns.svc.cluster.local', 'A')), ['10.244.1.1']);
  });
});

describe('cluster DNS index: SRV', () => {
  it('answers _port._proto of a ClusterIP service with its port, the service name and its address', () => {
    const r = fixture().lookup('_http._tcp.web.shop.svc.cluster.local', 'SRV');
    assert.deepEqual(r?.answers, [
      {
        name: '_http._tcp.web.shop.svc.cluster.local',
        type: 'SRV',
        ttl: 5,
        data: { priority: 0, weight: 100, port: 80, target: 'web.shop.svc.cluster.local' },
      },
    ]);
    assert.deepEqual(r?.additionals, [{ name: 'web.shop.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.20' }]);
    assert.deepEqual(
      fixture()
        .lookup('_DNS._UDP.web.shop.svc.cluster.local', 'SRV')
        ?.answers.map((a) => (a.type === 'SRV' ? a.data.port : 0)),
      [53],
    );
  });

  it('says NXDOMAIN for a port or protocol the service does not have', () => {
    const index = fixture();
    assert.equal(index.lookup('_http._udp.web.shop.svc.cluster.local', 'SRV')?.rcode, 'NXDOMAIN');
    assert.equal(index.lookup('_grpc._tcp.web.shop.svc.cluster.local', 'SRV')?.rcode, 'NXDOMAIN');
  });

  it('answers SRV of the service name itself with every port', () => {
    const r = fixture().lookup('web.shop.svc.cluster.local', 'SRV');
    assert.deepEqual(
      r?.answers.map((a) => (a.type === 'SRV' ? [a.data.port, a.data.weight] : [])),
      [
        [80, 50],
        [53, 50],
      ],
    );
  });

  it('points SRV of a headless service at each endpoint name, with their addresses', () => {
    const r = fixture().lookup('_pg._tcp.db.shop.svc.cluster.local', 'SRV');
    assert.deepEqual(
      r?.answers.map((a) => (a.type === 'SRV' ? `${a.data.target}:${a.data.port}` : '')),
      ['db-0.db.shop.svc.cluster.local:5432', '10-244-0-6.db.shop.svc.cluster.local:5432'],
    );
    assert.deepEqual(
      r?.additionals.map((a) => `${a.name}=${'data' in a ? a.data : ''}`),
      ['db-0.db.shop.svc.cluster.local=10.244.0.5', '10-244-0-6.db.shop.svc.cluster.local=10.244.0.6'],
    );
  });
});

describe('cluster DNS index: ExternalName, pods, reverse', () => {
  it('answers an ExternalName service with a CNAME, for any type', () => {
    const index = fixture();
    const cname = { name: 'ext.shop.svc.cluster.local', type: 'CNAME', ttl: 5, data: 'payments.example.test' };
    assert.deepEqual(index.lookup('ext.shop.svc.cluster.local', 'A')?.answers, [cname]);
    assert.deepEqual(index.lookup('ext.shop.svc.cluster.local', 'CNAME')?.answers, [cname]);
    assert.equal(index.lookup('_http._tcp.ext.shop.svc.cluster.local', 'SRV')?.rcode, 'NXDOMAIN');
  });

  it('answers <a-b-c-d>.<ns>.pod names with that address, whatever the namespace', () => {
    const index = fixture();
    assert.deepEqual(addresses(index.lookup('10-244-3-7.anything.pod.cluster.local', 'A')), ['10.244.3.7']);
    const aaaa = index.lookup('10-244-3-7.anything.pod.cluster.local', 'AAAA');
    assert.equal(aaaa?.rcode, 'NOERROR');
    assert.deepEqual(aaaa?.answers, []);
    for (const bad of ['10-244-3-700.ns.pod.cluster.local', 'web.ns.pod.cluster.local', 'x.10-244-3-7.ns.pod.cluster.local']) {
      assert.equal(index.lookup(bad, 'A')?.rcode, 'NXDOMAIN', bad);
    }
  });

  it('answers PTR for ClusterIPs and endpoint addresses it knows, and forwards the rest', () => {
    const index = fixture();
    assert.deepEqual(addresses(index.lookup('20.0.96.10.in-addr.arpa.', 'PTR')), ['web.shop.svc.cluster.local']);
    assert.deepEqual(addresses(index.lookup('5.0.244.10.IN-ADDR.ARPA', 'PTR')), ['db-0.db.shop.svc.cluster.local']);
    assert.equal(index.lookup('1.2.0.192.in-addr.arpa', 'PTR'), undefined);
    assert.equal(index.lookup('20.0.96.10.in-addr.arpa', 'A'), undefined);
    assert.equal(index.lookup('96.10.in-addr.arpa', 'PTR'), undefined);
  });
});
