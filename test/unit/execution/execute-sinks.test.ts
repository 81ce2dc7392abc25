import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OutputSink } from '../../../src/execution/log-sink';
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

  it('sinks still being set up: the action starts, and its output waits for them, none lost', async () => {
    // 512 KiB is more than the pipe buffers hold: the action blocks until reading starts.
    const packDir = makePack({ 'a.sh': "#!/bin/bash\necho started > \"$MARKER\"\nhead -c 524288 /dev/zero | tr '\\0' 'y'\nprintf 'err\\n' >&2\n" });
    const marker = join(mkdtempSync(join(tmpdir(), 'attune-sinks-')), 'started');
    const stdout = memorySink(true);
    const stderr = memorySink(true);
    let startedBeforeSinks = false;
    const sinks = new Promise<{ stdout: OutputSink; stderr: OutputSink }>((resolve) => {
      const poll = setInterval(() => {
        if (!existsSync(marker)) return;
        clearInterval(poll);
        startedBeforeSinks = true;
        setTimeout(() => resolve({ stdout, stderr }), 100);
      }, 5);
    });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell', envVars: { MARKER: marker }, maxStdoutBytes: 1 << 20 }), { sinks });
    expect(startedBeforeSinks).toBe(true);
    expect(outcome.status).toBe('completed');
    expect(Buffer.concat(stdout.data).toString()).toBe('y'.repeat(524288));
    expect(Buffer.concat(stderr.data).toString()).toBe('err\n');
    expect([stdout.sealed, stderr.sealed]).toEqual([1, 1]);
  });

  it('sinks that fail to be set up: the started action is killed and the error goes to the caller', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-sinks-'));
    const pidFile = join(dir, 'pid');
    const packDir = makePack({ 'a.sh': '#!/bin/bash\necho $$ > "$MARKER"\nexec sleep 30\n' });
    const sinks = new Promise<never>((_, reject) => {
      const poll = setInterval(() => {
        if (!existsSync(pidFile)) return;
        clearInterval(poll);
        reject(new Error('set-up exploded'));
      }, 5);
    });
    const t0 = Date.now();
    await expect(run(makeRequest({ packDir, entrypoint: 'a.sh', runtimeName: 'shell', envVars: { MARKER: pidFile } }), { sinks })).rejects.toThrow('set-up exploded');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(() => process.kill(pid, 0)).toThrow(); // gone, and reaped
  });
});
