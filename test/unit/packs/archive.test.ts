import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryComponents, extractPackArchive, PackArchiveError } from '../../../src/packs/archive';
import { buildTarGz, simplePackArchive, type TarEntry } from '../../support/pack-archive';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'attune-archive-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function archive(entries: TarEntry[] | Buffer): string {
  const p = join(work, `a-${Math.random().toString(16).slice(2)}.tar.gz`);
  writeFileSync(p, Buffer.isBuffer(entries) ? entries : buildTarGz(entries));
  return p;
}

const base: TarEntry[] = [
  { path: 'demo/', type: 'Directory' },
  { path: 'demo/pack.yaml', body: 'ref: demo\n' },
];

async function rejection(entries: TarEntry[] | Buffer, limits?: Parameters<typeof extractPackArchive>[3]): Promise<PackArchiveError> {
  const err = await extractPackArchive(archive(entries), join(work, `out-${Math.random().toString(16).slice(2)}`), 'demo', limits).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PackArchiveError);
  return err as PackArchiveError;
}

describe('extractPackArchive', () => {
  it('unpacks files and directories under <pack_ref>/, turning any execute bit into 0755 and dropping other modes', async () => {
    const stats = await extractPackArchive(
      archive([
        ...base,
        { path: 'demo/actions/run.sh', body: '#!/bin/sh\n', mode: 0o700 },
        { path: 'demo/actions/data.txt', body: 'x', mode: 0o666 },
        { path: 'demo/deep/nested/file', body: 'n' }, // parents created without directory entries
      ]),
      join(work, 'out'),
      'demo',
    );
    expect(stats).toEqual({ entries: 5, bytes: 10 + 10 + 1 + 1 });
    const out = join(work, 'out', 'demo');
    expect(readFileSync(join(out, 'pack.yaml'), 'utf8')).toBe('ref: demo\n');
    expect(statSync(join(out, 'actions/run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, 'actions/data.txt')).mode & 0o111).toBe(0);
    expect(statSync(join(out, 'actions/data.txt')).mode & 0o002).toBe(0); // umask'd, not the archive's 0666
    expect(readFileSync(join(out, 'deep/nested/file'), 'utf8')).toBe('n');
  });

  it('refuses an entry that climbs out with ../ and writes nothing outside the destination', async () => {
    const err = await rejection([...base, { path: 'demo/../../escaped.txt', body: 'pwned' }]);
    expect(err.message).toBe("Pack archive entry 'demo/../../escaped.txt' is not confined to the 'demo' directory");
    expect(existsSync(join(work, 'escaped.txt'))).toBe(false);
  });

  it.each([
    ['/etc/passwd', 'absolute path'],
    ['./demo/pack.yaml', 'leading ./'],
    ['other/pack.yaml', 'another top directory'],
  ])('refuses %s (%s)', async (path) => {
    const err = await rejection([...base, { path, body: 'x' }]);
    expect(err.message).toContain('is not confined to the');
  });

  it.each([
    ['SymbolicLink', { linkpath: '/etc/passwd' }],
    ['Link', { linkpath: 'demo/pack.yaml' }],
    ['CharacterDevice', {}],
    ['FIFO', {}],
  ] as const)('refuses a %s entry', async (type, extra) => {
    const err = await rejection([...base, { path: 'demo/evil', type, ...extra }]);
    expect(err.message).toBe(`Pack archive contains forbidden entry type ${type}`);
    expect(readdirSync(work, { recursive: true }).map(String).filter((p) => p.endsWith('evil'))).toEqual([]);
  });

  it('refuses more entries than the limit', async () => {
    const many: TarEntry[] = [...base, ...Array.from({ length: 20 }, (_, i) => ({ path: `demo/f${i}`, body: 'x' }))];
    const err = await rejection(many, { maxEntries: 10, maxEntryBytes: 1024, maxTotalBytes: 1024 * 1024 });
    expect(err.message).toBe('Pack archive contains too many entries');
  });

  it('refuses an entry over the per-entry limit and archives over the total limit', async () => {
    const big = 'y'.repeat(2000);
    expect((await rejection([...base, { path: 'demo/big', body: big }], { maxEntries: 100, maxEntryBytes: 1000, maxTotalBytes: 100_000 })).message).toBe(
      'Pack archive entry exceeds the per-entry size limit',
    );
    const parts = Array.from({ length: 5 }, (_, i) => ({ path: `demo/p${i}`, body: 'z'.repeat(900) }));
    expect((await rejection([...base, ...parts], { maxEntries: 100, maxEntryBytes: 1000, maxTotalBytes: 3000 })).message).toBe(
      'Pack archive exceeds the total extracted size limit',
    );
  });

  it('refuses a duplicate file entry (files are created exclusively)', async () => {
    const err = await rejection([...base, { path: 'demo/pack.yaml', body: 'second' }]);
    expect(err.message).toMatch(/'demo\/pack.yaml' cannot be created \(EEXIST\)/);
    // A file over the pack directory itself: confined (first component is the ref) but conflicting.
    expect((await rejection([...base, { path: 'demo', body: 'x' }])).message).toMatch(/'demo' cannot be created/);
  });

  it('refuses an archive without <pack_ref>/pack.yaml', async () => {
    const err = await rejection([{ path: 'demo/', type: 'Directory' }, { path: 'demo/readme', body: 'x' }]);
    expect(err.message).toBe('Pack archive does not contain pack.yaml at its pack root');
  });

  it('refuses plain (uncompressed) data and a truncated archive', async () => {
    expect((await rejection(Buffer.from('not an archive at all'))).message).toBe('Pack archive is not gzip-compressed');
    const good = simplePackArchive('demo', { 'big.bin': 'q'.repeat(50_000) });
    const err = await rejection(good.subarray(0, Math.floor(good.length / 2)));
    expect(err.message).toMatch(/^Pack archive is not a valid gzip tar/);
  });

  it('maps entry paths like Rust Path::components()', () => {
    expect(entryComponents('demo/a//b/./c/')).toEqual(['demo', 'a', 'b', 'c']);
    expect(entryComponents('./demo')).toBeNull();
    expect(entryComponents('demo/..')).toBeNull();
    expect(entryComponents('/demo')).toBeNull();
    expect(readdirSync(work)).toEqual([]);
  });
});
