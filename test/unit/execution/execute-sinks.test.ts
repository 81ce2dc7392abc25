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
});
