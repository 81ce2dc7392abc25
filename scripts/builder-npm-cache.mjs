#!/usr/bin/env node
// Fills an npm cache directory with every package the lockfile names (peers omitted, as in the
// Dockerfile's builder stage), OUTSIDE the image build, so that the builder's
// `npm ci --cache <dir> --offline` needs no network and no registry certificate.
// Skips the work while <dir>/.lockfile-sha256 matches package-lock.json.
//
//   node scripts/builder-npm-cache.mjs <dir>
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function prepareNpmCache(dir) {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const digest = createHash('sha256').update(lock).digest('hex');
  const stamp = join(dir, '.lockfile-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return { dir, fresh: false };
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'attune-npm-cache-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(root, f), join(work, f));
    const r = spawnSync('npm', ['ci', '--omit=peer', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--cache', dir], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`npm ci --cache ${dir} failed (status ${r.status})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(stamp, digest);
  return { dir, fresh: true };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/builder-npm-cache.mjs <dir>');
    process.exit(2);
  }
  const r = prepareNpmCache(resolve(dir));
  console.log(`${r.dir} ${r.fresh ? 'filled' : 'up to date'}`);
}
