#!/usr/bin/env node
// Micro-benchmark of the output path alone (no database, no broker): src/execution/run.ts
// runProcess with the shared_file sinks of src/logs, on an action printing N bytes, against the
// same producer piped into `cat > /dev/null`. Isolates what `--only heavy` of the full bench
// measures end to end (issue 18: 500 MB stdout ≤ 1.5× cat, peak RSS ≤ 150 MiB).
//
//   node scripts/bench/output-path.mjs [--bytes N] [--runs N] [--max-stdout N] [--secrets] [--node BIN]
//
// The engine is bundled in memory with esbuild and run in a fresh process of the Node under
// test (default this one); each run reports wall ms, the process's CPU ms and its VmHWM.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const RUNNER = `
import { runProcess } from './src/execution/run';
import { SharedFileTarget, createSharedLogFile } from './src/logs/shared-file-sink';
import { LogStreamSink } from './src/logs/stream-sink';
import { createStreamRedactor } from './src/logs/stream-redactor';
import { readFileSync } from 'node:fs';
import pino from 'pino';

const [dir, script, maxStdout, secrets] = process.argv.slice(2);
const hwm = () => Number(/^VmHWM:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const sink = (name) => new LogStreamSink({ target: new SharedFileTarget(createSharedLogFile(dir + '/' + name + '.log')), redactor: secrets === '1' ? createStreamRedactor(['s3cr3t-value', 'another-secret']) : null, mirror: null });
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = await runProcess(
  { command: '/bin/bash', args: [script], env: { PATH: '/usr/bin:/bin' }, cwd: undefined, stdinContent: '{}', timeoutSec: 600, maxStdoutBytes: Number(maxStdout), maxStderrBytes: Number(maxStdout), outputFormat: 'text' },
  { log: pino({ level: 'silent' }), killGraceMs: 1000, logFinalizationTimeoutMs: 1000, sinks: { stdout: sink('stdout'), stderr: sink('stderr') } },
);
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, hwmKiB: hwm(), exitCode: r.exitCode, stdoutLen: r.stdout.length, truncated: r.stdoutTruncated }));
`;

function parseArgs(argv) {
  const o = { bytes: 500_000_000, runs: 3, maxStdout: 10 * 1024 * 1024, secrets: false, node: process.execPath };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--bytes') o.bytes = Number(v());
    else if (a === '--runs') o.runs = Number(v());
    else if (a === '--max-stdout') o.maxStdout = Number(v());
    else if (a === '--secrets') o.secrets = true;
    else if (a === '--node') o.node = v();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function run(cmd, args) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', rej);
    c.on('close', (code) => (code === 0 ? res({ out, ms: performance.now() - t0 }) : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'attune-output-path-'));
  try {
    const bundled = await build({ stdin: { contents: RUNNER, resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'silent', banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } });
    const runner = join(work, "runner.mjs");
    if (process.env.OUTPUT_PATH_KEEP) writeFileSync(process.env.OUTPUT_PATH_KEEP, bundled.outputFiles[0].text);
    writeFileSync(runner, bundled.outputFiles[0].text);
    const script = join(work, 'heavy.sh');
    writeFileSync(script, `head -c ${o.bytes} /dev/zero | tr '\\0' 'a'\n`);
    const agent = [];
    const cat = [];
    for (let i = 0; i < o.runs; i++) {
      const r = JSON.parse((await run(o.node, [runner, work, script, String(o.maxStdout), o.secrets ? '1' : '0'])).out);
      if (r.exitCode !== 0) throw new Error(`heavy exited ${r.exitCode}`);
      agent.push(r);
      cat.push((await run('/bin/bash', ['-c', `/bin/bash ${script} | cat > /dev/null`])).ms);
    }
    const a = median(agent.map((r) => r.ms));
    const c = median(cat);
    process.stdout.write(`${JSON.stringify({
      bytes: o.bytes,
      runs: o.runs,
      engineMs: agent.map((r) => Math.round(r.ms)),
      engineCpuMs: agent.map((r) => Math.round(r.cpuMs)),
      engineHwmMiB: agent.map((r) => Math.round(r.hwmKiB / 102.4) / 10),
      catMs: cat.map(Math.round),
      ratio: +(a / c).toFixed(3),
    })}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`output-path failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
