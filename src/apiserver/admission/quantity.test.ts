import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuantity, QUANTITY_FORMAT_ERROR, QUANTITY_SUFFIX_ERROR } from './quantity.js';

describe('parseQuantity', () => {
  it('binary suffixes', () => {
    assert.equal(parseQuantity('1Ki'), 1024);
    assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
    assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(parseQuantity('2Ti'), 2 * 2 ** 40);
    assert.equal(parseQuantity('1Ei'), 2 ** 60);
  });
  it('decimal suffixes and exponents', () => {
    assert.equal(parseQuantity('1024M'), 1.024e9);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('5k'), 5000);
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('1E6'), 1e6);
    assert.equal(parseQuantity('12e-3'), 0.012);
    assert.equal(parseQuantity('1E'), 1e18);
    assert.equal(parseQuantity('123'), 123);
    assert.equal(parseQuantity('.5Gi'), 2 ** 29);
    assert.equal(parseQuantity('+1k'), 1000);
  });
  it('negative values and numbers', () => {
    assert.equal(parseQuantity('-1G'), -1e9);
    assert.equal(parseQuantity(2048), 2048);
    assert.equal(parseQuantity('0'), 0);
  });
  it("rejects malformed quantities with kube's messages", () => {
    for (const bad of ['', 'lots', '1Gb', '1 Gi', 'Gi', '1.2.3', '--1', '1Gi5x']) {
      assert.throws(() => parseQuantity(bad), { message: QUANTITY_FORMAT_ERROR }, bad);
    }
    for (const bad of ['1KM', '1e', '1iM', '1Mii']) {
      assert.throws(() => parseQuantity(bad), { message: QUANTITY_SUFFIX_ERROR }, bad);
    }
    assert.throws(() => parseQuantity(Number.NaN), { message: QUANTITY_FORMAT_ERROR });
  });
});
