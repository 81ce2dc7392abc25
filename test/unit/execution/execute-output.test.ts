/** Output capture, parsing and the result JSON with real processes (spec 03 §4, §5; §10 items 21–31). */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_BASH, isAlive, makePack, makeRequest, run, tempDir, waitFor } from './helpers';

const NOTICE = '\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n';

function logFiles(): { stdoutPath: string; stderrPath: string } {
  const dir = tempDir('attune-logs-');
  return { stdoutPath: path.join(dir, 'demo/act/stdout/log/v1.txt'), stderrPath: path.join(dir, 'demo/act/stderr/log/v1.txt') };
}

describe.skipIf(!HAS_BASH)('result JSON for completed and failed runs', () => {
  it('records echo hello as completed with stdout (§10 item 21)', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo hello' }) }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result).toEqual({ exit_code: 0, duration_ms: expect.any(Number), succeeded: true, stdout: 'hello\n' });
    expect(Object.keys(outcome.result)).toEqual(['exit_code', 'duration_ms', 'succeeded', 'stdout']);
  });

  it.each([
    ['json after a log line (§10 item 22)', 'json', 'echo "log line"; echo \'{"k":"v"}\'', { k: 'v' }],
    ['jsonl skipping bad lines (§10 item 24)', 'jsonl', "printf '%s\\n' '{\"a\":1}' bad '{\"b\":2}'", [{ a: 1 }, { b: 2 }]],
    ['yaml (§10 item 25)', 'yaml', "printf 'key: value\\nother: 42\\n'", { key: 'value', other: 42 }],
  ])('parses %s into data and drops stdout', async (_n, outputFormat, body, data) => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), outputFormat }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result.data).toEqual(data);
    expect(outcome.result).not.toHaveProperty('stdout');
  });

  it('keeps stdout and completes when json output is not JSON (§10 item 23)', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo "not json"' }), outputFormat: 'json' }));
    expect(outcome.result).toEqual({ exit_code: 0, duration_ms: expect.any(Number), succeeded: true, stdout: 'not json\n' });
  });

  it('copies data.queue_ack to the top level', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo \'{"queue_ack":{"id":5},"x":1}\'' }), outputFormat: 'json' }));
    expect(outcome.result.queue_ack).toEqual({ id: 5 });
  });

  it('fails with stderr as the error and the stderr log path, never the stderr text (§10 item 26)', async () => {
    const files = logFiles();
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': "echo out; echo 'error msg' >&2; exit 1" }), logFiles: files }));
    expect(outcome.status).toBe('failed');
    expect(outcome.result).toEqual({
      succeeded: false,
      exit_code: 1,
      duration_ms: expect.any(Number),
      error: 'error msg\n',
      stdout: 'out\n',
      stderr_log: files.stderrPath,
    });
    expect(fs.readFileSync(files.stderrPath, 'utf8')).toBe('error msg\n');
    expect(fs.readFileSync(files.stdoutPath, 'utf8')).toBe('out\n');
    const noLogs = await run(makeRequest({ packDir: makePack({ 'act.sh': "echo 'error msg' >&2; exit 1" }) }));
    expect(noLogs.result).not.toHaveProperty('stderr_log');
  });

  it('uses the last stderr line beyond five lines, or the exit code without stderr (§10 item 27)', async () => {
    const seven = await run(makeRequest({ packDir: makePack({ 'act.sh': 'for i in 1 2 3 4 5 6; do echo "l$i" >&2; done; echo final >&2; exit 2' }) }));
    expect(seven.result).toMatchObject({ exit_code: 2, error: 'final' });
    const silent = await run(makeRequest({ packDir: makePack({ 'act.sh': 'exit 2' }) }));
    expect(silent.result).toEqual({ succeeded: false, exit_code: 2, duration_ms: expect.any(Number), error: 'Command exited with code 2' });
  });

  it('completes with data despite stderr noise on exit 0 (§10 item 28)', async () => {
    const files = logFiles();
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo warn >&2; echo \'{"ok":true}\'' }), outputFormat: 'json', logFiles: files }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result).toEqual({ exit_code: 0, duration_ms: expect.any(Number), succeeded: true, stderr_log: files.stderrPath, data: { ok: true } });
  });

  it('truncates at max−128 bytes with the exact notice and counts (§10 item 29)', async () => {
    const files = logFiles();
    const body = "head -c 2000 /dev/zero | tr '\\0' x; exit 1";
    const failed = await run(makeRequest({ packDir: makePack({ 'act.sh': body }), maxStdoutBytes: 1024, logFiles: files }));
    expect(failed.result).toMatchObject({ stdout: 'x'.repeat(896) + NOTICE, stdout_truncated: true, stdout_bytes_truncated: 1104 });
    expect(fs.readFileSync(files.stdoutPath, 'utf8')).toBe('x'.repeat(896) + NOTICE);
    const ok = await run(makeRequest({ packDir: makePack({ 'act.sh': "head -c 2000 /dev/zero | tr '\\0' x" }), maxStdoutBytes: 1024 }));
    expect(ok.status).toBe('completed');
    expect(ok.result.stdout).toBe('x'.repeat(896) + NOTICE);
    expect(ok.result).not.toHaveProperty('stdout_truncated');
    expect(ok.result).not.toHaveProperty('stdout_bytes_truncated');
  });

  it('finishes about a second after exit with logs_incomplete when a background child holds stdout (§10 item 30)', async () => {
    const pidDir = tempDir();
    const body = `sleep 5 & echo $! > ${pidDir}/bg.pid; echo started`;
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': body }) }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result.logs_incomplete).toBe(true);
    expect(outcome.result.stdout).toBe('started\n');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(900);
    expect(outcome.durationMs).toBeLessThan(4000);
    const bg = Number(fs.readFileSync(`${pidDir}/bg.pid`, 'utf8'));
    process.kill(bg, 'SIGKILL');
    expect(await waitFor(() => !isAlive(bg))).toBe(true);
  });

  it("records a failure whose error mentions 'cancelled' as cancelled (upstream quirk, §10 item 31)", async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo "request cancelled by peer" >&2; exit 1' }) }));
    expect(outcome.status).toBe('cancelled');
    expect(outcome.wasCancelled).toBe(false);
    expect(outcome.result).toEqual({
      succeeded: false,
      cancelled: true,
      exit_code: 1,
      duration_ms: expect.any(Number),
      error: 'request cancelled by peer\n',
    });
  });

  it('passes unicode through and decodes invalid UTF-8 lossily', async () => {
    const uni = await run(makeRequest({ packDir: makePack({ 'act.sh': "printf 'héllo wörld 日本 🎉\\n'" }) }));
    expect(uni.result.stdout).toBe('héllo wörld 日本 🎉\n');
    const bin = await run(makeRequest({ packDir: makePack({ 'act.sh': "printf 'ok\\377\\376end\\n'" }) }));
    expect(bin.result.stdout).toBe('ok\uFFFD\uFFFDend\n');
  });

  it('writes the parsed data to the result file', async () => {
    const file = path.join(tempDir(), 'execution_1', 'result.json');
    await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo \'{"a":[1,2]}\'' }), outputFormat: 'json', resultFilePath: file }));
    expect(fs.readFileSync(file, 'utf8')).toBe(JSON.stringify({ a: [1, 2] }, null, 2));
  });
});

describe.skipIf(!HAS_BASH)('stdin broken pipe rule (spec 03 §2.2)', () => {
  const big = { blob: 'x'.repeat(1024 * 1024) };

  it('ignores a broken pipe when the action exits 0 quickly without reading', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'exit 0' }), parameters: big }));
    expect(outcome.status).toBe('completed');
  });

  it('fails with the stdin error when the action exits 0 after 500 ms without reading', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'sleep 0.7; exit 0' }), parameters: big }));
    expect(outcome.status).toBe('failed');
    expect(outcome.result).toMatchObject({ exit_code: 0, error: 'Failed to write parameters to stdin: Broken pipe (os error 32)' });
  });
});

describe.skipIf(!HAS_BASH)('bounded memory', () => {
  it('captures 200 MB of output with bounded memory and exact truncation counts', async () => {
    const total = 200 * 1024 * 1024;
    const max = 1024 * 1024;
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': `head -c ${total} /dev/zero; exit 1` }), maxStdoutBytes: max }));
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(outcome.result).toMatchObject({ stdout_truncated: true, stdout_bytes_truncated: total - (max - 128) });
    expect((outcome.result.stdout as string).length).toBe(max - 128 + NOTICE.length);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  }, 60_000);
});
