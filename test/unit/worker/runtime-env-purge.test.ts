import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACK_REF_MARKER } from '../../../src/envs';
import { checkRecordedPath, purgePackRuntimeEnvironments, PurgeRejected } from '../../../src/worker/runtime-env-purge';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);
let work: string;
let root: string;
let outside: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'purge-'));
  root = join(work, 'runtime_envs');
  outside = join(work, 'outside');
  mkdirSync(join(root, 'gone', 'python'), { recursive: true });
  mkdirSync(join(root, 'kept', 'python'), { recursive: true });
  mkdirSync(join(root, 'sha256', KEY_A), { recursive: true });
  writeFileSync(join(root, 'sha256', KEY_A, PACK_REF_MARKER), 'gone\n');
  mkdirSync(join(root, 'sha256', KEY_B), { recursive: true });
  writeFileSync(join(root, 'sha256', KEY_B, PACK_REF_MARKER), 'kept');
  mkdirSync(join(outside, 'victim'), { recursive: true });
  writeFileSync(join(outside, 'victim', 'file'), 'precious');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function untouched(): void {
  expect(existsSync(join(outside, 'victim', 'file'))).toBe(true);
  expect(existsSync(join(root, 'kept', 'python'))).toBe(true);
  expect(existsSync(join(root, 'sha256', KEY_B))).toBe(true);
}

describe('purgePackRuntimeEnvironments (spec 07 §3.1 step 7)', () => {
  it('removes {root}/<pack> and the content-addressed dirs marked with the pack, nothing else', async () => {
    const removed = await purgePackRuntimeEnvironments(root, 'gone', []);
    expect(removed.sort()).toEqual([join(root, 'gone'), join(root, 'sha256', KEY_A)].sort());
    expect(existsSync(join(root, 'gone'))).toBe(false);
    expect(existsSync(join(root, 'sha256', KEY_A))).toBe(false);
    untouched();
  });

  it('removes a relative recorded path (two components or more)', async () => {
    mkdirSync(join(root, 'legacy', 'python-3.12'), { recursive: true });
    await purgePackRuntimeEnvironments(root, 'gone', ['legacy/python-3.12']);
    expect(existsSync(join(root, 'legacy', 'python-3.12'))).toBe(false);
    expect(existsSync(join(root, 'legacy'))).toBe(true);
    untouched();
  });

  it('rejects an absolute recorded path before removing anything', async () => {
    await expect(purgePackRuntimeEnvironments(root, 'gone', [join(outside, 'victim')])).rejects.toThrow(/must be relative/);
    expect(existsSync(join(root, 'gone'))).toBe(true);
    untouched();
    expect(checkRecordedPath('/etc')).toMatch(/relative/);
  });

  it('rejects a `..` path that leaves the root, removing nothing', async () => {
    const err = await purgePackRuntimeEnvironments(root, 'gone', ['../outside/victim']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PurgeRejected);
    expect((err as Error).message).toMatch(/outside the runtime root/);
    expect(existsSync(join(root, 'gone'))).toBe(true);
    untouched();
  });

  it('accepts a `..` path that stays inside the root', async () => {
    mkdirSync(join(root, 'legacy', 'node'), { recursive: true });
    await purgePackRuntimeEnvironments(root, 'gone', ['kept/../legacy/node']);
    expect(existsSync(join(root, 'legacy', 'node'))).toBe(false);
    untouched();
  });

  it('rejects a path whose ancestor is a symlink out of the root', async () => {
    symlinkSync(outside, join(root, 'escape'));
    await expect(purgePackRuntimeEnvironments(root, 'gone', ['escape/victim'])).rejects.toThrow(/outside the runtime root/);
    expect(existsSync(join(root, 'gone'))).toBe(true);
    untouched();
  });

  it('follows a symlinked ancestor that stays inside the root', async () => {
    mkdirSync(join(root, 'real', 'env'), { recursive: true });
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    const removed = await purgePackRuntimeEnvironments(root, 'gone', ['alias/env']);
    expect(removed).toContain(join(root, 'real', 'env'));
    expect(existsSync(join(root, 'real', 'env'))).toBe(false);
    untouched();
  });

  it('works when the root itself sits below a symlinked ancestor', async () => {
    const linkedParent = join(work, 'linked');
    symlinkSync(work, linkedParent);
    await purgePackRuntimeEnvironments(join(linkedParent, 'runtime_envs'), 'gone', []);
    expect(existsSync(join(root, 'gone'))).toBe(false);
    untouched();
  });

  it('rejects a symlinked candidate and a symlinked root', async () => {
    symlinkSync(join(outside, 'victim'), join(root, 'sha256', 'link-env'));
    await expect(purgePackRuntimeEnvironments(root, 'gone', ['sha256/link-env'])).rejects.toThrow(/is a symlink/);
    const linkRoot = join(work, 'root-link');
    symlinkSync(root, linkRoot);
    await expect(purgePackRuntimeEnvironments(linkRoot, 'gone', [])).rejects.toThrow(/root .* is a symlink/);
    expect(existsSync(join(root, 'gone'))).toBe(true);
    untouched();
  });

  it('rejects a recorded path one component deep (too broad) and the root itself', async () => {
    await expect(purgePackRuntimeEnvironments(root, 'gone', ['sha256'])).rejects.toThrow(/too broad/);
    await expect(purgePackRuntimeEnvironments(root, 'gone', ['.'])).rejects.toThrow(/outside the runtime root/);
    await expect(purgePackRuntimeEnvironments(root, 'gone', [''])).rejects.toThrow(/must not be empty/);
    expect(existsSync(join(root, 'sha256', KEY_A))).toBe(true);
    untouched();
  });

  it('does nothing when the root does not exist; skips missing candidates', async () => {
    expect(await purgePackRuntimeEnvironments(join(work, 'nope'), 'gone', ['a/b'])).toEqual([]);
    expect(await purgePackRuntimeEnvironments(root, 'gone', ['missing/dir'])).toHaveLength(2);
  });
});
