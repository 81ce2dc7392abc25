#!/usr/bin/env node
// Single-executable figures for `npm run bench`: sizes per arch, start-up time of `--version`
// (median of N runs: SEA vs `node dist/attune-agent.cjs`, with the host Node and with the SEA's
// own pinned Node), and peak RSS of `--version` and `detect --json`.
//
//   node scripts/bench/sea.mjs [--runs 20]      → JSON on stdout
//
// Needs dist/agent-linux-<arch>/ (`npm run build:sea`), dist/attune-agent.cjs (`npm run build`),
// root (the SEA only runs at /opt/attune/agent: measured in a private mount namespace where the
// bundle is bind-mounted there; the host's /opt is untouched) and GNU time (/usr/bin/time).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { dirBytes } from '../build-sea.mjs';
import { pinnedNodePath } from './lib/agent.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INSTALL_DIR = '/opt/attune/agent';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));


function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const round = (x) => Math.round(x * 100) / 100;
  return { median: round(at(0.5)), min: round(s[0]), p90: round(at(0.9)), runs: s.length };
}

function sizes(arch) {
  const dir = join(root, 'dist', `agent-linux-${arch}`);
  const bin = join(dir, 'attune-agent');
  if (!existsSync(bin)) return null;
  const tarball = join(root, 'dist', `agent-linux-${arch}.tar.gz`);
  return {
    binaryBytes: statSync(bin).size,
    binaryGzip6Bytes: gzipSync(readFileSync(bin), { level: 6 }).length,
    libBytes: dirBytes(join(dir, 'lib')),
    tarballBytes: existsSync(tarball) ? statSync(tarball).size : null,
  };
}

/** Runs inside the private mount namespace (see measureSea). */
function inner({ distDir, bundle, node24, runs }) {
  const sh = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  sh('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'attune-bench-opt', '/opt']);
  sh('mkdir', ['-p', INSTALL_DIR]);
  sh('mount', ['--bind', distDir, INSTALL_DIR]);
  sh('mount', ['-o', 'remount,bind,ro', INSTALL_DIR]);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C' };
  const sea = [`${INSTALL_DIR}/attune-agent`];
  const hostNode = [process.execPath, bundle];
  const pinnedNode = node24 ? [node24, bundle] : null;

  const time = (argv) => {
    const samples = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      const r = spawnSync(argv[0], [...argv.slice(1), '--version'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${argv.join(' ')} --version exited ${r.status}: ${r.stderr}`);
      if (i >= 2) samples.push(ms); // two warm-up runs fill the page cache
    }
    return stats(samples);
  };
  const tmp = mkdtempSync(join(tmpdir(), 'attune-bench-rss-'));
  const rss = (argv, args) => {
    const out = join(tmp, 'time.txt');
    const samples = [];
    for (let i = 0; i < 5; i++) {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, ...argv, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`${argv.join(' ')} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      samples.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()));
    }
    return stats(samples).median;
  };
  try {
    return {
      startupVersionMs: {
        sea: time(sea),
        nodeHostBundle: time(hostNode),
        ...(pinnedNode ? { nodePinnedBundle: time(pinnedNode) } : {}),
      },
      peakRssKiB: {
        seaVersion: rss(sea, ['--version']),
        seaDetect: rss(sea, ['detect', '--json']),
        nodeHostVersion: rss(hostNode, ['--version']),
        nodeHostDetect: rss(hostNode, ['detect', '--json']),
      },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Measure the SEA on this host (x64) and return plain JSON. `runs` start-ups per variant
 * (median reported, after two warm-up runs); RSS is the median of 5 runs of /usr/bin/time %M.
 */
export function measureSea({ runs = 20 } = {}) {
  const distDir = join(root, 'dist', `agent-linux-${process.arch}`);
  const bundle = join(root, 'dist', 'attune-agent.cjs');
  if (!existsSync(join(distDir, 'attune-agent'))) throw new Error(`${distDir} missing: run npm run build:sea`);
  if (!existsSync(bundle)) throw new Error(`${bundle} missing: run npm run build`);
  const args = { distDir, bundle, node24: pinnedNodePath(root), runs };
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url), '--inner', JSON.stringify(args)],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
  );
  if (r.status !== 0) throw new Error(`SEA measurement failed (needs root for unshare/mount): ${r.stderr || r.error?.message}`);
  const measured = JSON.parse(r.stdout);
  return {
    agentVersion: pkg.version,
    seaNodeVersion: pkg.seaNode.version,
    hostNodeVersion: process.versions.node,
    host: `${process.platform}-${process.arch}`,
    sizes: { x64: sizes('x64'), arm64: sizes('arm64') },
    ...measured,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf('--inner');
  if (i !== -1) {
    process.stdout.write(JSON.stringify(inner(JSON.parse(process.argv[i + 1]))));
  } else {
    const runsIdx = process.argv.indexOf('--runs');
    const runs = runsIdx !== -1 ? Number(process.argv[runsIdx + 1]) : 20;
    try {
      process.stdout.write(`${JSON.stringify(measureSea({ runs }), null, 2)}\n`);
    } catch (e) {
      process.stderr.write(`bench/sea: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }
}
