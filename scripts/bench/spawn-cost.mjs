#!/usr/bin/env node
// Micro-benchmark: parent CPU (user+sys) per child_process.spawn, and how it grows with the
// parent's resident memory — the floor under the agent's per-execution CPU (issue 18).
//
//   node scripts/bench/spawn-cost.mjs [--runs N] [--ballast 0,64,128] [--concurrency 1,16]
//                                     [--node BIN] [--spawner] [--json]
//
// Each case runs in a fresh process of the Node under test (--node, default this one) so the
// RSS is what the case makes it: `ballast` MiB are allocated and touched before the loop (half
// V8 heap objects, half Buffer memory, as in the agent). The loop spawns `/bin/true` the way
// src/execution/run.ts does (detached = own process group, three pipes, explicit env) and
// waits for 'close'. Figures: parent CPU per spawn from process.cpuUsage() over the loop, and
// VmRSS before the loop. `--spawner` adds the same loop through a minimal long-lived helper
// Node process (requests over its IPC channel, pids/exit codes back): the parent's CPU plus
// the helper's, per spawn — what a "spawner process" design would cost at best, before it
// relays a single byte of output.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const o = { runs: 400, ballast: [0, 64, 192], concurrency: [1, 16], node: process.execPath, spawner: false, json: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--runs') o.runs = Number(v());
    else if (a === '--ballast') o.ballast = v().split(',').map(Number);
    else if (a === '--concurrency') o.concurrency = v().split(',').map(Number);
    else if (a === '--node') o.node = v();
    else if (a === '--spawner') o.spawner = true;
    else if (a === '--json') o.json = true;
    else if (a === '--child') o.child = JSON.parse(v());
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function vmKiB(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

/** utime+stime of another process in ms (clock ticks are 100 Hz on Linux). */
function procCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

const SPAWN_OPTS = { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' }, shell: false };

function spawnTrue() {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/true', [], SPAWN_OPTS);
    c.once('error', reject);
    c.stdin.end();
    c.stdout.resume();
    c.stderr.resume();
    c.once('close', (code) => resolve(code));
  });
}

/** The helper: spawns on request, answers `{ id, pid, code }`; no output relay. */
function runHelper() {
  process.on('message', (m) => {
    const c = spawn(m.cmd, m.args, SPAWN_OPTS);
    c.stdin.end();
    c.stdout.resume();
    c.stderr.resume();
    c.once('close', (code) => process.send({ id: m.id, pid: c.pid, code }));
  });
}

function startHelper(node) {
  const h = spawn(node, ['--max-old-space-size=16', '--max-semi-space-size=1', self, '--child', '{"helper":true}'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let next = 0;
  h.on('message', (m) => {
    waiting.get(m.id)?.(m.code);
    waiting.delete(m.id);
  });
  return {
    pid: h.pid,
    run: () => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      h.send({ id, cmd: '/bin/true', args: [] });
    }),
    stop: () => h.kill(),
  };
}

async function loop(runs, concurrency, once) {
  let started = 0;
  const worker = async () => {
    while (started < runs) {
      started++;
      const code = await once();
      if (code !== 0) throw new Error(`/bin/true exited ${code}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function runCase({ runs, ballastMiB, concurrency, viaHelper, node }) {
  // Ballast: half JS heap (arrays of small objects), half Buffers, all touched.
  const keep = [];
  const heapMiB = ballastMiB / 2;
  for (let i = 0; i < heapMiB * 16; i++) keep.push(Array.from({ length: 2048 }, (_, j) => ({ j })));
  for (let i = 0; i < ballastMiB / 2; i++) keep.push(Buffer.alloc(1 << 20, 1));
  const helper = viaHelper ? startHelper(node) : null;
  const once = helper ? helper.run : spawnTrue;
  await loop(Math.min(40, runs), concurrency, once); // warm-up (JIT, pools, helper start)
  const rssKiB = vmKiB(process.pid, 'VmRSS');
  const helperRssKiB = helper ? vmKiB(helper.pid, 'VmRSS') : null;
  const helperCpu0 = helper ? procCpuMs(helper.pid) : 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await loop(runs, concurrency, once);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const helperCpuMs = helper ? procCpuMs(helper.pid) - helperCpu0 : 0;
  helper?.stop();
  keep.length = 0;
  const parentMs = (c.user + c.system) / 1000;
  return {
    mode: helper ? 'spawner' : 'direct',
    ballastMiB,
    concurrency,
    runs,
    parentRssMiB: Math.round(rssKiB / 102.4) / 10,
    helperRssMiB: helperRssKiB === null ? null : Math.round(helperRssKiB / 102.4) / 10,
    parentCpuMsPerSpawn: +(parentMs / runs).toFixed(3),
    parentUserMsPerSpawn: +(c.user / 1000 / runs).toFixed(3),
    parentSysMsPerSpawn: +(c.system / 1000 / runs).toFixed(3),
    helperCpuMsPerSpawn: helper ? +(helperCpuMs / runs).toFixed(3) : null,
    totalCpuMsPerSpawn: +((parentMs + helperCpuMs) / runs).toFixed(3),
    spawnsPerSec: Math.round(runs / (wallMs / 1000)),
  };
}

function runInFreshProcess(node, spec) {
  return new Promise((resolve, reject) => {
    const c = spawn(node, [self, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`case ${JSON.stringify(spec)} exited ${code}`))));
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child?.helper) return runHelper();
  if (o.child) {
    process.stdout.write(JSON.stringify(await runCase({ ...o.child, node: o.node })));
    return;
  }
  const version = await new Promise((resolve) => {
    const c = spawn(o.node, ['-p', 'process.version + " libuv " + process.versions.uv'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    c.stdout.on('data', (d) => (s += d));
    c.on('close', () => resolve(s.trim()));
  });
  const rows = [];
  for (const ballastMiB of o.ballast) {
    for (const concurrency of o.concurrency) {
      for (const viaHelper of o.spawner ? [false, true] : [false]) {
        rows.push(await runInFreshProcess(o.node, { runs: o.runs, ballastMiB, concurrency, viaHelper }));
      }
    }
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ node: version, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`spawn('/bin/true') cost, ${version}, ${o.runs} spawns per case\n\n`);
  process.stdout.write('| mode | ballast MiB | parent RSS MiB | helper RSS MiB | c | parent CPU ms/spawn (user+sys) | helper CPU ms/spawn | total ms/spawn | spawns/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.mode} | ${r.ballastMiB} | ${r.parentRssMiB} | ${r.helperRssMiB ?? '—'} | ${r.concurrency} | ${r.parentCpuMsPerSpawn} (${r.parentUserMsPerSpawn}+${r.parentSysMsPerSpawn}) | ${r.helperCpuMsPerSpawn ?? '—'} | ${r.totalCpuMsPerSpawn} | ${r.spawnsPerSec} |\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`spawn-cost failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
