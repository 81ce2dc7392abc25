/**
 * The completion journal's storage (issue 18): one append-only file per process instead of a
 * file per execution; what a killed process left is taken over at the next open; torn records
 * and compaction. The replay against PostgreSQL is test/integration/db/completion-journal.test.ts.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CompletionJournal } from '../../../src/worker/completion-journal';

let dir: string;
const message = (id: string) => ({ messageId: id, at: new Date(0).toISOString(), fields: { status: 'Completed' } });
const ids = () => CompletionJournal.entriesOnDisk(dir).map((e) => e.executionId);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'attune-journal-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('completion journal storage', () => {
  it('keeps one file per process however many executions pass through it', async () => {
    const j = await CompletionJournal.open(dir);
    for (let id = 1; id <= 200; id++) {
      await j.begin(id, 'completed', { exit_code: 0 });
      await j.recordMessage(id, 'status', message(`s${id}`));
      await j.recordMessage(id, 'completion', message(`c${id}`));
      if (id % 10 !== 0) await j.end(id);
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.log'))).toHaveLength(1);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(ids()).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200]);
    j.close();
  });

  it('hands what a killed process left to the next one, with its envelopes, and removes its file', async () => {
    const first = await CompletionJournal.open(dir);
    await first.begin(7, 'failed', { exit_code: 3 });
    await first.recordMessage(7, 'completion', message('c7'));
    await first.begin(8, 'completed', { exit_code: 0 });
    await first.end(8);
    // "killed": never closed, never ended.
    const second = await CompletionJournal.open(dir);
    const pending = await second.pending();
    expect(pending.map((e) => [e.executionId, e.status, e.completionMessage?.messageId])).toEqual([[7, 'failed', 'c7']]);
    expect(second.recordedMessage(7, 'completion')?.messageId).toBe('c7');
    expect(readdirSync(dir)).toHaveLength(1); // the first process's file is gone, its entry copied
    // Killed again before the replay finished: a third process still finds it.
    const third = await CompletionJournal.open(dir);
    expect((await third.pending()).map((e) => e.executionId)).toEqual([7]);
    await third.end(7);
    expect(ids()).toEqual([]);
    first.close();
    second.close();
    third.close();
  });

  it('reads the per-execution files of the earlier layout and drops interrupted temp files', async () => {
    const entry = { executionId: 42, status: 'completed', resultHash: 'ab', at: '2026-11-30T00:00:00.000Z' };
    writeFileSync(join(dir, '42.json'), `${JSON.stringify(entry)}\n`);
    writeFileSync(join(dir, '43.json.tmp'), '{"executionId":43');
    writeFileSync(join(dir, '44.json'), 'not json');
    const j = await CompletionJournal.open(dir);
    expect(await j.pending()).toEqual([entry]);
    expect(readdirSync(dir).filter((n) => !n.endsWith('.log'))).toEqual([]);
    j.close();
  });

  it('skips a torn record and reads the records after it', async () => {
    const first = await CompletionJournal.open(dir);
    await first.begin(1, 'completed', null);
    const file = join(dir, readdirSync(dir)[0] as string);
    appendFileSync(file, '\n{"op":"put","executionId":2,"status":"comp'); // disk full mid-record
    await first.begin(3, 'completed', null);
    expect(ids()).toEqual([1, 3]);
    first.close();
  });

  it('compacts the file to the open entries when it grows past the bound', async () => {
    const j = await CompletionJournal.open(dir, { compactBytes: 4096 });
    for (let id = 1; id <= 500; id++) {
      await j.begin(id, 'completed', { exit_code: 0, stdout: 'x'.repeat(50) });
      if (id !== 250) await j.end(id);
    }
    const name = readdirSync(dir)[0] as string;
    expect(readdirSync(dir)).toHaveLength(1);
    expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(4096 + 400);
    expect(ids()).toEqual([250]);
    expect(readFileSync(join(dir, name), 'utf8')).toContain('"executionId":250');
    j.close();
  });

  it('holds a descriptor on its file only while entries are owed (an idle agent pins no volume)', async () => {
    const j = await CompletionJournal.open(dir);
    const held = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
      } catch {
        return false;
      }
    }).length;
    expect(held()).toBe(0);
    await j.begin(1, 'completed', { exit_code: 0 });
    await j.begin(2, 'completed', { exit_code: 0 });
    expect(held()).toBe(1);
    await j.recordMessage(1, 'status', message('s1'));
    await j.end(1);
    expect(held()).toBe(1);
    await j.end(2);
    expect(held()).toBe(0);
    await j.begin(3, 'failed', null);
    j.close();
    expect(held()).toBe(0);
    expect(ids()).toEqual([3]);
  });

  it('writes the records after a compaction into the new file, not the replaced one', async () => {
    const j = await CompletionJournal.open(dir, { compactBytes: 2048 });
    await j.begin(1, 'completed', { exit_code: 0 }); // owed throughout: the descriptor stays held
    for (let id = 2; id <= 60; id++) {
      await j.begin(id, 'completed', { exit_code: 0, stdout: 'y'.repeat(40) });
      await j.end(id);
    }
    await j.begin(61, 'completed', { exit_code: 0 });
    expect(ids()).toEqual([1, 61]);
    const name = readdirSync(dir)[0] as string;
    expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(2048 + 400);
    j.close();
  });

  it('rejects writes after close() (the caller warns and runs on) instead of writing to a reused descriptor', async () => {
    const j = await CompletionJournal.open(dir);
    j.close();
    await expect(j.begin(1, 'completed', null)).rejects.toMatchObject({ code: 'EBADF' });
  });
});

describe('canonical result hash', () => {
  it('streams long strings without changing the hash: equal to the hash of the one-piece canonical text', async () => {
    const { canonicalJson, resultHash } = await import('../../../src/worker/completion-journal');
    const { createHash } = await import('node:crypto');
    // Long enough for several pieces, with a surrogate pair straddling a piece boundary and
    // characters JSON escapes.
    const long = `${'a'.repeat(64 * 1024 - 1)}😀${'"\\\n\u0001'.repeat(40_000)}é`;
    const value = { z: [1, null, undefined, { b: long, a: true }], a: long, m: 'x' };
    const oneString = `{"a":${JSON.stringify(long)},"m":"x","z":[1,null,null,{"a":true,"b":${JSON.stringify(long)}}]}`;
    expect(canonicalJson(value)).toBe(oneString);
    expect(resultHash(value)).toBe(createHash('sha256').update(oneString).digest('hex'));
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('hashes pieces that need no escaping as they are, and pieces with a lone surrogate or a control escaped', async () => {
    const { canonicalJson, resultHash } = await import('../../../src/worker/completion-journal');
    const { createHash } = await import('node:crypto');
    const piece = 64 * 1024;
    // Piece 1 plain ASCII, 2 non-ASCII without escapes, 3 a lone high surrogate, 4 a lone low
    // one, 5 a tab, 6 a backslash; each a whole piece so every path is taken.
    const long = ['a'.repeat(piece), 'é中'.repeat(piece / 2), `${'b'.repeat(piece - 2)}\ud800x`, `\udc00${'c'.repeat(piece - 1)}`, `\t${'d'.repeat(piece - 1)}`, `\\${'e'.repeat(10)}`].join('');
    const expected = `{"s":${JSON.stringify(long)}}`;
    expect(expected).toContain('\\ud800');
    expect(canonicalJson({ s: long })).toBe(expected);
    expect(resultHash({ s: long })).toBe(createHash('sha256').update(expected).digest('hex'));
  });
});
