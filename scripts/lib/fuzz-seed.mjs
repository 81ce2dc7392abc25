// One seed per `npm test` / `npm run test:chaos` run for the fast-check properties (test/fuzz)
// and the chaos soak's fault schedule, chosen here and printed first, so a failure found once
// can be replayed: ATTUNE_FUZZ_SEED=<seed> npm run test:chaos (or npm test).

/** Returns `env` with ATTUNE_FUZZ_SEED set (kept when given; must be a 32-bit integer). */
export function withFuzzSeed(env) {
  const given = env.ATTUNE_FUZZ_SEED;
  if (given !== undefined && given.trim() !== '') {
    const n = Number(given.trim());
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
      throw new Error(`ATTUNE_FUZZ_SEED must be a 32-bit integer (as printed by a fuzz run), got ${JSON.stringify(given)}`);
    }
    return { ...env, ATTUNE_FUZZ_SEED: String(n | 0) };
  }
  return { ...env, ATTUNE_FUZZ_SEED: String((Math.random() * 0x100000000) | 0) };
}
