/** "Failed without a run" paths and the entrypoint hardening (spec 03 §1.4–§1.6, §5; §10 items 4–7). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_BASH, HAS_PYTHON, makePack, makeRequest, run, tempDir } from './helpers';

const RT = 'Action execution failed: Internal error: ';

describe('missing action files', () => {
  it.skipIf(!HAS_PYTHON)('fails a python action whose file is missing with the expected path (§10 item 4)', async () => {
    const packDir = makePack({});
    const outcome = await run(makeRequest({ packDir, actionRef: 'demo.hello', entrypoint: 'hello.py', runtimeName: 'python' }));
    expect(outcome).toMatchObject({ status: 'failed', phase: 'runtime', exitCode: null, durationMs: null });
    expect(outcome.result).toEqual({
      succeeded: false,
      error: `${RT}Invalid action: No executable content found for action 'demo.hello'. Expected file at: ${packDir}/actions/hello.py`,
    });
  });

  it.skipIf(!HAS_BASH)('runs a missing shell file name as a command, failing with exit 127 (§10 item 5)', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({}), entrypoint: 'foo.sh' }));
    expect(outcome.status).toBe('failed');
    expect(outcome.result.exit_code).toBe(127);
    expect(outcome.result.error).toMatch(/foo\.sh: command not found/);
  });

  it('names the missing runtime (§10 item 6)', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({ 'a.x': 'x' }), entrypoint: 'a.x', runtimeName: 'cobol' }));
    expect(outcome.result.error).toMatch(new RegExp(`^${RT}Runtime not found: Runtime 'cobol' not found for action: demo\\.act \\(available: shell, `));
  });
});

describe('entrypoint containment (hardening over upstream)', () => {
  it.each([
    ['a relative traversal', '../../etc/passwd'],
    ['an absolute path', '/etc/passwd'],
    ['the actions directory itself', ''],
  ])('refuses %s', async (_n, entrypoint) => {
    const packDir = makePack({ 'ok.py': 'print(1)' });
    const outcome = await run(makeRequest({ packDir, entrypoint, runtimeName: 'python' }));
    expect(outcome).toMatchObject({ status: 'failed', phase: 'runtime' });
    expect(outcome.result.error).toBe(
      `${RT}Invalid action: entrypoint '${entrypoint}' resolves outside the pack actions directory ${path.join(packDir, 'actions')}`,
    );
  });

  it('refuses a symlink that points outside the pack', async () => {
    const outside = path.join(tempDir(), 'secret.py');
    fs.writeFileSync(outside, 'print("escaped")');
    const packDir = makePack({});
    fs.symlinkSync(outside, path.join(packDir, 'actions', 'link.py'));
    const outcome = await run(makeRequest({ packDir, entrypoint: 'link.py', runtimeName: 'python' }));
    expect(outcome.status).toBe('failed');
    expect(outcome.result.error).toContain(`${RT}Invalid action: entrypoint 'link.py' resolves outside the pack actions directory`);
    expect(outcome.result.error).toContain(outside);
  });

  it.skipIf(!HAS_BASH)('follows a symlink that stays inside the pack', async () => {
    const packDir = makePack({ 'real/act.sh': 'echo inside' });
    fs.symlinkSync(path.join(packDir, 'actions', 'real', 'act.sh'), path.join(packDir, 'actions', 'link.sh'));
    const outcome = await run(makeRequest({ packDir, entrypoint: 'link.sh' }));
    expect(outcome.result.stdout).toBe('inside\n');
  });

  it.skipIf(!HAS_BASH)('runs an action of a pack reached through a symlinked directory (packs mount behind a link)', async () => {
    const packDir = makePack({ 'act.sh': 'echo via-link' });
    const linked = path.join(tempDir(), 'packs-link');
    fs.symlinkSync(packDir, linked);
    const outcome = await run(makeRequest({ packDir: linked, entrypoint: 'act.sh' }));
    expect(outcome.result.stdout).toBe('via-link\n');
  });

  it('refuses a symlink out of a pack reached through a symlinked directory', async () => {
    const outside = path.join(tempDir(), 'secret.py');
    fs.writeFileSync(outside, 'print("escaped")');
    const packDir = makePack({});
    fs.symlinkSync(outside, path.join(packDir, 'actions', 'link.py'));
    const linked = path.join(tempDir(), 'packs-link');
    fs.symlinkSync(packDir, linked);
    const outcome = await run(makeRequest({ packDir: linked, entrypoint: 'link.py', runtimeName: 'python' }));
    expect(outcome.status).toBe('failed');
    expect(outcome.result.error).toContain(`${RT}Invalid action: entrypoint 'link.py' resolves outside the pack actions directory`);
  });

  it('refuses a directory entrypoint', async () => {
    const packDir = makePack({ 'sub/x.sh': 'echo' });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'sub' }));
    expect(outcome.result).toEqual({ succeeded: false, error: `${RT}Invalid action: entrypoint 'sub' is a directory: ${packDir}/actions/sub` });
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).error !== undefined)('refuses a FIFO entrypoint without blocking on it', async () => {
    const packDir = makePack({});
    const fifo = path.join(packDir, 'actions', 'pipe.sh');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const outcome = await run(makeRequest({ packDir, entrypoint: 'pipe.sh' }));
    expect(outcome.result.error).toBe(`${RT}Invalid action: entrypoint 'pipe.sh' is not a regular file (FIFO, socket or device): ${fifo}`);
  });
});

describe('native runtime (spec 03 §1.5, §1.6)', () => {
  it('requires an existing file', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({}), entrypoint: 'tool', runtimeName: 'native' }));
    expect(outcome.result.error).toBe(`${RT}Invalid action: Native runtime requires code_path to be set`);
  });

  it('requires the execute bit', async () => {
    const packDir = makePack({ tool: { content: '#!/bin/sh\necho hi\n', mode: 0o644 } });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'tool', runtimeName: 'native' }));
    expect(outcome.result.error).toBe(`${RT}Execution failed: Binary is not executable: ${packDir}/actions/tool`);
  });

  it.skipIf(!fs.existsSync('/bin/sh'))("runs the binary in the agent's cwd with parameters on stdin (§10 item 7)", async () => {
    const packDir = makePack({ tool: { content: '#!/bin/sh\npwd\ncat\n', mode: 0o755 } });
    const outcome = await run(makeRequest({ packDir, entrypoint: 'tool', runtimeName: 'native', parameters: { a: 1 } }));
    expect(outcome.result.stdout).toBe(`${process.cwd()}\n{"a":1}\n`);
  });
});

describe('spawn and preparation errors', () => {
  it('reports a spawn failure as an IO error', async () => {
    const notExecutable = path.join(tempDir(), 'interp');
    fs.writeFileSync(notExecutable, 'not a program');
    const tmp = tempDir('attune-tmp-');
    const outcome = await run(
      makeRequest({ packDir: makePack({}), entrypoint: 'inline code', runtimeConfig: { interpreter: { binary: notExecutable }, inline_execution: { strategy: 'temp_file', inject_shell_helpers: true } } }),
      { tmpDir: tmp },
    );
    expect(outcome.result).toEqual({ succeeded: false, error: `${RT}IO error: Permission denied (os error 13)` });
    expect(fs.readdirSync(path.join(tmp, 'attune', 'inline_actions'))).toEqual([]);
  });

  it('creates no log file for a stream that stays empty', async () => {
    const dir = tempDir();
    const outcome = await run(
      makeRequest({ packDir: makePack({ 'act.sh': 'echo out' }), logFiles: { stdoutPath: path.join(dir, 'o', 'out.log'), stderrPath: path.join(dir, 'e', 'err.log') } }),
    );
    expect(outcome.status).toBe('completed');
    expect(fs.readFileSync(path.join(dir, 'o', 'out.log'), 'utf8')).toBe('out\n');
    expect(fs.existsSync(path.join(dir, 'e'))).toBe(false);
    expect(outcome.result.stderr_log).toBeUndefined();
  });

  it('keeps the action result when its log file cannot be created: logs_incomplete, no stderr_log', async () => {
    const blocker = path.join(tempDir(), 'file');
    fs.writeFileSync(blocker, '');
    const outcome = await run(makeRequest({ packDir: makePack({ 'act.sh': 'echo oops >&2' }), logFiles: { stderrPath: path.join(blocker, 'x', 'v1.txt') } }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result).toMatchObject({ succeeded: true, logs_incomplete: true });
    expect(outcome.result.stderr_log).toBeUndefined();
  });

  it.skipIf(!HAS_PYTHON)('removes the parameter file when the run fails before spawning', async () => {
    const tmp = tempDir('attune-tmp-');
    const outcome = await run(makeRequest({ packDir: makePack({}), entrypoint: 'gone.py', runtimeName: 'python', parameterDelivery: 'file', parameters: { a: 1 } }), { tmpDir: tmp });
    expect(outcome.status).toBe('failed');
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
