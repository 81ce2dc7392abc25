import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptJsonValue,
  encryptJsonValue,
  encryptionKeyHash,
  EncryptionError,
} from '../../../src/secrets/crypto';

const KEY = 'this_is_a_test_key_that_is_32_chars_long!!!!';

/** Independent encoder following spec 04 §6.1 step by step. */
function referenceEncrypt(value: unknown, key: string): string {
  const aesKey = createHash('sha256').update(key).digest();
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey, nonce);
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64');
}

describe('AES-256-GCM JSON values (spec 04 §6.1)', () => {
  it.each([['a string'], [{ user: 'admin', password: 's3cret', port: 5432 }], [['t1', 42, true, null]], [42], ['🔐 ünïcode 日本語']])(
    'decrypts a value produced independently: %j',
    (value) => {
      expect(decryptJsonValue(referenceEncrypt(value, KEY), KEY)).toEqual(value);
    },
  );

  it('round-trips its own ciphertext with a fresh nonce each time', () => {
    const a = encryptJsonValue({ k: 'v' }, KEY);
    const b = encryptJsonValue({ k: 'v' }, KEY);
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64').length).toBe(12 + Buffer.byteLength('{"k":"v"}') + 16);
    expect(decryptJsonValue(a, KEY)).toEqual({ k: 'v' });
  });

  it('hashes the key string as lowercase hex SHA-256', () => {
    expect(encryptionKeyHash(KEY)).toBe(createHash('sha256').update(KEY).digest('hex'));
    expect(encryptionKeyHash(KEY)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['a short key', () => decryptJsonValue(referenceEncrypt('x', KEY), 'short'), 'Encryption key must be at least 32 characters'],
    ['a non-string value', () => decryptJsonValue(42, KEY), 'Encrypted JSON value must be a string'],
    ['invalid base64', () => decryptJsonValue('not base64!!', KEY), 'Invalid base64: invalid input'],
    ['a too short ciphertext', () => decryptJsonValue(Buffer.from('short').toString('base64'), KEY), 'Invalid ciphertext: too short'],
    ['the wrong key', () => decryptJsonValue(referenceEncrypt('x', KEY), 'wrong_key_that_is_also_32_chars_long!!!'), 'Decryption failed: aead::Error'],
  ])('rejects %s', (_name, fn, message) => {
    expect(fn).toThrow(EncryptionError);
    expect(fn).toThrow(message);
  });

  it('counts the key length in UTF-8 bytes', () => {
    const key = 'é'.repeat(16); // 16 characters, 32 bytes
    expect(decryptJsonValue(encryptJsonValue('ok', key), key)).toBe('ok');
  });
});
