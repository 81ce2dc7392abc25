/**
 * The two ways an execution fails without a run result (spec 03 §1.2 steps 4 and 6, §5 "Other
 * paths"). These are *results* (DB `failed`), not agent faults: `runExecution` turns them into
 * an outcome and never lets them escape.
 */
import os from 'node:os';

/** Context preparation failed → `Failed to prepare execution context: <message>`. */
export class PrepareFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrepareFailure';
  }
}

/**
 * Upstream `RuntimeError` → `Action execution failed: Internal error: <message>`; `message`
 * already carries the RuntimeError Display prefix (`Invalid action: `, `Setup error: `, …).
 */
export class RuntimeFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeFailure';
  }
}

export const runtimeError = {
  invalidAction: (m: string) => new RuntimeFailure(`Invalid action: ${m}`),
  runtimeNotFound: (m: string) => new RuntimeFailure(`Runtime not found: ${m}`),
  setup: (m: string) => new RuntimeFailure(`Setup error: ${m}`),
  executionFailed: (m: string) => new RuntimeFailure(`Execution failed: ${m}`),
  io: (e: unknown) => new RuntimeFailure(`IO error: ${describeIoError(e)}`, { cause: e }),
};

export function prepareFailureText(message: string): string {
  return `Failed to prepare execution context: ${message}`;
}

export function runtimeFailureText(message: string): string {
  return `Action execution failed: Internal error: ${message}`;
}

/** Linux strerror texts for the errnos a spawn or temp-file write can hit. */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOEXEC: 'Exec format error',
  ETXTBSY: 'Text file busy',
  E2BIG: 'Argument list too long',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOMEM: 'Cannot allocate memory',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EAGAIN: 'Resource temporarily unavailable',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EEXIST: 'File exists',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EPIPE: 'Broken pipe',
};

/** Rust `io::Error` Display: `<strerror> (os error <n>)` when the errno is known. */
export function describeIoError(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const code = err?.code;
  if (code && STRERROR[code]) {
    const errno = (os.constants.errno as Record<string, number>)[code];
    return errno !== undefined ? `${STRERROR[code]} (os error ${errno})` : STRERROR[code];
  }
  return err?.message ?? String(e);
}
