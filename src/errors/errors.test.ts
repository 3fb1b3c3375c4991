import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createError, errorSpecs, isVirtmeshError } from './index.js';

describe('error registry', () => {
  it('fills templates and carries code, status and cause', () => {
    const cause = new Error('disk full');
    const e = createError('VM_ERR_STORE_NOT_FOUND', ['pods', 'x'], cause);
    assert.equal(e.message, 'pods "x" not found');
    assert.equal(e.code, 'VM_ERR_STORE_NOT_FOUND');
    assert.equal(e.status, 404);
    assert.equal(e.cause, cause);
    assert.ok(isVirtmeshError(e, 'VM_ERR_STORE_NOT_FOUND'));
    assert.ok(!isVirtmeshError(new Error('x')));
  });
  it('is documented code for code in docs/errors.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `(VM_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    assert.deepEqual(documented, Object.keys(errorSpecs).sort());
  });
});
