/** Secret values of one execution: cipher (spec 04 §6.1) and parameter restore (§6.2). */
export { decryptJsonValue, encryptJsonValue, encryptionKeyHash, EncryptionError } from './crypto';
export { restoreSecretParameters, SecretRestoreError, type StoredSecretValue } from './restore';
export { getAtPointer, setAtPointer, escapePointerSegment } from './json-pointer';
