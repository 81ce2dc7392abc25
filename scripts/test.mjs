#!/usr/bin/env node
// `npm test`: builds the bundle, runs the three vitest tiers one after another (unit, then the
// integration and e2e tiers that share the machine's PostgreSQL/RabbitMQ, so never concurrently),
// and ends with ONE summary line `tests: N passed, M failed[, K skipped]` computed from vitest's
// JSON reports. Extra args are passed to vitest (e.g. `npm test -- --project unit`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFuzzSeed } from './lib/fuzz-seed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const extra = process.argv.slice(2);
const projectArg = extra.findIndex((a) => a === '--project');
const projects = projectArg >= 0 ? [extra[projectArg + 1]] : ['unit', 'fuzz', 'integration', 'e2e', 'reliability'];
const passThrough = projectArg >= 0 ? extra.filter((_, i) => i !== projectArg && i !== projectArg + 1) : extra;

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) {
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}

// One seed for the fuzz properties and the chaos soak, printed so a failure can be replayed.
const testEnv = withFuzzSeed(process.env);
console.log(`fuzz/chaos seed ${testEnv.ATTUNE_FUZZ_SEED} (replay: ATTUNE_FUZZ_SEED=${testEnv.ATTUNE_FUZZ_SEED} npm test)`);
const outDir = mkdtempSync(join(tmpdir(), 'attune-agent-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
let runnerFailed = false;
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
for (const project of projects) {
  const out = join(outDir, `${project}.json`);
  console.log(`\n=== vitest --project ${project} ===`);
  const r = spawnSync(
    process.execPath,
    [vitest, 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...passThrough],
    { stdio: 'inherit', cwd: root, env: { ...testEnv, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR } },
  );
  if (!existsSync(out)) {
    // vitest exits non-zero with no report when no file matches a filter; that only counts as a
    // failure if it also could not run what it found.
    if (r.status !== 0 && passThrough.length === 0) runnerFailed = true;
    continue;
  }
  const report = JSON.parse(readFileSync(out, 'utf8'));
  totals.passed += report.numPassedTests ?? 0;
  totals.failed += report.numFailedTests ?? 0;
  totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A suite that failed to load (syntax error, failing hook) has no tests counted: count it as failed.
  const brokenSuites = (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0);
  totals.failed += brokenSuites.length;
  if (r.status !== 0 && (report.numFailedTests ?? 0) === 0 && brokenSuites.length === 0) runnerFailed = true;
}
rmSync(outDir, { recursive: true, force: true });
if (runnerFailed) totals.failed += 1;
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
process.exit(totals.failed > 0 ? 1 : 0);
