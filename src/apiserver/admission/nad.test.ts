import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldErrorMessage, type KubeObject, validatorsFor } from './index.js';
import { goJSONSyntaxError } from './nad.js';

const ctx = { operation: 'CREATE' as const, get: () => undefined };
function check(config: unknown): string[] {
  const nad: KubeObject = { metadata: { name: 'br1', namespace: 'default' }, spec: config === undefined ? {} : { config } };
  const [v] = validatorsFor('k8s.cni.cncf.io', 'NetworkAttachmentDefinition');
  assert.equal(v.webhook, 'net-attach-def-admission-controller-validating-config.k8s.cni.cncf.io');
  return v.validate(nad, ctx).map(fieldErrorMessage);
}

describe('NetworkAttachmentDefinition', () => {
  it('accepts a CNI config, a config list, or no config', () => {
    assert.deepEqual(check('{"cniVersion":"0.3.1","type":"bridge","bridge":"br1","ipam":{}}'), []);
    assert.deepEqual(check('{"cniVersion":"0.3.1","name":"n","plugins":[{"type":"bridge"},{"type":"tuning"}]}'), []);
    assert.deepEqual(check(undefined), []);
  });
  it('rejects malformed JSON the way Multus does', () => {
    assert.deepEqual(check('{ "cniVersion": "0.3.0"malFormattedJSON }'), [
      `spec.config: Invalid value: "{ \\"cniVersion\\": \\"0.3.0\\"malFormattedJSON }": invalid config: error parsing configuration: invalid character 'm' after object key:value pair`,
    ]);
  });
  it('rejects a config without a type', () => {
    assert.deepEqual(check('{"invalid": "config"}'), [
      `spec.config: Invalid value: "{\\"invalid\\": \\"config\\"}": invalid config: error parsing configuration: missing 'type'`,
    ]);
    assert.match(check('[1]')[0], /json: cannot unmarshal array into Go value of type types.NetConf$/);
  });
  it('reports Go encoding/json syntax errors', () => {
    assert.equal(goJSONSyntaxError('{"a":1}'), undefined);
    assert.equal(goJSONSyntaxError(''), 'unexpected end of JSON input');
    assert.equal(goJSONSyntaxError('{"a":1'), 'unexpected end of JSON input');
    assert.equal(goJSONSyntaxError('{a:1}'), "invalid character 'a' looking for beginning of object key string");
    assert.equal(goJSONSyntaxError('{"a" 1}'), "invalid character '1' after object key");
    assert.equal(goJSONSyntaxError('[1 2]'), "invalid character '2' after array element");
    assert.equal(goJSONSyntaxError('{"a":tru}'), "invalid character '}' in literal true (expecting 'e')");
    assert.equal(goJSONSyntaxError('{"a":1} x'), "invalid character 'x' after top-level value");
    assert.equal(goJSONSyntaxError('{"a":"\n"}'), "invalid character '\\n' in string literal");
    assert.equal(goJSONSyntaxError("{'a':1}"), "invalid character '\\'' looking for beginning of object key string");
    assert.equal(goJSONSyntaxError('{"a":-}'), "invalid character '}' in numeric literal");
  });
});
