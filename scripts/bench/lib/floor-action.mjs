// The floor skeleton's action run (scripts/bench/floor.mjs): the spawn the way
// src/execution/run.ts spawns (own process group, three pipes, parameters on stdin), its output
// read to EOF, and for actions that print a lot the least the agent's output path must do.
import { spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

/**
 * One action run. Without `output` the bytes are kept whole (noop.sh prints nothing). With
 * `output` ({ logDir, maxBytes }) it reads as cheaply as the agent: each stream's handle is moved
 * to a socket that reads into one reused buffer (net.Socket `onread`, src/execution/pipe-reader.ts),
 * the first `maxBytes` of each stream are kept for the result (the agent's max_stdout_bytes) and
 * appended to a log file of the execution in `logDir` as they arrive (the log-stream copy, which
 * upstream bounds the same way), and the rest is dropped. No truncation notice, no decoding
 * beyond the one toString of what was kept.
 */
export function runAction(script, params, output = null) {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/bash', [script], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ATTUNE_EXEC_ID: String(params.id) }, shell: false });
    c.once('error', reject);
    c.stdin.end(`${JSON.stringify(params)}\n`);
    if (!output) {
      const out = [];
      const err = [];
      c.stdout.on('data', (d) => out.push(d));
      c.stderr.on('data', (d) => err.push(d));
      c.once('close', (code) => resolve({ exit_code: code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), succeeded: code === 0 }));
      return;
    }
    const exited = new Promise((done) => c.once('exit', (code) => done(code)));
    const streams = [boundedRead(c.stdout, output, `${params.id}.stdout.log`), boundedRead(c.stderr, output, `${params.id}.stderr.log`)];
    void Promise.all([exited, ...streams]).then(([code, out, err]) => resolve({ exit_code: code, stdout: out, stderr: err, succeeded: code === 0 }));
  });
}

let readBuffer = null;

/**
 * Moves the handle of a child's stdout/stderr (just spawned) to a socket that reads into one
 * reused 256 KiB buffer and calls `onBytes(view, n)` per read (`view` valid during the call).
 */
function adoptWithReusedBuffer(stream, onBytes) {
  readBuffer ??= Buffer.allocUnsafeSlow(256 * 1024);
  const handle = stream._handle;
  stream._handle = null;
  stream.destroy();
  return new Socket({ handle, readable: true, writable: false, onread: { buffer: readBuffer, callback: (n, buf) => (onBytes(buf, n), true) } });
}

/** Reads `stream` to EOF, keeping (and logging) its first output.maxBytes. */
function boundedRead(stream, output, logName) {
  return new Promise((resolve) => {
    const kept = Buffer.allocUnsafe(output.maxBytes);
    let size = 0;
    const file = createWriteStream(join(output.logDir, logName));
    const socket = adoptWithReusedBuffer(stream, (buf, n) => {
      const take = Math.min(n, output.maxBytes - size);
      if (take <= 0) return;
      buf.copy(kept, size, 0, take);
      file.write(kept.subarray(size, size + take));
      size += take;
    });
    socket.once('end', () => file.end());
    file.once('close', () => resolve(kept.toString('utf8', 0, size)));
  });
}

/**
 * Wall ms of `/bin/bash script` with its stdout and stderr read to EOF by this process into the
 * reused buffer and dropped: what reading the output costs a Node process, and nothing else.
 */
export function timeDrain(script, { env, cwd }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn('/bin/bash', [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    c.once('error', reject);
    const ended = (s) => new Promise((done) => adoptWithReusedBuffer(s, () => {}).once('end', done));
    const exited = new Promise((done) => c.once('exit', (code) => done(code)));
    void Promise.all([exited, ended(c.stdout), ended(c.stderr)]).then(([code]) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`/bin/bash ${script} exited ${code}`))));
  });
}

/** After the completion is out: drop the execution's log files (500 MB each in the heavy case). */
export function dropLogs(output, id) {
  if (!output) return;
  for (const name of ['stdout', 'stderr']) rmSync(join(output.logDir, `${id}.${name}.log`), { force: true });
}
