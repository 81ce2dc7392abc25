import { describe, expect, it } from 'vitest';
import type { OutputSink, OutputSinks } from '../../../src/execution/log-sink';
import { makePack, makeRequest, run } from './helpers';

/** An in-memory OutputSink recording what the engine hands it. */
function memorySink(withNotice: boolean): OutputSink & { data: Buffer[]; notices: Buffer[]; sealed: number; abandoned: number } {
  const s = {
    data: [] as Buffer[],
    notices: [] as Buffer[],
    sealed: 0,
    abandoned: 0,
    failed: false,
    write(chunk: Buffer) {
      s.data.push(chunk);
    },
    async seal() {
      s.sealed++;
    },
    async abandon() {
      s.abandoned++;
    },
  };
  return withNotice ? Object.assign(s, { writeNotice: (n: Buffer) => void s.notices.push(n) }) : s;
}

describe('injected output sinks (the engine side of log streams)', () => {
  it('gets the kept bytes of each stream and is sealed once after the run', async () => {
    const packDir = makePack({ 'a.sh': "#!/bin/bash\nprintf 'out\\n'\nprintf 'err\\n' >&2\n" });
    const stdout = memorySink(true);
    const stderr = memorySink(true);
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell' }), { sinks: { stdout, stderr } });
    expect(outcome.status).toBe('completed');
    expect(Buffer.concat(stdout.data).toString()).toBe('out\n');
    expect(Buffer.concat(stderr.data).toString()).toBe('err\n');
    expect([stdout.sealed, stderr.sealed, stdout.notices.length]).toEqual([1, 1, 0]);
  });

  it('hands the truncation notice to writeNotice, or to write for sinks without it', async () => {
    const packDir = makePack({ 'big.sh': "#!/bin/bash\nhead -c 2000 /dev/zero | tr '\\0' 'x'\n" });
    const a = memorySink(true);
    await run(makeRequest({ packDir, entrypoint: 'big.sh', runtimeName: 'shell', maxStdoutBytes: 1024 }), { sinks: { stdout: a } });
    expect(Buffer.concat(a.data).length).toBe(896);
    expect(a.notices.map((n) => n.toString())).toEqual(['\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n']);
    const b = memorySink(false);
    await run(makeRequest({ packDir, entrypoint: 'big.sh', runtimeName: 'shell', maxStdoutBytes: 1024 }), { sinks: { stdout: b } });
    expect(Buffer.concat(b.data).toString()).toBe(`${'x'.repeat(896)}\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n`);
  });

  /** Sinks that exist only once `after` resolves (the adapter's rows still in flight). */
  function later(after: Promise<unknown>, sinks: OutputSinks): Promise<OutputSinks> {
    return after.then(() => sinks);
  }

  it('sinks still being set up when the action has printed and exited: nothing of its output is lost', async () => {
    // Node resumes (drops) the stdio of an exited child nobody reads: reading must start at the spawn.
    const packDir = makePack({ 'a.sh': "#!/bin/bash\nprintf 'first\\n'\nprintf 'err\\n' >&2\nprintf 'last\\n'\n" });
    const stdout = memorySink(true);
    const stderr = memorySink(true);
    let spawnedAt = 0;
    let attachedAt = 0;
    let onSpawn: () => void = () => undefined;
    const spawned = new Promise<void>((resolve) => (onSpawn = resolve));
    const sinks = later(
      spawned.then(() => new Promise((r) => setTimeout(r, 300))),
      { stdout, stderr },
    ).then((s) => ((attachedAt = Date.now()), s));
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell' }), {
      sinks,
      onSpawn: () => {
        spawnedAt = Date.now();
        onSpawn();
      },
    });
    expect(attachedAt - spawnedAt).toBeGreaterThanOrEqual(290);
    expect(outcome.status).toBe('completed');
    expect(outcome.result.stdout).toBe('first\nlast\n');
    expect(Buffer.concat(stdout.data).toString()).toBe('first\nlast\n');
    expect(Buffer.concat(stderr.data).toString()).toBe('err\n');
    expect([stdout.sealed, stderr.sealed, stdout.abandoned]).toEqual([1, 1, 0]);
    expect(outcome.result.logs_incomplete).toBeUndefined();
  });

  it('sinks still being set up: more than the pipes hold is held in order, the truncation notice last', async () => {
    const packDir = makePack({ 'a.sh': "#!/bin/bash\nfor i in $(seq 1 20000); do echo \"line $i\"; done\n" });
    const stdout = memorySink(true);
    const sinks = later(new Promise((r) => setTimeout(r, 400)), { stdout });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell', maxStdoutBytes: 100_000 }), { sinks });
    expect(outcome.status).toBe('completed');
    const text = Buffer.concat(stdout.data).toString();
    const expected = Array.from({ length: 20000 }, (_, i) => `line ${i + 1}\n`).join('');
    expect(text.length).toBeGreaterThan(90_000);
    expect(expected.startsWith(text)).toBe(true);
    expect(stdout.notices.map((n) => n.toString())).toEqual(['\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n']);
  });

  it('sinks whose set-up throws: the action still runs to its result, logs marked incomplete', async () => {
    const packDir = makePack({ 'a.sh': "#!/bin/bash\necho ok\n" });
    const sinks = new Promise<OutputSinks>((_, reject) => setTimeout(() => reject(new Error('set-up exploded')), 50));
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell' }), { sinks });
    expect(outcome.status).toBe('completed');
    expect(outcome.result.stdout).toBe('ok\n');
    expect(outcome.result.logs_incomplete).toBe(true);
  });

  it('a spawn that fails while the sinks are still being set up: they are awaited, then abandoned', async () => {
    const packDir = makePack({ 'a.sh': "#!/bin/bash\necho ok\n" });
    const stdout = memorySink(true);
    const sinks = later(new Promise((r) => setTimeout(r, 100)), { stdout });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell' }), {
      sinks,
      spawner: () => {
        throw Object.assign(new Error('spawn EACCES'), { code: 'EACCES' });
      },
    });
    expect(outcome.status).toBe('failed');
    expect([stdout.sealed, stdout.abandoned]).toEqual([0, 1]);
  });
});
