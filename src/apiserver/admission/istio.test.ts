import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AdmissionContext, applyDefaults, fieldErrorMessage, type KubeObject, validatorsFor } from './index.js';
import { parseGoDuration } from './istio-common.js';

const ctx: AdmissionContext = { operation: 'CREATE', get: () => undefined };

function check(group: string, kind: string, spec: unknown, name = 'p'): string[] {
  const obj: KubeObject = { kind, metadata: { name, namespace: 'default' }, spec };
  applyDefaults(group, kind, obj);
  const vs = validatorsFor(group, kind);
  assert.equal(vs.length, 1);
  assert.equal(vs[0].webhook, 'validation.istio.io');
  return vs[0].validate(obj, ctx).map(fieldErrorMessage);
}
const vs = (spec: unknown) => check('networking.istio.io', 'VirtualService', spec);
const dr = (spec: unknown) => check('networking.istio.io', 'DestinationRule', spec);
const se = (spec: unknown) => check('networking.istio.io', 'ServiceEntry', spec);
const sidecar = (spec: unknown) => check('networking.istio.io', 'Sidecar', spec);
const pa = (spec: unknown) => check('security.istio.io', 'PeerAuthentication', spec);
const ap = (spec: unknown) => check('security.istio.io', 'AuthorizationPolicy', spec, 'deny-all');

const route = (...weights: number[]) => weights.map((weight, i) => ({ destination: { host: 'reviews', subset: `v${i + 1}` }, weight }));

describe('VirtualService', () => {
  it('accepts the walkthrough canary split', () => {
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: route(90, 10), timeout: '1.5s', retries: { attempts: 3, perTryTimeout: '500ms' } }] }), []);
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: route(0) }] }), []);
  });
  it('needs hosts, and non-empty ones', () => {
    assert.deepEqual(vs({ http: [{ route: route(100) }] }), ['spec.hosts: Required value: virtual service must have at least one host']);
    assert.deepEqual(vs({ hosts: [''], http: [{ route: route(100) }] }), ['spec.hosts[0]: Required value: empty domain name not allowed']);
    assert.deepEqual(vs({ hosts: ['*'], http: [{ route: route(100) }] }), [
      'spec.hosts[0]: Invalid value: "*": wildcard host * is not allowed for virtual services bound to the mesh gateway',
    ]);
  });
  it('weights of several destinations add up to 100', () => {
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: route(80, 10) }] }), [
      'spec.http[0].route: Invalid value: 90: total destination weight 90 != 100',
    ]);
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: route(150, -50) }] }), [
      'spec.http[0].route[0].weight: Invalid value: 150: percentage 150 is not in range 0..100',
      'spec.http[0].route[1].weight: Invalid value: -50: percentage -50 is not in range 0..100',
    ]);
  });
  it('destinations need a host', () => {
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: [{ weight: 100 }] }] }), [
      'spec.http[0].route[0].destination: Required value: destination is required',
    ]);
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: [{ destination: { subset: 'v1' } }] }] }), [
      'spec.http[0].route[0].destination.host: Required value: empty domain name not allowed',
    ]);
    assert.deepEqual(vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', port: { number: 0 } } }] }] }), [
      'spec.http[0].route[0].destination.port.number: Invalid value: 0: port number 0 must be in the range 1..65535',
    ]);
  });
  it('timeouts and retries use valid durations of at least 1ms', () => {
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), timeout: 'soon' }] }), [
      'spec.http[0].timeout: Invalid value: "soon": must be a valid duration greater than 1ms',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), timeout: '100us' }] }), [
      'spec.http[0].timeout: Invalid value: "100us": duration must be greater than 1ms',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), retries: { attempts: -1 } }] }), [
      'spec.http[0].retries.attempts: Invalid value: -1: attempts cannot be negative',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), retries: { attempts: 2, perTryTimeout: '1.5ms5' } }] }), [
      'spec.http[0].retries.perTryTimeout: Invalid value: "1.5ms5": must be a valid duration greater than 1ms',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), retries: { attempts: 2, retryOn: '5xx,sometimes' } }] }), [
      'spec.http[0].retries.retryOn: Invalid value: "5xx,sometimes": "sometimes" is not a valid retryOn policy',
    ]);
  });
  it('fault injection: percentages, delays, abort status', () => {
    const fault = (f: unknown) => vs({ hosts: ['r'], http: [{ route: route(100), fault: f }] });
    assert.deepEqual(fault({ delay: { percentage: { value: 50 }, fixedDelay: '7s' }, abort: { percentage: { value: 10 }, httpStatus: 503 } }), []);
    assert.deepEqual(fault({ delay: { percentage: { value: 120 }, fixedDelay: '0s' } }), [
      'spec.http[0].fault.delay.percentage.value: Invalid value: 120: percentage 120 is neither 0.0, nor in range [0.0001, 100.0]',
      'spec.http[0].fault.delay.fixedDelay: Invalid value: "0s": duration must be greater than 1ms',
    ]);
    assert.deepEqual(fault({ abort: { httpStatus: 600 } }), [
      'spec.http[0].fault.abort.httpStatus: Invalid value: 600: HTTP status 600 is not in range 200-599',
    ]);
    assert.deepEqual(fault({}), ['spec.http[0].fault: Required value: HTTP fault injection must have an abort and/or a delay']);
  });
  it('mirror percentage is 0..100', () => {
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), mirror: { host: 'r2' }, mirrorPercentage: { value: 150 } }] }), [
      'spec.http[0].mirrorPercentage.value: Invalid value: 150: mirror_percentage must have a max value of 100 (it has 150.000000)',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), mirror: { host: 'r2' }, mirrorPercentage: { value: -1 } }] }), [
      'spec.http[0].mirrorPercentage.value: Invalid value: -1: mirror_percentage must have a min value of 0 (it has -1.000000)',
    ]);
  });
  it('routes: route or redirect, not both; tcp and tls need routes', () => {
    assert.deepEqual(vs({ hosts: ['r'], http: [{ match: [{ uri: { prefix: '/' } }] }] }), [
      'spec.http[0].route: Required value: HTTP route or redirect is required',
    ]);
    assert.deepEqual(vs({ hosts: ['r'], http: [{ route: route(100), redirect: { uri: '/x' } }] }), [
      'spec.http[0]: Invalid value: null: HTTP route cannot contain both route and redirect',
    ]);
    assert.deepEqual(vs({ hosts: ['r'] }), ['spec.http: Required value: http, tcp or tls must be provided in virtual service']);
    assert.deepEqual(vs({ hosts: ['r'], tcp: [{}] }), ['spec.tcp[0].route: Required value: TCP route is required']);
  });
});

describe('DestinationRule', () => {
  it('accepts subsets with labels and a traffic policy', () => {
    assert.deepEqual(
      dr({
        host: 'reviews.default.svc.cluster.local',
        trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: { tcp: { maxConnections: 100, connectTimeout: '30ms' } } },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
      [],
    );
  });
  it('host required, subset names unique and valid, labels valid', () => {
    assert.deepEqual(dr({ subsets: [{ name: 'v1' }] }), ['spec.host: Required value: empty domain name not allowed']);
    assert.deepEqual(
      dr({
        host: 'reviews',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v1', labels: { '': 'x' } },
          { name: 'V_2', labels: { version: 'bad value' } },
        ],
      }),
      [
        'spec.subsets[1].name: Invalid value: "v1": duplicate subset names: v1',
        'spec.subsets[1].labels: Invalid value: "": invalid tag key: ""',
        'spec.subsets[2].name: Invalid value: "V_2": subset name is invalid: V_2',
        'spec.subsets[2].labels: Invalid value: "bad value": invalid tag value: "bad value"',
      ],
    );
  });
  it('load balancer enum, pool values and outlier durations', () => {
    assert.deepEqual(dr({ host: 'r', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }), [
      'spec.trafficPolicy.loadBalancer.simple: Unsupported value: "FASTEST": supported values: "UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"',
    ]);
    assert.deepEqual(dr({ host: 'r', trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: -1 }, tcp: { maxConnections: -5 } } } }), [
      'spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: Invalid value: -1: http1 max pending requests must be non-negative',
      'spec.trafficPolicy.connectionPool.tcp.maxConnections: Invalid value: -5: max connections must be non-negative',
    ]);
    assert.deepEqual(dr({ host: 'r', trafficPolicy: { outlierDetection: { interval: '1.0001s', baseEjectionTime: 'x', maxEjectionPercent: 101 } } }), [
      'spec.trafficPolicy.outlierDetection.baseEjectionTime: Invalid value: "x": must be a valid duration greater than 1ms',
      'spec.trafficPolicy.outlierDetection.interval: Invalid value: "1.0001s": only durations to ms precision are supported',
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent: Invalid value: 101: percentage 101 is not in range 0..100',
    ]);
    assert.deepEqual(dr({ host: 'r', trafficPolicy: {} }), ['spec.trafficPolicy: Required value: traffic policy must have at least one field']);
  });
});

describe('ServiceEntry', () => {
  it('accepts an external DNS service', () => {
    assert.deepEqual(
      se({ hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' }),
      [],
    );
  });
  it('hosts required; ports in range with unique names; enums', () => {
    assert.deepEqual(se({ ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }), [
      'spec.hosts: Required value: service entry must have at least one host',
    ]);
    assert.deepEqual(
      se({
        hosts: ['a.example.com'],
        ports: [
          { number: 0, name: 'http', protocol: 'HTTP' },
          { number: 81, name: 'http', protocol: 'QUIC' },
        ],
        resolution: 'MAGIC',
        location: 'NEARBY',
      }),
      [
        'spec.resolution: Unsupported value: "MAGIC": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"',
        'spec.location: Unsupported value: "NEARBY": supported values: "MESH_EXTERNAL", "MESH_INTERNAL"',
        'spec.ports[0].number: Invalid value: 0: port number 0 must be in the range 1..65535',
        'spec.ports[1].name: Invalid value: "http": service entry port name "http" already defined',
        'spec.ports[1].protocol: Invalid value: "QUIC": unsupported protocol: QUIC',
      ],
    );
  });
  it('endpoints follow the resolution', () => {
    const ports = [{ number: 80, name: 'http', protocol: 'HTTP' }];
    assert.deepEqual(se({ hosts: ['a.example.com'], ports, resolution: 'STATIC', endpoints: [{ address: 'db.example.com' }] }), [
      'spec.endpoints[0].address: Invalid value: "db.example.com": endpoint address "db.example.com" is not a valid IP address',
    ]);
    assert.deepEqual(se({ hosts: ['a.example.com'], ports, resolution: 'NONE', endpoints: [{ address: '1.2.3.4' }] }), [
      'spec.endpoints: Invalid value: null: no endpoints should be provided for resolution type none',
    ]);
    assert.deepEqual(se({ hosts: ['*.example.com'], ports, resolution: 'DNS' }), [
      'spec.hosts[0]: Invalid value: "*.example.com": hosts must be FQDN if no endpoints are provided for resolution mode DNS',
    ]);
    assert.deepEqual(se({ hosts: ['a.example.com'], ports, resolution: 'DNS', endpoints: [{ address: 'b.example.com', ports: { tcp: 9000 } }] }), [
      'spec.endpoints[0].ports: Invalid value: 9000: endpoint port 9000 is not defined by the service entry',
    ]);
  });
});

describe('Sidecar', () => {
  it('egress hosts are namespace/host', () => {
    assert.deepEqual(sidecar({ egress: [{ hosts: ['./*', 'istio-system/*'] }] }), []);
    assert.deepEqual(sidecar({ egress: [{ hosts: ['reviews.default.svc.cluster.local', 'default/reviews'] }] }), [
      'spec.egress[0].hosts[0]: Invalid value: "reviews.default.svc.cluster.local": host must be of form namespace/dnsName',
      'spec.egress[0].hosts[1]: Invalid value: "default/reviews": short names (non FQDN) are not allowed',
    ]);
    assert.deepEqual(sidecar({}), ['spec: Required value: sidecar: empty configuration provided']);
    assert.deepEqual(sidecar({ egress: [{}] }), ['spec.egress[0].hosts: Required value: sidecar: egress listener must contain at least one host']);
  });
});

describe('PeerAuthentication', () => {
  it('mode enum; port-level mTLS needs a selector', () => {
    assert.deepEqual(pa({ mtls: { mode: 'STRICT' } }), []);
    assert.deepEqual(pa({ mtls: { mode: 'MAYBE' } }), [
      'spec.mtls.mode: Unsupported value: "MAYBE": supported values: "UNSET", "DISABLE", "PERMISSIVE", "STRICT"',
    ]);
    assert.deepEqual(pa({ portLevelMtls: { 8080: { mode: 'DISABLE' } } }), [
      'spec.portLevelMtls: Invalid value: null: mesh/namespace peer authentication cannot have port level mTLS',
    ]);
    assert.deepEqual(pa({ selector: { matchLabels: { app: 'x' } }, portLevelMtls: { 70000: { mode: 'DISABLE' } } }), [
      'spec.portLevelMtls[70000]: Invalid value: "70000": port must be in range 1..65535',
    ]);
  });
});

describe('AuthorizationPolicy', () => {
  it('accepts allow-nothing and a well-formed ALLOW policy', () => {
    assert.deepEqual(ap({}), []);
    assert.deepEqual(
      ap({
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }], to: [{ operation: { methods: ['GET'] } }] }],
      }),
      [],
    );
  });
  it('action enum; CUSTOM needs a provider; DENY needs rules', () => {
    assert.deepEqual(ap({ action: 'REJECT' }), ['spec.action: Unsupported value: "REJECT": supported values: "ALLOW", "DENY", "AUDIT", "CUSTOM"']);
    assert.deepEqual(ap({ action: 'CUSTOM', rules: [{}] }), [
      'spec.provider.name: Required value: invalid policy deny-all.default: `provider.name` must not be empty',
    ]);
    assert.deepEqual(ap({ action: 'DENY' }), [
      'spec.rules: Invalid value: null: invalid policy deny-all.default: DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request',
    ]);
    assert.deepEqual(ap({ action: 'ALLOW', provider: { name: 'ext' }, rules: [{}] }), [
      'spec.provider: Invalid value: null: invalid policy deny-all.default: `provider` must not be with non CUSTOM action, found ALLOW',
    ]);
  });
  it('rules: from, to and when are well-formed', () => {
    assert.deepEqual(
      ap({
        rules: [
          {
            from: [{}, { source: {} }, { source: { ipBlocks: ['10.0.0.0/33'] } }],
            to: [{ operation: { ports: ['http'] } }],
            when: [{ key: 'request.color', values: ['red'] }, { key: 'source.ip' }],
          },
        ],
      }),
      [
        'spec.rules[0].from[0].source: Invalid value: null: invalid policy deny-all.default: `from.source` must not be nil, found at rule 0',
        'spec.rules[0].from[1].source: Invalid value: null: invalid policy deny-all.default: `from.source` must not be empty, found at rule 0',
        'spec.rules[0].from[2].source.ipBlocks: Invalid value: null: invalid policy deny-all.default: bad CIDR range (10.0.0.0/33)',
        'spec.rules[0].to[0].operation.ports: Invalid value: null: invalid policy deny-all.default: bad port (http)',
        'spec.rules[0].when[0].values: Invalid value: null: invalid policy deny-all.default: invalid `value` for `key` request.color: unknown attribute: request.color',
        'spec.rules[0].when[1]: Invalid value: null: invalid policy deny-all.default: at least one of `values` or `notValues` must be set for key source.ip',
      ],
    );
  });
});

describe('Istio durations', () => {
  it('parse as Go durations', () => {
    assert.equal(parseGoDuration('1.5s'), 1.5);
    assert.equal(parseGoDuration('10ms'), 0.01);
    assert.equal(parseGoDuration('1h2m'), 3720);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('1'), undefined);
    assert.equal(parseGoDuration('s'), undefined);
  });
});
