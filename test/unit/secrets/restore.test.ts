import { describe, expect, it } from 'vitest';
import { encryptJsonValue, encryptionKeyHash } from '../../../src/secrets/crypto';
import { getAtPointer, setAtPointer } from '../../../src/secrets/json-pointer';
import { restoreSecretParameters, SecretRestoreError } from '../../../src/secrets/restore';

const KEY = 'this_is_a_test_key_that_is_32_chars_long!!!!';
const MARKER = { $attune_secret: true, redacted: true };

describe('restoreSecretParameters (spec 04 §6.2)', () => {
  it('splices decrypted values in at their pointers without mutating the input', () => {
    const config = { url: 'https://x', password: MARKER, auth: { token: MARKER } };
    const rows = [
      { jsonPath: '/auth/token', encryptedValue: encryptJsonValue('tok', KEY), encryptionKeyHash: encryptionKeyHash(KEY) },
      { jsonPath: '/password', encryptedValue: encryptJsonValue({ v: 's3cret' }, KEY), encryptionKeyHash: null },
    ];
    const restored = restoreSecretParameters(config, rows, KEY, 7);
    expect(restored).toEqual({ url: 'https://x', password: { v: 's3cret' }, auth: { token: 'tok' } });
    expect(config.password).toEqual(MARKER);
  });

  it('returns the config unchanged and needs no key when there are no rows', () => {
    const config = { a: 1 };
    expect(restoreSecretParameters(config, [], null, 7)).toBe(config);
  });

  it('fails without a key when rows exist', () => {
    const rows = [{ jsonPath: '/p', encryptedValue: encryptJsonValue('x', KEY), encryptionKeyHash: null }];
    expect(() => restoreSecretParameters({}, rows, null, 7)).toThrow(new SecretRestoreError('Internal error: No encryption key configured'));
  });

  it('refuses a row encrypted under another key hash', () => {
    const rows = [{ jsonPath: '/password', encryptedValue: encryptJsonValue('x', KEY), encryptionKeyHash: 'ab'.repeat(32) }];
    expect(() => restoreSecretParameters({}, rows, KEY, 7)).toThrow(
      "Internal error: Failed to restore secret parameters for execution 7: Encryption error: Encryption key hash mismatch for secret path '/password'",
    );
  });

  it('reports decryption failures with upstream wording', () => {
    const other = 'another_key_that_is_32_chars_long!!!!!!';
    const rows = [{ jsonPath: '/p', encryptedValue: encryptJsonValue('x', other), encryptionKeyHash: null }];
    expect(() => restoreSecretParameters({}, rows, KEY, 9)).toThrow(
      'Internal error: Failed to restore secret parameters for execution 9: Encryption error: Decryption failed: aead::Error',
    );
  });
});

describe('JSON pointer splicing', () => {
  it.each([
    ['replaces the whole document for the empty pointer', { a: 1 }, '', 'X', 'X'],
    ['creates missing intermediate objects', { a: 1 }, '/b/c', 'X', { a: 1, b: { c: 'X' } }],
    ['unescapes ~1 and ~0', {}, '/a~1b/c~0d', 'X', { 'a/b': { 'c~d': 'X' } }],
    ['writes array indices in range', { l: [1, 2] }, '/l/1', 'X', { l: [1, 'X'] }],
    ['skips array indices out of range', { l: [1, 2] }, '/l/5', 'X', { l: [1, 2] }],
    ['skips scalars in the way', { a: 1 }, '/a/b', 'X', { a: 1 }],
    ['treats __proto__ as a plain key', {}, '/__proto__', 'X', JSON.parse('{"__proto__":"X"}')],
  ])('%s', (_name, doc, pointer, value, expected) => {
    expect(setAtPointer(structuredClone(doc), pointer, value)).toEqual(expected);
  });

  it('reads values like serde_json pointer', () => {
    const doc = { a: [{ b: null }], 'x/y': 1 };
    expect(getAtPointer(doc, '/a/0/b')).toBeNull();
    expect(getAtPointer(doc, '/a/01')).toBeUndefined();
    expect(getAtPointer(doc, '/x~1y')).toBe(1);
    expect(getAtPointer(doc, 'a')).toBeUndefined();
    expect(getAtPointer(doc, '')).toBe(doc);
  });
});
