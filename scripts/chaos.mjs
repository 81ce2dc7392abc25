#!/usr/bin/env node
// `npm run test:chaos`: the reliability and fuzz tiers at full size — the chaos soak with 5000
// executions (ATTUNE_CHAOS_EXECUTIONS) and 20000 cases per fuzz property (ATTUNE_FUZZ_RUNS) —
// instead of the reduced sizes `npm test` uses. Needs the local PostgreSQL server binaries
// (a private instance is started; the shared cluster is never restarted) and RabbitMQ with
// rabbitmqctl. Extra args go to vitest (e.g. a file filter). Exits with vitest's status.
// Prints the run's seed first; ATTUNE_FUZZ_SEED=<seed> replays the fuzz cases and the soak's
// fault schedule.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFuzzSeed } from './lib/fuzz-seed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = withFuzzSeed({
  ...process.env,
  ATTUNE_CHAOS_EXECUTIONS: process.env.ATTUNE_CHAOS_EXECUTIONS ?? '5000',
  ATTUNE_FUZZ_RUNS: process.env.ATTUNE_FUZZ_RUNS ?? '20000',
});
console.log(`chaos: ${env.ATTUNE_CHAOS_EXECUTIONS} soak executions, ${env.ATTUNE_FUZZ_RUNS} cases per fuzz property`);
console.log(`chaos: seed ${env.ATTUNE_FUZZ_SEED} (replay: ATTUNE_FUZZ_SEED=${env.ATTUNE_FUZZ_SEED} npm run test:chaos)`);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(process.execPath, [vitest, 'run', '--project', 'fuzz', '--project', 'reliability', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
