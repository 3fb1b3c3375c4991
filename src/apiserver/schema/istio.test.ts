import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { checkStructure, pruneUnknownFields, schemaFor } from './index.js';
import { ISTIO_KINDS } from './istio.js';

const clean = { unknownFields: [], errors: [] };
const gvk = (group: string, version: string, kind: string) => ({ group, version, kind });

const virtualService = (version: string): KubeObject => ({
  apiVersion: `networking.istio.io/${version}`,
  kind: 'VirtualService',
  metadata: { name: 'reviews' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        match: [{ headers: { end_user: { exact: 'jason' } }, uri: { prefix: '/api' } }],
        route: [
          { destination: { host: 'reviews', subset: 'v1', port: { number: 9080 } }, weight: 90 },
          { destination: { host: 'reviews', subset: 'v2' }, weight: 10 },
        ],
        timeout: '10s',
        retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx' },
        fault: { delay: { percentage: { value: 0.1 }, fixedDelay: '5s' } },
        headers: { request: { set: { 'x-a': 'b' } } },
      },
    ],
  },
});

describe('Istio schemas', () => {
  it('accepts a VirtualService with routes and weights, in v1 and v1beta1', () => {
    for (const version of ['v1', 'v1beta1']) {
      assert.deepEqual(checkStructure(virtualService(version), gvk('networking.istio.io', version, 'VirtualService')), clean, version);
    }
  });

  it('reports unknown fields and type errors in a VirtualService', () => {
    const vs = virtualService('v1');
    const http = (vs.spec as { http: Array<Record<string, unknown>> }).http[0];
    http.bogus = 1;
    (http.route as Array<Record<string, unknown>>)[1].weight = '10';
    const result = checkStructure(vs, gvk('networking.istio.io', 'v1', 'VirtualService'));
    assert.deepEqual(result.unknownFields, ['spec.http[0].bogus']);
    assert.deepEqual(
      result.errors.map((e) => e.detail),
      ['spec.http[0].route[1].weight in body must be of type integer: "string"'],
    );
  });

  it('accepts a DestinationRule with subsets, and checks its enums', () => {
    const dr: KubeObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews' },
      spec: {
        host: 'reviews',
        trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: { tcp: { maxConnections: 100 } }, tls: { mode: 'ISTIO_MUTUAL' } },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5, interval: '10s' } } },
        ],
      },
    };
    const DR = gvk('networking.istio.io', 'v1', 'DestinationRule');
    assert.deepEqual(checkStructure(dr, DR), clean);
    (dr.spec as { trafficPolicy: { loadBalancer: Record<string, unknown> } }).trafficPolicy.loadBalancer.simple = 'FASTEST';
    const { errors } = checkStructure(dr, DR);
    assert.deepEqual(
      errors.map((e) => [e.type, e.field]),
      [['FieldValueNotSupported', 'spec.trafficPolicy.loadBalancer.simple']],
    );
  });

  it('accepts a PeerAuthentication in v1 (Istio 1.18 had only v1beta1)', () => {
    const pa: KubeObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' } } },
    };
    assert.deepEqual(checkStructure(pa, gvk('security.istio.io', 'v1', 'PeerAuthentication')), clean);
    (pa.spec as { mtls: Record<string, unknown> }).mtls.mode = 'strict';
    assert.deepEqual(
      checkStructure(pa, gvk('security.istio.io', 'v1', 'PeerAuthentication')).errors.map((e) => e.type),
      ['FieldValueNotSupported'],
    );
  });

  it('accepts an AuthorizationPolicy, a ServiceEntry and a Sidecar', () => {
    const cases: KubeObject[] = [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'allow' },
        spec: {
          selector: { matchLabels: { app: 'x' } },
          action: 'ALLOW',
          rules: [{ from: [{ source: { principals: ['a'] } }], to: [{ operation: { methods: ['GET'] } }] }],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'ServiceEntry',
        metadata: { name: 'ext' },
        spec: { hosts: ['example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Sidecar',
        metadata: { name: 'default' },
        spec: { egress: [{ hosts: ['./*', 'istio-system/*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
      },
    ];
    for (const obj of cases) {
      const [group, version] = (obj.apiVersion as string).split('/');
      assert.deepEqual(checkStructure(obj, gvk(group, version, obj.kind as string)), clean, obj.kind);
    }
  });

  it('keeps any status (Istio preserves unknown fields there) and prunes elsewhere', () => {
    const vs = virtualService('v1beta1');
    vs.status = { observedGeneration: 1, validationMessages: [{ type: { code: 'IST0101' } }] };
    (vs.spec as Record<string, unknown>).bogus = 1;
    const VS = gvk('networking.istio.io', 'v1beta1', 'VirtualService');
    assert.deepEqual(checkStructure(vs, VS).unknownFields, ['spec.bogus']);
    const pruned = pruneUnknownFields(vs, VS);
    assert.equal((pruned.spec as Record<string, unknown>).bogus, undefined);
    assert.deepEqual(pruned.status, vs.status);
  });

  it('knows the fields Istio added after 1.18: mirrors, retries.backoff, proxyProtocol, warmup, targetRef(s)', () => {
    const vs = virtualService('v1');
    const http = (vs.spec as { http: Array<Record<string, unknown>> }).http[0];
    http.mirrors = [{ destination: { host: 'a' } }, { destination: { host: 'b', subset: 'v2' }, percentage: { value: 5 } }];
    http.retries = { attempts: 3, perTryTimeout: '2s', backoff: '25ms', retryIgnorePreviousHosts: true };
    assert.deepEqual(checkStructure(vs, gvk('networking.istio.io', 'v1', 'VirtualService')), clean);

    const dr: KubeObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews' },
      spec: {
        host: 'reviews',
        trafficPolicy: { proxyProtocol: { version: 'V2' }, loadBalancer: { simple: 'LEAST_REQUEST', warmup: { duration: '60s', aggression: 1.5 } } },
      },
    };
    assert.deepEqual(checkStructure(dr, gvk('networking.istio.io', 'v1', 'DestinationRule')), clean);

    for (const version of ['v1', 'v1beta1']) {
      const ap: KubeObject = {
        apiVersion: `security.istio.io/${version}`,
        kind: 'AuthorizationPolicy',
        metadata: { name: 'waypoint' },
        spec: {
          targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }],
          action: 'DENY',
          rules: [{ to: [{ operation: { paths: ['/admin'] } }] }],
        },
      };
      assert.deepEqual(checkStructure(ap, gvk('security.istio.io', version, 'AuthorizationPolicy')), clean, version);
      (ap.spec as { targetRefs: Array<Record<string, unknown>> }).targetRefs[0] = { kind: 'Service' };
      assert.deepEqual(
        checkStructure(ap, gvk('security.istio.io', version, 'AuthorizationPolicy')).errors.map((e) => [e.type, e.field]),
        [['FieldValueRequired', 'spec.targetRefs[0].name']],
        version,
      );
    }
  });

  it('reports what the CRDs require: a DestinationRule host, a route destination, a ServiceEntry spec', () => {
    const required = (obj: KubeObject) => {
      const [group, version] = (obj.apiVersion as string).split('/');
      const { unknownFields, errors } = checkStructure(obj, gvk(group, version, obj.kind as string));
      assert.deepEqual(unknownFields, []);
      return errors.map((e) => [e.type, e.field]);
    };
    assert.deepEqual(
      required({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'x' }, spec: { subsets: [{ name: 'v1' }] } }),
      [['FieldValueRequired', 'spec.host']],
    );
    assert.deepEqual(
      required({
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'x' },
        spec: { hosts: ['a'], http: [{ route: [{ weight: 100 }] }] },
      }),
      [['FieldValueRequired', 'spec.http[0].route[0].destination']],
    );
    assert.deepEqual(required({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'x' } }), [['FieldValueRequired', 'spec']]);
  });

  it('reports an unknown spec.bogus on every Istio kind and version, as exactly that path', () => {
    const specs: Record<string, Record<string, unknown>> = {
      VirtualService: { hosts: ['a'] },
      DestinationRule: { host: 'a' },
      ServiceEntry: { hosts: ['a.example.com'] },
      Sidecar: {},
      PeerAuthentication: {},
      AuthorizationPolicy: {},
    };
    let checked = 0;
    for (const [kind, { group, versions }] of Object.entries(ISTIO_KINDS)) {
      for (const version of versions) {
        const obj: KubeObject = { apiVersion: `${group}/${version}`, kind, metadata: { name: 'x' }, spec: { ...specs[kind], bogus: true } };
        assert.deepEqual(checkStructure(obj, gvk(group, version, kind)), { unknownFields: ['spec.bogus'], errors: [] }, `${version} ${kind}`);
        checked++;
      }
    }
    assert.equal(checked, 16); // 4 networking kinds x 3 versions + 2 security kinds x 2
  });

  it('reports a string weight as a type error at its path', () => {
    const vs = virtualService('v1');
    (vs.spec as { http: Array<{ route: Array<Record<string, unknown>> }> }).http[0].route[0].weight = 'fifty';
    const { unknownFields, errors } = checkStructure(vs, gvk('networking.istio.io', 'v1', 'VirtualService'));
    assert.deepEqual(unknownFields, []);
    assert.deepEqual(
      errors.map((e) => [e.type, e.field, e.detail]),
      [['FieldValueTypeInvalid', 'spec.http[0].route[0].weight', 'spec.http[0].route[0].weight in body must be of type integer: "string"']],
    );
  });

  it("serves the CRD schema under the server's own apiVersion/kind/metadata, v1 and v1beta1 sharing one tree", () => {
    const v1 = schemaFor(gvk('networking.istio.io', 'v1', 'VirtualService')) as { properties: Record<string, Record<string, unknown>> };
    const v1beta1 = schemaFor(gvk('networking.istio.io', 'v1beta1', 'VirtualService')) as typeof v1;
    const pod = schemaFor(gvk('', 'v1', 'Pod')) as typeof v1;
    assert.deepEqual(Object.keys(v1.properties), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    assert.equal(v1.properties.metadata, pod.properties.metadata, 'the same ObjectMeta as every other kind');
    assert.equal(v1.properties.spec, v1beta1.properties.spec);
    assert.equal(v1.properties.status['x-kubernetes-preserve-unknown-fields'], true);
    assert.doesNotMatch(JSON.stringify(v1), /"description"|x-kubernetes-validations|\$ref/);
  });

  it('comes from a generated file that says where it comes from and covers every served kind', () => {
    const generated = JSON.parse(readFileSync(new URL('./istio.gen.json', import.meta.url), 'utf8')) as { $comment: string; schemas: Record<string, unknown> };
    assert.match(generated.$comment, /gen-istio-schema\.mjs/);
    assert.match(generated.$comment, /CustomResourceDefinitions/);
    assert.match(generated.$comment, /Apache-2\.0/);
    const served = Object.entries(ISTIO_KINDS).flatMap(([kind, { group, versions }]) => versions.map((v) => `${group}/${v}/${kind}`));
    assert.deepEqual(Object.keys(generated.schemas).sort(), served.sort());
  });
});
