#!/usr/bin/env node
// `npm run bench`: the agent side by side with its baselines, every figure measured in this run.
//
//   node scripts/bench/index.mjs [--quick|--issue-sizes] [--levels 1,4,16] [--out DIR] [--only a,b] [--agent auto|sea|node]
//                                [--cpu-prof DIR] [--keep]
//
//   --quick     smoke sizes (< 60 s): proves the benchmark works, figures are not representative
//   --issue-sizes  the issue's counts (throughput 5000, soak 20 000) — now also the default
//   --levels    throughput concurrency levels (default 1,4,16), e.g. 16 for profiling
//   --out DIR   where latest.json / latest.md go (default bench-results/, gitignored)
//   --only      sections: detection,startup,overhead,throughput,floor,heavy,soak,apipacks
//   --agent     sea = the single executable (needs root: it runs from /opt/attune/agent inside a
//               private mount namespace), node = `node dist/attune-agent.cjs`; auto = sea when
//               dist/agent-linux-<arch>/attune-agent exists
//   --cpu-prof  run the agent as `node --cpu-prof --cpu-prof-dir DIR dist/attune-agent.cjs`
//   --bundle F  run `node F` instead of dist/attune-agent.cjs (e.g. a scratch build, for before/after)
//   --node N    run the bundle with the Node binary N (e.g. the SEA's pinned Node) instead of this one
//   --keep      keep the work directory (agent logs, artifacts) and print its path
//   --soak-executions N  soak with N executions instead of the size's count (a local check)
//   --throughput-executions N  N executions per throughput level instead of the size's count
//   --work-dir DIR  where the work dir is made (default /dev/shm when writable, else the OS tmpdir)
//   --agent-only  throughput without the baselines (A/B runs of the agent alone)
//   --agent-env NAME=VALUE  one more environment variable for every agent process (A/B toggles; repeatable)
//
// It creates and removes what it needs: a PostgreSQL database with a random name (development
// schema, scripts/apply-schema.mjs), a RabbitMQ vhost (rabbitmqctl), the bench pack, the
// baselines' processes; it apt-gets amqp-tools / python3-celery when missing
// (scripts/bench/install-deps.sh). Exit 0 when every section ran; targets never fail it.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../build.mjs';
import { agentLauncher } from './lib/agent.mjs';
import { Harness, writeBenchPack } from './lib/harness.mjs';
import { createDatabase, createVhost, deleteVhost, dropDatabase, inSeaNamespace, installDeps, mountSea, reexecInSeaNamespace, seaStaleBecause, vhostUrl } from './lib/infra.mjs';
import { buildRows, renderMarkdown } from './lib/report.mjs';
import { progress, round } from './lib/util.mjs';
import { benchDetection } from './sections/detection.mjs';
import { benchFloor } from './sections/floor.mjs';
import { benchStartup } from './sections/startup.mjs';
import { benchOverhead } from './sections/overhead.mjs';
import { benchThroughput } from './sections/throughput.mjs';
import { benchHeavy } from './sections/heavy.mjs';
import { benchSoak } from './sections/soak.mjs';
import { benchApiPacks } from './sections/api-packs.mjs';
import { celeryVersion } from './baselines/celery.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The issue's counts — the default since the agent got fast enough (5.6 min on 2 cores, 2026-11-25). */
export const ISSUE_SIZES = {
  detectRuns: 20,
  versionRuns: 20,
  readyRuns: 5,
  overheadRuns: 1000,
  overheadWarmup: 20,
  throughputExecutions: 5000,
  heavyBytes: 500_000_000,
  heavyRuns: 3,
  soakExecutions: 20_000,
  soakWarmupShare: 0.05,
};

/** Default (`full`) = the issue's counts; `--quick` is the CI smoke size. */
export const SIZES = {
  full: ISSUE_SIZES,
  issue: ISSUE_SIZES,
  quick: {
    detectRuns: 3,
    versionRuns: 3,
    readyRuns: 1,
    overheadRuns: 30,
    overheadWarmup: 5,
    throughputExecutions: 60,
    heavyBytes: 20_000_000,
    heavyRuns: 1,
    soakExecutions: 200,
    soakWarmupShare: 0.1,
  },
};

const SECTIONS = [
  ['detection', 'detection', benchDetection],
  ['startup', 'startup', benchStartup],
  ['overhead', 'overhead', benchOverhead],
  ['throughput', 'throughput', benchThroughput],
  ['floor', 'floor', benchFloor],
  ['heavy', 'heavyOutput', benchHeavy],
  ['soak', 'soak', benchSoak],
  ['apipacks', 'apiPacks', benchApiPacks],
];

/**
 * tmpfs when there is one: this VM's root ext4 runs without a journal, and there creating a
 * file soon after many deletes scans the recently deleted inodes (`recently_deleted`, up to 10 %
 * of the agent's main thread in perf) — a cost that depends on what the machine deleted in the
 * last minutes, not on the agent. `--work-dir` measures any other file system.
 */
function defaultWorkBase() {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

function parseArgs(argv) {
  const opts = { quick: false, issueSizes: false, levels: null, out: join(root, 'bench-results'), only: null, agent: 'auto', cpuProf: null, bundle: null, nodePath: null, keep: false, agentEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--issue-sizes') opts.issueSizes = true;
    else if (a === '--levels') opts.levels = value().split(',').map(Number);
    else if (a === '--out') opts.out = resolve(value());
    else if (a === '--only') opts.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--agent') opts.agent = value();
    else if (a === '--cpu-prof') opts.cpuProf = resolve(value());
    else if (a === '--bundle') opts.bundle = resolve(value());
    else if (a === '--node') opts.nodePath = resolve(value());
    else if (a === '--keep') opts.keep = true;
    else if (a === '--agent-only') opts.agentOnly = true;
    else if (a === '--work-dir') opts.workDir = resolve(value());
    else if (a === '--soak-executions') opts.soakExecutions = Number(value());
    else if (a === '--throughput-executions') opts.throughputExecutions = Number(value());
    else if (a === '--agent-env') {
      const kv = value();
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error('--agent-env needs NAME=VALUE');
      opts.agentEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    else if (a === '-h' || a === '--help') opts.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!['auto', 'sea', 'node'].includes(opts.agent)) throw new Error('--agent must be auto, sea or node');
  if (opts.cpuProf || opts.bundle || opts.nodePath) opts.agent = 'node';
  for (const s of opts.only ?? []) if (!SECTIONS.some(([name]) => name === s)) throw new Error(`unknown section ${s}`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write('usage: node scripts/bench/index.mjs [--quick|--issue-sizes] [--levels 1,4,16] [--out DIR] [--only detection,startup,overhead,throughput,floor,heavy,soak,apipacks] [--agent auto|sea|node] [--cpu-prof DIR] [--bundle FILE] [--node BIN] [--keep] [--soak-executions N] [--throughput-executions N] [--agent-env NAME=VALUE] [--agent-only] [--work-dir DIR]\n');
    return 0;
  }
  const notes = [];
  let seaPath = null;
  if (opts.agent !== 'node' && !inSeaNamespace()) {
    const r = await reexecInSeaNamespace(root, process.argv.slice(1));
    if (r.code !== null) return r.code;
    if (opts.agent === 'sea') throw new Error(`--agent sea: ${r.note}`);
    notes.push(`The single executable was not used: ${r.note}.`);
  }

  // Everything created below is undone in reverse order at the end, also on SIGINT/SIGTERM.
  const undo = [];
  const runUndo = async () => {
    while (undo.length > 0) {
      const step = undo.pop();
      try {
        await step();
      } catch (e) {
        progress(`clean-up: ${e instanceof Error ? e.message : e}`);
      }
    }
  };
  const onSignal = () => {
    progress('interrupted: cleaning up');
    runUndo().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = Date.now();
  const base = opts.quick ? SIZES.quick : opts.issueSizes ? SIZES.issue : SIZES.full;
  // --soak-executions N: a shorter soak for a local check (the notes say it was scaled down).
  // --throughput-executions N: fewer executions per throughput level (profiling, A/B checks).
  let sizes = opts.soakExecutions > 0 ? { ...base, soakExecutions: opts.soakExecutions } : base;
  if (opts.throughputExecutions > 0) sizes = { ...sizes, throughputExecutions: opts.throughputExecutions };
  const results = {};
  let failed = 0;
  let agent;
  let db;
  let vhost;
  try {
    if (opts.agent !== 'node' && inSeaNamespace()) {
      const stale = seaStaleBecause(root);
      if (stale) {
        progress(`WARNING: ${stale} is newer than dist/agent-linux-${process.arch}/attune-agent: this run measures the older build (npm run build:sea)`);
        notes.push(`**The single executable is older than the source** (${stale} changed after it was built): these figures are of the older build.`);
      }
      const mounted = mountSea(root);
      // The mount namespace (and its /opt) ends with this process; the copy behind it is ours.
      undo.push(() => rmSync(mounted.copy, { recursive: true, force: true }));
      seaPath = mounted.bin;
    }
    if (!existsSync(join(root, 'dist', 'attune-agent.cjs'))) {
      progress('building dist/attune-agent.cjs');
      await bundle();
    }
    installDeps(root);
    agent = agentLauncher(root, { seaPath, cpuProfDir: opts.cpuProf, bundle: opts.bundle, nodePath: opts.nodePath });
    if (opts.cpuProf) mkdirSync(opts.cpuProf, { recursive: true });
    progress(`agent under test: ${agent.label}`);

    const workBase = opts.workDir ?? defaultWorkBase();
    const work = mkdtempSync(join(workBase, 'attune-bench-'));
    notes.push(`Work dir (packs, artifacts_dir with the log files, the agent's state dir) under ${workBase}${workBase === '/dev/shm' ? ' (tmpfs)' : ''}; \`--work-dir DIR\` picks another.`);
    undo.push(() => (opts.keep ? progress(`work dir kept: ${work}`) : rmSync(work, { recursive: true, force: true })));
    const packsDir = join(work, 'packs');
    mkdirSync(packsDir, { recursive: true });
    const pack = writeBenchPack(join(work, 'pack-src', 'attune_bench'), sizes.heavyBytes);
    vhost = createVhost();
    undo.push(() => deleteVhost(vhost));
    db = await createDatabase();
    undo.push(() => dropDatabase(db.name));
    const amqpUrl = vhostUrl(vhost);
    progress(`database ${db.name}, vhost ${vhost}, work dir ${work}`);
    const encryptionKey = 'bench-encryption-key-0123456789abcdef';
    const harness = new Harness({ databaseUrl: db.url, amqpUrl, packsDir, encryptionKey });
    undo.push(() => harness.close());
    const ctx = {
      root,
      work,
      sizes,
      quick: opts.quick,
      levels: opts.levels,
      agent,
      agentEnv: opts.agentEnv,
      agentOnly: opts.agentOnly === true,
      agents: new Set(),
      databaseUrl: db.url,
      amqpUrl,
      packsDir,
      encryptionKey,
      harness,
      pack: null,
    };
    undo.push(() => {
      for (const a of ctx.agents) a.kill();
    });

    await harness.connect();
    await harness.installPack(pack.dir);
    // The pinned release is what the agent runs; the baselines and floors run the same file.
    const release = (await harness.cp.query("SELECT r.content_path FROM pack p JOIN pack_release r ON r.id = p.active_release WHERE p.ref = 'attune_bench'")).rows[0];
    ctx.pack = { dir: release.content_path, noopScript: join(release.content_path, 'actions', 'noop.sh'), heavyScript: join(release.content_path, 'actions', 'heavy.sh') };

    for (const [name, key, fn] of SECTIONS) {
      if (opts.only && !opts.only.includes(name)) continue;
      const t0 = Date.now();
      try {
        results[key] = await fn(ctx);
        results[key].sectionSeconds = round((Date.now() - t0) / 1000, 1);
        progress(`${name} done in ${results[key].sectionSeconds} s`);
      } catch (e) {
        failed++;
        results[key] = { error: e instanceof Error ? e.stack ?? e.message : String(e) };
        progress(`${name} FAILED: ${e instanceof Error ? e.message : e}`);
        for (const a of ctx.agents) a.kill();
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runUndo();
  }

  const full = ISSUE_SIZES;
  if (!opts.quick) {
    const scaled = Object.entries(sizes).filter(([k, v]) => v !== full[k]);
    if (scaled.length > 0) notes.push(`Scaled down from the issue's counts so the run stays under 10 min on 2 cores: ${scaled.map(([k, v]) => `${k} ${v} (issue ${full[k]})`).join(', ')}; \`--issue-sizes\` runs the issue's counts.`);
  } else {
    notes.push(`--quick: smoke sizes (${Object.entries(sizes).map(([k, v]) => `${k} ${v}`).join(', ')}); the issue's sizes need the full run.`);
  }
  notes.push('Every runner executes the same command per message: `/bin/bash <pack>/actions/noop.sh`, a script that reads stdin to EOF with a builtin (amqp-consume pipes the body to the command and dies of SIGPIPE when it exits first).');
  notes.push('Detection only = median `detect --json` wall − median `--version` wall of the same binary (process start-up removed); probes are timed from this process, each a fresh spawn.');
  notes.push('Soak "start" is sampled after the warm-up share of executions, so heap/JIT growth to a steady state is not counted as a leak; "idle" (before any execution) is in the JSON.');
  const celery = await celeryVersion().catch(() => null);
  const meta = {
    quick: opts.quick,
    agent: agent.kind,
    agentLabel: agent.label,
    agentCommand: agent.argv.join(' '),
    // Created for this run and removed at its end (the e2e test checks that they are gone).
    database: db.name,
    vhost,
    celeryVersion: celery,
    host: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    hostNode: process.versions.node,
    startedAt: new Date(started).toISOString(),
    durationSec: round((Date.now() - started) / 1000, 1),
    sizes,
    issueSizes: full,
    agentEnv: opts.agentEnv,
    notes,
  };
  const rows = buildRows(results, meta);
  const md = renderMarkdown(rows, meta);
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify({ meta, ...results, rows }, null, 2)}\n`);
  writeFileSync(join(opts.out, 'latest.md'), md);
  process.stdout.write(md);
  progress(`wrote ${join(opts.out, 'latest.json')} and latest.md`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
