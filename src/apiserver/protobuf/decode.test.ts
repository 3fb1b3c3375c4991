import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { buildRoot } from './descriptor.js';
import { decodeKubeProtobuf, isKubeProtobuf, KUBE_PROTOBUF, ProtobufError } from './index.js';
import { K8S_MESSAGES } from './k8s-schema.js';

// Request bodies are built by encoding with our own descriptor (proto2, like
// Kubernetes' gogo-protobuf), wrapped as kubectl does: "k8s\0" + runtime.Unknown.
const root = buildRoot('k8s', K8S_MESSAGES, 'proto2');
const type = (name: string) => root.lookupType(`k8s.${name}`);

function encode(name: string, obj: Record<string, unknown>): Uint8Array {
  const t = type(name);
  const err = t.verify(obj);
  if (err) throw new Error(`${name}: ${err}`);
  return t.encode(t.fromObject(obj)).finish();
}

function body(apiVersion: string, kind: string, raw: Uint8Array, extra: Record<string, unknown> = {}): Buffer {
  const unknown = encode('Unknown', { typeMeta: { apiVersion, kind }, raw, contentEncoding: '', contentType: '', ...extra });
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), unknown]);
}

const roundTrip = (kind: string, obj: Record<string, unknown>, apiVersion = 'v1') => decodeKubeProtobuf(body(apiVersion, kind, encode(kind, obj)));

/** ObjectMeta the way gogo-protobuf writes a new object: every non-pointer field present, even empty. */
const meta = (name: string, more: Record<string, unknown> = {}) => ({
  name,
  generateName: '',
  namespace: '',
  selfLink: '',
  uid: '',
  resourceVersion: '',
  generation: 0,
  creationTimestamp: {},
  ...more,
});

describe('isKubeProtobuf', () => {
  it('recognises the media type with or without parameters, in any case', () => {
    assert.equal(KUBE_PROTOBUF, 'application/vnd.kubernetes.protobuf');
    assert.equal(isKubeProtobuf('application/vnd.kubernetes.protobuf'), true);
    assert.equal(isKubeProtobuf('Application/VND.Kubernetes.Protobuf; charset=utf-8'), true);
    assert.equal(isKubeProtobuf('application/vnd.kubernetes.protobuf;stream=watch'), true);
    assert.equal(isKubeProtobuf('application/json'), false);
    assert.equal(isKubeProtobuf('application/vnd.kubernetes.protobuf+json'), false);
    assert.equal(isKubeProtobuf(undefined), false);
    assert.equal(isKubeProtobuf(''), false);
  });
});

describe('decodeKubeProtobuf: ObjectMeta', () => {
  it('decodes every field, with times as RFC 3339 and maps sorted as Go writes them', () => {
    const got = roundTrip('ConfigMap', {
      metadata: {
        name: 'full',
        generateName: 'full-',
        namespace: 'ns1',
        selfLink: '',
        uid: '6f1d0c2e-0000-4000-8000-000000000001',
        resourceVersion: '42',
        generation: 7,
        creationTimestamp: { seconds: 1714564800, nanos: 999_000_000 },
        deletionTimestamp: { seconds: 1714568400, nanos: 0 },
        deletionGracePeriodSeconds: 30,
        labels: { z: '1', a: '2' },
        annotations: { 'example.com/note': 'hello' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-rs', controller: true, blockOwnerDeletion: false },
          { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u-p' },
        ],
        finalizers: ['example.com/keep', 'kubernetes'],
        managedFields: [
          {
            manager: 'kubectl-create',
            operation: 'Update',
            apiVersion: 'v1',
            time: { seconds: 1714564800, nanos: 0 },
            fieldsType: 'FieldsV1',
            fieldsV1: { Raw: Buffer.from('{"f:data":{".":{},"f:a":{}}}') },
            subresource: '',
          },
        ],
      },
    });
    assert.deepEqual(got, {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: {
        name: 'full',
        generateName: 'full-',
        namespace: 'ns1',
        uid: '6f1d0c2e-0000-4000-8000-000000000001',
        resourceVersion: '42',
        generation: 7,
        creationTimestamp: '2024-05-01T12:00:00Z',
        deletionTimestamp: '2024-05-01T13:00:00Z',
        deletionGracePeriodSeconds: 30,
        labels: { a: '2', z: '1' },
        annotations: { 'example.com/note': 'hello' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-rs', controller: true, blockOwnerDeletion: false },
          { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u-p' },
        ],
        finalizers: ['example.com/keep', 'kubernetes'],
        managedFields: [
          {
            manager: 'kubectl-create',
            operation: 'Update',
            apiVersion: 'v1',
            time: '2024-05-01T12:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:data': { '.': {}, 'f:a': {} } },
          },
        ],
      },
    });
    assert.deepEqual(Object.keys(got.metadata!.labels!), ['a', 'z']);
  });

  it('writes the zero creationTimestamp as null, like Go', () => {
    assert.deepEqual(roundTrip('ConfigMap', { metadata: meta('cm') }).metadata, { name: 'cm', creationTimestamp: null });
    // Absent altogether: still a (zero) struct in Go.
    assert.deepEqual(roundTrip('ConfigMap', { metadata: { name: 'cm' } }).metadata, { name: 'cm', creationTimestamp: null });
    // Go's zero time.Time sent explicitly as seconds.
    const zero = roundTrip('ConfigMap', { metadata: meta('cm', { creationTimestamp: { seconds: -62135596800, nanos: 0 } }) });
    assert.equal(zero.metadata!.creationTimestamp, null);
    // Unix time 0 is a real time.
    const epoch = roundTrip('ConfigMap', { metadata: meta('cm', { creationTimestamp: { seconds: 0, nanos: 0 } }) });
    assert.equal(epoch.metadata!.creationTimestamp, '1970-01-01T00:00:00Z');
  });

  it('with no metadata at all still writes metadata, as Go does for a struct field', () => {
    assert.deepEqual(roundTrip('ServiceAccount', {}), { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { creationTimestamp: null } });
  });
});

describe('decodeKubeProtobuf: the core kinds', () => {
  it('Namespace', () => {
    const got = roundTrip('Namespace', { metadata: meta('demo'), spec: { finalizers: ['kubernetes'] }, status: { phase: '' } });
    assert.deepEqual(got, {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'demo', creationTimestamp: null },
      spec: { finalizers: ['kubernetes'] },
      status: {},
    });
  });

  it('ConfigMap: data, binaryData as base64, immutable (a pointer, so false is kept)', () => {
    const got = roundTrip('ConfigMap', {
      metadata: meta('cm'),
      immutable: false,
      data: { 'app.conf': 'x=1\n' },
      binaryData: { 'logo.bin': Buffer.from([0, 1, 2, 253, 254, 255]) },
    });
    assert.deepEqual(got, {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'cm', creationTimestamp: null },
      immutable: false,
      data: { 'app.conf': 'x=1\n' },
      binaryData: { 'logo.bin': 'AAEC/f7/' },
    });
  });

  it('Secret: data as base64, stringData, type, immutable; an empty type is left out', () => {
    const got = roundTrip('Secret', {
      metadata: meta('s'),
      immutable: true,
      data: { password: Buffer.from('hunter2'), empty: Buffer.alloc(0) },
      stringData: { user: 'admin' },
      type: 'Opaque',
    });
    assert.deepEqual(got, {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: 's', creationTimestamp: null },
      immutable: true,
      data: { empty: '', password: 'aHVudGVyMg==' },
      stringData: { user: 'admin' },
      type: 'Opaque',
    });
    assert.equal(roundTrip('Secret', { metadata: meta('s'), type: '' }).type, undefined);
  });

  it('ServiceAccount', () => {
    const got = roundTrip('ServiceAccount', {
      metadata: meta('sa'),
      secrets: [{ kind: '', namespace: '', name: 'sa-token', uid: '', apiVersion: '', resourceVersion: '', fieldPath: '' }],
      imagePullSecrets: [{ name: 'regcred' }],
      automountServiceAccountToken: false,
    });
    assert.deepEqual(got, {
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      metadata: { name: 'sa', creationTimestamp: null },
      secrets: [{ name: 'sa-token' }],
      imagePullSecrets: [{ name: 'regcred' }],
      automountServiceAccountToken: false,
    });
  });

  it('Service: ports with IntOrString target ports, IPs, families and policies', () => {
    const got = roundTrip('Service', {
      metadata: meta('web', { namespace: 'default', labels: { app: 'web' } }),
      spec: {
        ports: [
          { name: 'http', protocol: 'TCP', appProtocol: 'http', port: 80, targetPort: { type: 1, intVal: 0, strVal: 'http' }, nodePort: 30080 },
          { name: '', protocol: 'UDP', port: 53, targetPort: { type: 0, intVal: 5353, strVal: '' }, nodePort: 0 },
          { name: 'no-target', protocol: 'TCP', port: 9000, nodePort: 0 },
        ],
        selector: { app: 'web' },
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
        type: 'NodePort',
        externalIPs: ['192.0.2.1'],
        sessionAffinity: 'ClientIP',
        loadBalancerIP: '',
        externalName: '',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 0,
        publishNotReadyAddresses: true,
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'PreferDualStack',
        allocateLoadBalancerNodePorts: false,
        internalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7', hostname: '', ipMode: 'VIP' }] } },
    });
    assert.deepEqual(got, {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: null, labels: { app: 'web' } },
      spec: {
        ports: [
          { name: 'http', protocol: 'TCP', appProtocol: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
          { protocol: 'UDP', port: 53, targetPort: 5353 },
          // Go writes the zero IntOrString as 0 (omitempty does not drop a struct).
          { name: 'no-target', protocol: 'TCP', port: 9000, targetPort: 0 },
        ],
        selector: { app: 'web' },
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00::10'],
        type: 'NodePort',
        externalIPs: ['192.0.2.1'],
        sessionAffinity: 'ClientIP',
        externalTrafficPolicy: 'Local',
        publishNotReadyAddresses: true,
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'PreferDualStack',
        allocateLoadBalancerNodePorts: false,
        internalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7', ipMode: 'VIP' }] } },
    });
  });

  it('Pod: what kubectl run sets, and the common PodSpec and Container fields', () => {
    const container = {
      name: 'web',
      image: 'nginx:1.27',
      command: ['/bin/sh', '-c'],
      args: ['exec nginx -g "daemon off;"'],
      workingDir: '',
      ports: [{ name: 'http', hostPort: 0, containerPort: 80, protocol: 'TCP', hostIP: '' }],
      envFrom: [{ prefix: 'CFG_', configMapRef: { localObjectReference: { name: 'cm' }, optional: true } }],
      env: [
        { name: 'A', value: 'B' },
        { name: 'EMPTY', value: '' },
        { name: 'PW', value: '', valueFrom: { secretKeyRef: { localObjectReference: { name: 's' }, key: 'password' } } },
        { name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { containerName: '', resource: 'limits.memory' } } },
      ],
      resources: { limits: { cpu: { string: '500m' }, memory: { string: '128Mi' } }, requests: { cpu: { string: '100m' } } },
      volumeMounts: [{ name: 'conf', readOnly: true, mountPath: '/etc/nginx/conf.d', subPath: '' }],
      livenessProbe: {
        handler: { httpGet: { path: '/healthz', port: { type: 1, strVal: 'http' }, host: '', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'y' }] } },
        initialDelaySeconds: 5,
        timeoutSeconds: 1,
        periodSeconds: 10,
        successThreshold: 1,
        failureThreshold: 3,
      },
      readinessProbe: { handler: { tcpSocket: { port: { type: 0, intVal: 80 }, host: '' } }, initialDelaySeconds: 0, periodSeconds: 0 },
      startupProbe: { handler: { grpc: { port: 9090 } } },
      lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } } },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
      securityContext: { runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
      stdin: true,
      stdinOnce: false,
      tty: true,
    };
    const got = roundTrip('Pod', {
      metadata: meta('web', { labels: { run: 'web' } }),
      spec: {
        volumes: [
          {
            name: 'conf',
            volumeSource: { configMap: { localObjectReference: { name: 'nginx-conf' }, items: [{ key: 'a', path: 'a.conf' }], defaultMode: 420 } },
          },
          { name: 'scratch', volumeSource: { emptyDir: { medium: '', sizeLimit: { string: '1Gi' } } } },
          { name: 'tls', volumeSource: { secret: { secretName: 'tls', optional: false } } },
        ],
        containers: [container],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 0,
        dnsPolicy: 'ClusterFirst',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        serviceAccountName: 'default',
        serviceAccount: '',
        nodeName: '',
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        securityContext: { fsGroup: 2000, supplementalGroups: [1, 2] },
        imagePullSecrets: [{ name: 'regcred' }],
        hostname: '',
        subdomain: '',
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
            },
          },
        },
        schedulerName: 'default-scheduler',
        tolerations: [{ key: 'k', operator: 'Exists', value: '', effect: 'NoExecute', tolerationSeconds: 300 }],
        hostAliases: [{ ip: '127.0.0.2', hostnames: ['web.local'] }],
        priorityClassName: '',
        priority: 0,
        enableServiceLinks: false,
        preemptionPolicy: 'PreemptLowerPriority',
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { run: 'web' } } }],
      },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: {}, lastTransitionTime: { seconds: 1714564800 } }] },
    });
    assert.deepEqual(got, {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'web', creationTimestamp: null, labels: { run: 'web' } },
      spec: {
        volumes: [
          { name: 'conf', configMap: { name: 'nginx-conf', items: [{ key: 'a', path: 'a.conf' }], defaultMode: 420 } },
          { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } },
          { name: 'tls', secret: { secretName: 'tls', optional: false } },
        ],
        containers: [
          {
            name: 'web',
            image: 'nginx:1.27',
            command: ['/bin/sh', '-c'],
            args: ['exec nginx -g "daemon off;"'],
            ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
            envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'cm', optional: true } }],
            env: [
              { name: 'A', value: 'B' },
              { name: 'EMPTY' },
              { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
              { name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
              // Go writes a zero Quantity as "0".
              { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '0' } } },
            ],
            resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } },
            volumeMounts: [{ name: 'conf', readOnly: true, mountPath: '/etc/nginx/conf.d' }],
            livenessProbe: {
              httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'y' }] },
              initialDelaySeconds: 5,
              timeoutSeconds: 1,
              periodSeconds: 10,
              successThreshold: 1,
              failureThreshold: 3,
            },
            readinessProbe: { tcpSocket: { port: 80 } },
            // GRPCAction.service is a pointer without omitempty: nil is written as null.
            startupProbe: { grpc: { port: 9090, service: null } },
            lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } } },
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
            securityContext: { capabilities: { drop: ['ALL'] }, runAsUser: 1000, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            stdin: true,
            tty: true,
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 0,
        dnsPolicy: 'ClusterFirst',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        serviceAccountName: 'default',
        securityContext: { supplementalGroups: [1, 2], fsGroup: 2000 },
        imagePullSecrets: [{ name: 'regcred' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
            },
          },
        },
        schedulerName: 'default-scheduler',
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
        hostAliases: [{ ip: '127.0.0.2', hostnames: ['web.local'] }],
        priority: 0,
        enableServiceLinks: false,
        preemptionPolicy: 'PreemptLowerPriority',
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { run: 'web' } } }],
      },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' }],
      },
    });
  });

  it('Pod without containers writes containers: null (no omitempty in Go)', () => {
    assert.deepEqual(roundTrip('Pod', { metadata: meta('p'), spec: {}, status: {} }).spec, { containers: null });
  });

  it('Endpoints', () => {
    const got = roundTrip('Endpoints', {
      metadata: meta('web'),
      subsets: [
        {
          addresses: [{ ip: '10.0.0.5', hostname: '', nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1' } }],
          notReadyAddresses: [{ ip: '10.0.0.6' }],
          ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
        },
      ],
    });
    assert.deepEqual(got, {
      kind: 'Endpoints',
      apiVersion: 'v1',
      metadata: { name: 'web', creationTimestamp: null },
      subsets: [
        {
          addresses: [{ ip: '10.0.0.5', nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1' } }],
          notReadyAddresses: [{ ip: '10.0.0.6' }],
          ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
        },
      ],
    });
  });

  it('Event: MicroTime keeps microseconds; reportingComponent/Instance are always written', () => {
    const got = roundTrip('Event', {
      metadata: meta('web.17c', { namespace: 'default' }),
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', apiVersion: 'v1', resourceVersion: '', fieldPath: '' },
      reason: 'Started',
      message: 'Started container web',
      source: { component: 'kubelet', host: 'node-1' },
      firstTimestamp: { seconds: 1714564800, nanos: 0 },
      lastTimestamp: {},
      count: 2,
      type: 'Normal',
      eventTime: { seconds: 1714564800, nanos: 123_456_789 },
      series: { count: 2, lastObservedTime: { seconds: 1714564801, nanos: 5000 } },
      action: '',
      reportingComponent: '',
      reportingInstance: '',
    });
    assert.deepEqual(got, {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: { name: 'web.17c', namespace: 'default', creationTimestamp: null },
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', apiVersion: 'v1' },
      reason: 'Started',
      message: 'Started container web',
      source: { component: 'kubelet', host: 'node-1' },
      firstTimestamp: '2024-05-01T12:00:00Z',
      lastTimestamp: null,
      count: 2,
      type: 'Normal',
      eventTime: '2024-05-01T12:00:00.123456Z',
      series: { count: 2, lastObservedTime: '2024-05-01T12:00:01.000005Z' },
      reportingComponent: '',
      reportingInstance: '',
    });
  });

  it('DeleteOptions, under whichever apiVersion the typed client used', () => {
    const opts = { gracePeriodSeconds: 0, preconditions: { uid: 'u1' }, propagationPolicy: 'Foreground', dryRun: ['All'] };
    assert.deepEqual(roundTrip('DeleteOptions', opts), {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      gracePeriodSeconds: 0,
      preconditions: { uid: 'u1' },
      propagationPolicy: 'Foreground',
      dryRun: ['All'],
    });
    assert.deepEqual(roundTrip('DeleteOptions', { orphanDependents: false }, 'meta.k8s.io/v1'), {
      kind: 'DeleteOptions',
      apiVersion: 'meta.k8s.io/v1',
      orphanDependents: false,
    });
    assert.deepEqual(roundTrip('DeleteOptions', {}, 'apps/v1'), { kind: 'DeleteOptions', apiVersion: 'apps/v1' });
  });
});

describe('decodeKubeProtobuf: wire details', () => {
  it('accepts packed repeated numbers as well as unpacked ones', () => {
    // PodSpec.securityContext (14) { supplementalGroups (4): packed [5, 300] }
    const sc = protobuf.Writer.create()
      .uint32((4 << 3) | 2)
      .fork()
      .int64(5)
      .int64(300)
      .ldelim()
      .finish();
    const spec = protobuf.Writer.create()
      .uint32((14 << 3) | 2)
      .bytes(sc)
      .finish();
    const pod = protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(spec)
      .finish();
    const got = decodeKubeProtobuf(body('v1', 'Pod', pod));
    assert.deepEqual((got.spec as any).securityContext, { supplementalGroups: [5, 300] });
  });

  it('merges a message field that occurs twice, as protobuf requires', () => {
    const part1 = encode('ObjectMeta', { name: 'a' });
    const part2 = encode('ObjectMeta', { labels: { x: 'y' } });
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 2).bytes(part1);
    w.uint32((1 << 3) | 2).bytes(part2);
    assert.deepEqual(decodeKubeProtobuf(body('v1', 'ServiceAccount', w.finish())).metadata, {
      name: 'a',
      creationTimestamp: null,
      labels: { x: 'y' },
    });
  });

  it('negative int32 and int64 values survive', () => {
    const got = roundTrip('Pod', { spec: { containers: [{ name: 'c', securityContext: { runAsUser: -1 } }], priority: -5 } });
    assert.equal((got.spec as any).priority, -5);
    assert.equal((got.spec as any).containers[0].securityContext.runAsUser, -1);
  });
});

describe('decodeKubeProtobuf: errors', () => {
  const err = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ProtobufError, `expected a ProtobufError, got ${e}`);
      assert.match((e as Error).message, re);
      return true;
    });

  it('a body without the magic bytes', () => {
    err(() => decodeKubeProtobuf(Buffer.from('{"kind":"Namespace"}')), /does not start with the "k8s\\0" magic/);
    err(() => decodeKubeProtobuf(Buffer.from('k8s')), /magic/);
  });

  it('an unsupported kind names the kind and group version', () => {
    err(() => decodeKubeProtobuf(body('apps/v1', 'Deployment', new Uint8Array())), /unsupported kind Deployment in apps\/v1/);
    err(() => decodeKubeProtobuf(body('v1', 'PersistentVolumeClaim', new Uint8Array())), /unsupported kind PersistentVolumeClaim in v1/);
    err(() => decodeKubeProtobuf(body('v2', 'Namespace', new Uint8Array())), /unsupported kind Namespace in v2/);
  });

  it('a missing kind', () => {
    const unknown = encode('Unknown', { raw: new Uint8Array() });
    err(() => decodeKubeProtobuf(Buffer.concat([Buffer.from('k8s\0', 'latin1'), unknown])), /names no kind/);
  });

  it('an unknown field is reported with where it was, not dropped', () => {
    const container = protobuf.Writer.create();
    container.uint32((1 << 3) | 2).string('c');
    container.uint32((99 << 3) | 0).uint32(1);
    const spec = protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(container.finish())
      .finish();
    const pod = protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(spec)
      .finish();
    err(() => decodeKubeProtobuf(body('v1', 'Pod', pod)), /Pod\.spec\.containers\[0\]: unknown field number 99 \(varint\) in Container/);
  });

  it('an unknown volume source is reported too', () => {
    const vol = protobuf.Writer.create();
    vol.uint32((1 << 3) | 2).string('v');
    vol.uint32((2 << 3) | 2).bytes(
      protobuf.Writer.create()
        .uint32((9 << 3) | 2)
        .bytes(new Uint8Array())
        .finish(),
    ); // glusterfs
    const spec = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .bytes(vol.finish())
      .finish();
    const pod = protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(spec)
      .finish();
    err(() => decodeKubeProtobuf(body('v1', 'Pod', pod)), /Pod\.spec\.volumes\[0\]\.volumeSource: unknown field number 9 .* in VolumeSource/);
  });

  it('a field with the wrong wire type', () => {
    const ns = protobuf.Writer.create()
      .uint32((1 << 3) | 0)
      .uint32(5)
      .finish(); // metadata as a varint
    err(() => decodeKubeProtobuf(body('v1', 'Namespace', ns)), /Namespace\.metadata: varint wire type where length-delimited was expected/);
  });

  it('a truncated body', () => {
    const full = body('v1', 'Namespace', encode('Namespace', { metadata: meta('demo-ns') }));
    err(() => decodeKubeProtobuf(full.subarray(0, full.length - 12)), /malformed protobuf body|unexpected|overruns/);
    const raw = encode('Namespace', { metadata: meta('demo-ns') });
    err(() => decodeKubeProtobuf(body('v1', 'Namespace', raw.subarray(0, raw.length - 3))), /malformed protobuf body/);
  });

  it('an encoded (e.g. gzip) payload or a foreign content type', () => {
    err(() => decodeKubeProtobuf(body('v1', 'Namespace', new Uint8Array(), { contentEncoding: 'gzip' })), /content encoding "gzip"/);
    err(() => decodeKubeProtobuf(body('v1', 'Namespace', new Uint8Array(), { contentType: 'application/json' })), /content type "application\/json"/);
  });

  it('an IntOrString of an impossible type', () => {
    const svc = { spec: { ports: [{ port: 80, targetPort: { type: 7 } }] } };
    err(() => roundTrip('Service', svc), /Service\.spec\.ports\[0\]\.targetPort: IntOrString with type 7/);
  });

  it('an int64 beyond what a JSON number holds exactly', () => {
    const meta64 = protobuf.Writer.create()
      .uint32((7 << 3) | 0)
      .int64('9007199254740993')
      .finish();
    const cm = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .bytes(meta64)
      .finish();
    err(() => decodeKubeProtobuf(body('v1', 'ConfigMap', cm)), /ConfigMap\.metadata\.generation: int64 value does not fit/);
  });
});
