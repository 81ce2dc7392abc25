// 4b. Floor: the CPU per execution of a skeleton consumer that does only what an execution
// cannot do without (scripts/bench/floor.mjs), with the agent's runtime and libraries, at the
// highest throughput level — what no Node agent built on pg and amqplib goes below here — and
// PostgreSQL's CPU for the same two writes on a plain table and on upstream's `execution`, and
// the skeleton's sequential latency over a bare spawn (the overhead section's measure).
import { pinnedNodePath } from '../lib/agent.mjs';
import { measureFloor, measureSequentialFloor, nodeVersionOf } from '../floor.mjs';
import { NOOP_ACTION } from '../lib/harness.mjs';
import { progress, summary } from '../lib/util.mjs';
import { timeBareSpawn } from './overhead.mjs';
import { CONCURRENCY } from './throughput.mjs';

/** The agent's own Node: the single executable's pinned one, or the binary running the bundle. */
export function floorNode(ctx) {
  const node = ctx.agent.kind === 'sea' ? pinnedNodePath(ctx.root) : ctx.agent.argv[0];
  if (node === null) throw new Error("the single executable's pinned Node is not in .cache/sea (run npm run build:sea)");
  return node;
}

/**
 * What the skeleton needs to run `action` on upstream's `execution` table: a maker of n
 * `scheduled` rows as the executor creates them (pinned, with their snapshot) returning their
 * ids, and the search_path that finds the table.
 */
export function upstreamTable(ctx, action) {
  return {
    upstreamRows: async (n) => (await ctx.harness.createExecutions(action, null, n)).map((e) => e.id),
    searchPath: `${ctx.harness.cp.schema},public`,
  };
}

export async function benchFloor(ctx) {
  const node = floorNode(ctx);
  const concurrency = Math.max(...(ctx.levels ?? CONCURRENCY));
  const executions = ctx.sizes.throughputExecutions;
  const version = await nodeVersionOf(node);
  progress(`floor: skeleton consumer on ${version}, c=${concurrency}, ${executions} executions with and without the spawn, and on upstream's execution table`);
  const { upstreamRows, searchPath } = upstreamTable(ctx, NOOP_ACTION);
  const cases = await measureFloor({ node, databaseUrl: ctx.databaseUrl, amqpUrl: ctx.amqpUrl, executions, concurrencies: [concurrency], script: ctx.pack.noopScript, upstreamRows, searchPath });
  const find = (schema, spawn) => cases.find((c) => c.schema === schema && c.spawn === spawn);
  const sequential = await sequentialFloor(ctx, node, upstreamRows, searchPath);
  return { node: version, concurrency, executions, withSpawn: find('plain', true), withoutSpawn: find('plain', false), upstreamTable: find('upstream', true), sequential };
}

/**
 * The skeleton one execution at a time on upstream's table, each followed by a bare spawn of the
 * same command (as the overhead section times it): the pairs see the same machine. Then the same
 * without the action's spawn (still followed by a bare spawn each): what its two writes, three
 * confirmed publishes and two broker hops take alone — the least any consumer of upstream's
 * contract adds to a spawn, whatever its spawn costs.
 */
async function sequentialFloor(ctx, node, upstreamRows, searchPath) {
  const runs = ctx.sizes.overheadRuns;
  const warmup = ctx.sizes.overheadWarmup;
  progress(`floor: ${warmup} + ${runs} sequential skeleton executions on upstream's execution table with and without the spawn, each followed by a bare spawn`);
  const bare = [];
  const between = async (counted) => {
    const ms = await timeBareSpawn(ctx);
    if (counted) bare.push(ms);
  };
  const common = { node, databaseUrl: ctx.databaseUrl, amqpUrl: ctx.amqpUrl, runs, warmup, script: ctx.pack.noopScript, upstreamRows, searchPath };
  const latencies = await measureSequentialFloor({ ...common, between });
  const withoutSpawn = await measureSequentialFloor({ ...common, withSpawn: false, between: () => timeBareSpawn(ctx) });
  return { runs, warmup, skeletonMs: summary(latencies), bareSpawnMs: summary(bare), withoutSpawnMs: summary(withoutSpawn) };
}
