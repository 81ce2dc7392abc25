/** Timeouts and cancellation (spec 03 §6; §10 items 32–34). */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HAS_BASH, HAS_SLEEP, isAlive, makePack, makeRequest, run, tempDir, waitFor } from './helpers';

function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

describe.skipIf(!HAS_BASH || !HAS_SLEEP)('timeout', () => {
  it('ends sleep 30 with timeout 1 as timeout with exit -1 (§10 item 32)', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo before; sleep 30' }), timeoutSec: 1 }));
    expect(outcome.status).toBe('timeout');
    expect(outcome.result).toMatchObject({
      succeeded: false,
      timed_out: true,
      exit_code: -1,
      error: 'Execution timed out after 1 seconds',
      stdout: 'before\n',
      logs_incomplete: true,
    });
    expect(outcome.result.duration_ms).toBeLessThan(3000);
    expect(outcome.result.duration_ms).toBeGreaterThanOrEqual(950);
  });

  it('kills the whole process tree: a sleeping grandchild is gone afterwards', async () => {
    const dir = tempDir();
    const body = `sleep 30 & echo $! > ${dir}/gc.pid; wait`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), timeoutSec: 1 }));
    expect(outcome.status).toBe('timeout');
    const gc = readPid(`${dir}/gc.pid`);
    expect(await waitFor(() => !isAlive(gc), 2000)).toBe(true);
  });

  it('SIGKILLs a TERM-ignoring child after the grace period (§10 item 33)', async () => {
    const dir = tempDir();
    const body = `trap '' TERM; sleep 30 & echo $! > ${dir}/gc.pid; while true; do sleep 0.1; done`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), timeoutSec: 1 }), { killGraceMs: 500 });
    expect(outcome.status).toBe('timeout');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(1400);
    expect(outcome.durationMs).toBeLessThan(4000);
    expect(await waitFor(() => !isAlive(readPid(`${dir}/gc.pid`)), 2000)).toBe(true);
  });

  it('SIGKILLs a TERM-ignoring grandchild as soon as the wrapper exits on TERM (§10 item 33)', async () => {
    const dir = tempDir();
    const body = `trap 'exit 0' TERM; sh -c 'trap "" TERM; exec sleep 30' & echo $! > ${dir}/gc.pid; wait`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), timeoutSec: 1 }), { killGraceMs: 10_000 });
    expect(outcome.status).toBe('timeout');
    expect(outcome.durationMs).toBeLessThan(3000); // did not wait the 10 s grace
    expect(await waitFor(() => !isAlive(readPid(`${dir}/gc.pid`)), 2000)).toBe(true);
  });
});

describe.skipIf(!HAS_BASH || !HAS_SLEEP)('cancellation', () => {
  it('cancels a running action via the AbortSignal (§10 item 34)', async () => {
    const dir = tempDir();
    const ac = new AbortController();
    const body = `sleep 30 & echo $! > ${dir}/gc.pid; wait`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), timeoutSec: 60 }), {
      signal: ac.signal,
      onSpawn: () => setTimeout(() => ac.abort(), 300),
    });
    expect(outcome.status).toBe('cancelled');
    expect(outcome.wasCancelled).toBe(true);
    expect(outcome.result).toMatchObject({ succeeded: false, cancelled: true, exit_code: -1, error: 'Execution cancelled by user' });
    expect(outcome.result.duration_ms).toBeLessThan(5000);
    expect(await waitFor(() => !isAlive(readPid(`${dir}/gc.pid`)), 2000)).toBe(true);
  });

  it('still spawns and then terminates when cancelled before the run started', async () => {
    const ac = new AbortController();
    ac.abort();
    let spawned = false;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'sleep 30' }) }), { signal: ac.signal, onSpawn: () => (spawned = true) });
    expect(spawned).toBe(true);
    expect(outcome.status).toBe('cancelled');
    expect(outcome.result.duration_ms).toBeLessThan(3000);
  });

  it('records a cancel during the post-exit drain as cancelled with the real exit code', async () => {
    const dir = tempDir();
    const ac = new AbortController();
    const body = `sleep 5 & echo $! > ${dir}/bg.pid; echo started`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }) }), {
      signal: ac.signal,
      logFinalizationTimeoutMs: 5000,
      onOutput: () => setTimeout(() => ac.abort(), 200),
    });
    expect(outcome.status).toBe('cancelled');
    expect(outcome.result).toMatchObject({ exit_code: 0, cancelled: true, error: 'Execution cancelled by user', logs_incomplete: true });
    expect(outcome.durationMs).toBeLessThan(3000);
    process.kill(readPid(`${dir}/bg.pid`), 'SIGKILL');
  });
});

describe.skipIf(!HAS_BASH || !HAS_SLEEP)('processes an action leaves behind when it exits', () => {
  it('stops what stayed in its process group (&, nohup, double fork) and leaves what left it with setsid', async () => {
    const dir = tempDir();
    const body = [
      `sleep 30 & echo $! > ${dir}/bg.pid`,
      `nohup sleep 30 >/dev/null 2>&1 & echo $! > ${dir}/nohup.pid`,
      `( trap '' TERM; sleep 30 & echo $! > ${dir}/double.pid ) &`,
      `setsid sleep 30 >/dev/null 2>&1 < /dev/null & echo $! > ${dir}/setsid.pid`,
      `while [ ! -s ${dir}/double.pid ]; do sleep 0.01; done`,
      'echo done',
    ].join('\n');
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), timeoutSec: 20 }));
    expect(outcome.status).toBe('completed');
    // The TERM-ignoring double-forked child holds stdout: the upstream drain bound applies first.
    expect(outcome.result.logs_incomplete).toBe(true);
    for (const name of ['bg', 'nohup', 'double']) {
      expect(await waitFor(() => !isAlive(readPid(`${dir}/${name}.pid`)), 2000), name).toBe(true);
    }
    const escaped = readPid(`${dir}/setsid.pid`);
    try {
      expect(isAlive(escaped)).toBe(true);
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
  });
});
