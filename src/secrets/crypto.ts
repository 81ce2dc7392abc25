/**
 * AES-256-GCM secret values exactly as upstream stores them (spec 04 §6.1,
 * `crates/common/src/crypto.rs`): key = SHA-256(key string), 12-byte random nonce, 16-byte tag,
 * standard padded base64 of `nonce || ciphertext || tag`, wrapped as a JSON string.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MIN_KEY_BYTES = 32;

/** Upstream `Error::Encryption`; `message` is the inner text, `display` adds the Rust prefix. */
export class EncryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionError';
  }

  /** `Error` Display as upstream prints it (spec 03 §5). */
  get display(): string {
    return `Encryption error: ${this.message}`;
  }
}

/** Lowercase hex SHA-256 of the key string (`execution_secret_value.encryption_key_hash`). */
export function encryptionKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function deriveKey(key: string): Buffer {
  // Rust `str::len` counts UTF-8 bytes, not characters.
  if (Buffer.byteLength(key, 'utf8') < MIN_KEY_BYTES) {
    throw new EncryptionError('Encryption key must be at least 32 characters');
  }
  return createHash('sha256').update(key, 'utf8').digest();
}

export function encryptString(plaintext: string, key: string): string {
  const aesKey = deriveKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey, nonce);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decryptString(ciphertext: string, key: string): string {
  const aesKey = deriveKey(key);
  // Rust's STANDARD engine rejects what Node's lenient base64 decoder would silently accept.
  if (!STRICT_BASE64.test(ciphertext)) throw new EncryptionError('Invalid base64: invalid input');
  const data = Buffer.from(ciphertext, 'base64');
  if (data.length < NONCE_BYTES) throw new EncryptionError('Invalid ciphertext: too short');
  if (data.length < NONCE_BYTES + TAG_BYTES) throw new EncryptionError('Decryption failed: aead::Error');
  const nonce = data.subarray(0, NONCE_BYTES);
  const tag = data.subarray(data.length - TAG_BYTES);
  const body = data.subarray(NONCE_BYTES, data.length - TAG_BYTES);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', aesKey, nonce);
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new EncryptionError('Decryption failed: aead::Error');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch (e) {
    throw new EncryptionError(`Invalid UTF-8 in decrypted data: ${(e as Error).message}`);
  }
}

/** `encrypt_json`: compact JSON text, encrypted; returns the base64 string stored as a JSON string. */
export function encryptJsonValue(value: unknown, key: string): string {
  const text = JSON.stringify(value === undefined ? null : value);
  return encryptString(text, key);
}

/** `decrypt_json`: `encrypted` must be a JSON string holding the base64 ciphertext. */
export function decryptJsonValue(encrypted: unknown, key: string): unknown {
  if (typeof encrypted !== 'string') throw new EncryptionError('Encrypted JSON value must be a string');
  const text = decryptString(encrypted, key);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new EncryptionError(`Failed to parse decrypted JSON: ${(e as Error).message}`);
  }
}
