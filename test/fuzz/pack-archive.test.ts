/**
 * Hostile pack archives (src/packs/archive.ts): arbitrary entry paths never resolve outside the
 * destination, and arbitrary archives of hostile entries either unpack under `<dest>/<pack_ref>`
 * or are refused with PackArchiveError — nothing is ever written outside the destination.
 */
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryComponents, extractPackArchive, PackArchiveError } from '../../src/packs/archive';
import { buildTarGz, type TarEntry } from '../support/pack-archive';
import { CaseCounter, fcParams, RUNS } from './fuzz-helpers';

const counter = new CaseCounter();
counter.printAfterAll('pack-archive');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'attune-fuzz-archive-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const segment = fc.oneof(fc.constantFrom('demo', '.', '..', '', 'a', '...', '.hidden', 'x\\y', 'c:'), fc.string({ maxLength: 6 }));
const path = fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/'));
const prefixedPath = fc.tuple(fc.constantFrom('', '/', './', 'demo/', '/demo/', 'demo/../'), path).map(([p, q]) => p + q);

describe('pack archive paths', () => {
  it('an accepted entry path always resolves inside the destination', () => {
    const dest = resolve('/dest');
    fc.assert(
      fc.property(prefixedPath, (p) =>
        counter.time('components', () => {
          const parts = entryComponents(p);
          if (parts === null) return;
          const target = resolve(dest, ...parts);
          expect(target === dest || target.startsWith(dest + sep)).toBe(true);
          expect(parts.every((x) => x !== '' && x !== '.' && x !== '..')).toBe(true);
        }),
      ),
      fcParams(),
    );
  });

  it('hostile archives unpack only under <dest>/<pack_ref> or are refused', async () => {
    const entry: fc.Arbitrary<TarEntry> = fc.record({
      path: fc.oneof(prefixedPath, path.map((p) => `demo/${p}`)),
      type: fc.constantFrom('File', 'Directory', 'SymbolicLink', 'Link', 'FIFO') as fc.Arbitrary<TarEntry['type']>,
      body: fc.string({ maxLength: 20 }),
      linkpath: fc.constantFrom('/etc/passwd', '../../x', 'demo/pack.yaml'),
    });
    let i = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 8 }), fc.boolean(), async (entries, withManifest) => {
        i++;
        const dir = join(work, `case-${i}`);
        const out = join(dir, 'out');
        const archive = join(dir, 'a.tar.gz');
        const all = withManifest ? [{ path: 'demo/pack.yaml', body: 'ref: demo\n' } as TarEntry, ...entries] : entries;
        mkdirSync(dir, { recursive: true });
        writeFileSync(archive, buildTarGz(all));
        const t0 = performance.now();
        const r = await extractPackArchive(archive, out, 'demo').then(
          () => null,
          (e: unknown) => e,
        );
        counter.counts.set('archives', { cases: (counter.counts.get('archives')?.cases ?? 0) + 1, slowestMs: Math.max(counter.counts.get('archives')?.slowestMs ?? 0, performance.now() - t0) });
        if (r !== null) expect(r).toBeInstanceOf(PackArchiveError);
        // Only the archive and the destination exist in the case dir; nothing under out/ but demo/.
        for (const name of readdirSync(dir)) expect(['a.tar.gz', 'out']).toContain(name);
        for (const p of readdirSync(out, { recursive: true }).map(String)) expect(relative(out, join(out, p)).split(sep)[0]).toBe('demo');
        rmSync(dir, { recursive: true, force: true });
      }),
      fcParams(Math.max(20, Math.floor(RUNS / 10))),
    );
  });
});
