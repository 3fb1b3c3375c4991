import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import YAML from 'yaml';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_RESPONSE, openapiV2Document } from './index.js';
import { gnosticRoot } from './openapi-v2.js';

const Document = gnosticRoot().lookupType('openapi.v2.Document');
const decode = (buf: Buffer) => Document.toObject(Document.decode(buf), { defaults: false, arrays: true }) as any;

const kinds = [
  { group: '', version: 'v1', kind: 'Namespace', path: '/api/v1/namespaces/{name}' },
  {
    group: 'kubevirt.io',
    version: 'v1',
    kind: 'VirtualMachineInstance',
    path: '/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachineinstances/{name}',
  },
];

describe('openapiV2Document', () => {
  const doc = decode(openapiV2Document(kinds));

  it('is a Swagger 2.0 document titled Kubernetes v1.32.0', () => {
    assert.equal(doc.swagger, '2.0');
    assert.equal(doc.info.title, 'Kubernetes');
    assert.equal(doc.info.version, 'v1.32.0');
  });

  it('has one path per kind, in order', () => {
    assert.deepEqual(
      doc.paths.path.map((p: any) => p.name),
      kinds.map((k) => k.path),
    );
  });

  it("puts the kind's group/version/kind as YAML in the PATCH operation's x-kubernetes-group-version-kind", () => {
    const gvk = (i: number) => doc.paths.path[i].value.patch.vendorExtension.find((e: any) => e.name === 'x-kubernetes-group-version-kind').value.yaml;
    assert.equal(gvk(1), 'group: kubevirt.io\nkind: VirtualMachineInstance\nversion: v1\n');
    assert.equal(gvk(0), 'group: ""\nkind: Namespace\nversion: v1\n');
    assert.deepEqual(YAML.parse(gvk(0)), { group: '', kind: 'Namespace', version: 'v1' });
  });

  it('lists fieldValidation as a non-body query parameter of type string on every PATCH', () => {
    for (const p of doc.paths.path) {
      const params = p.value.patch.parameters.map((x: any) => x.parameter.nonBodyParameter.queryParameterSubSchema);
      const fv = params.find((q: any) => q.name === 'fieldValidation');
      assert.ok(fv, `fieldValidation on ${p.name}`);
      assert.equal(fv.in, 'query');
      assert.equal(fv.type, 'string');
      assert.ok(p.value.patch.parameters.every((x: any) => x.parameter.bodyParameter === undefined));
    }
  });

  it('has the gnostic field numbers on the wire (Document.paths = 8, Paths.path = 2, PathItem.patch = 8)', () => {
    const r = protobuf.Reader.create(openapiV2Document(kinds.slice(0, 1)));
    const fields: number[] = [];
    let paths: Uint8Array | undefined;
    while (r.pos < r.len) {
      const tag = r.uint32();
      fields.push(tag >>> 3);
      if (tag >>> 3 === 8) paths = r.bytes();
      else r.skipType(tag & 7);
    }
    assert.deepEqual(fields, [1, 2, 8]);
    const p = protobuf.Reader.create(paths!);
    assert.equal(p.uint32(), (2 << 3) | 2); // Paths.path, a NamedPathItem
    const item = protobuf.Reader.create(p.bytes());
    assert.equal(item.uint32(), (1 << 3) | 2);
    assert.equal(item.string(), '/api/v1/namespaces/{name}');
    assert.equal(item.uint32(), (2 << 3) | 2);
    const pathItem = protobuf.Reader.create(item.bytes());
    assert.equal(pathItem.uint32() >>> 3, 8); // PathItem.patch
  });

  it('with no kinds is still a valid, empty document', () => {
    const empty = decode(openapiV2Document([]));
    assert.equal(empty.swagger, '2.0');
    assert.deepEqual(empty.paths?.path ?? [], []);
  });

  it('names the media types kubectl asks for and the one to answer with', () => {
    assert.equal(OPENAPI_V2_PROTOBUF, 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf');
    assert.equal(OPENAPI_V2_PROTOBUF_RESPONSE, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
  });
});
