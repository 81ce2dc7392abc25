/**
 * Measures (prints, does not assert timing) how many trivial shell executions per second the
 * real bundle finishes end to end — dispatch published → DB terminal write → ExecutionCompleted
 * received — at max_concurrent_tasks 1 and 8.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, type AgentTestEnv, type CreatedExecution } from '../../support/agent';

const COUNT = 1000;

let e: AgentTestEnv;
let packDir: string;

beforeAll(async () => {
  e = await createAgentTestEnv();
  // A pack with one action that does nothing: the cost measured is the agent's.
  packDir = mkdtempSync(join(tmpdir(), 'attune-e2e-bench-pack-'));
  mkdirSync(join(packDir, 'actions'));
  writeFileSync(join(packDir, 'pack.yaml'), 'ref: e2e_bench\nlabel: "E2E bench"\nversion: "1.0.0"\n');
  writeFileSync(
    join(packDir, 'actions', 'noop.yaml'),
    'ref: e2e_bench.noop\nrunner_type: shell\nentry_point: noop.sh\nparameter_delivery: stdin\nparameter_format: json\noutput_format: text\n',
  );
  writeFileSync(join(packDir, 'actions', 'noop.sh'), '#!/bin/bash\nexit 0\n');
  await e.cp.installPack(packDir);
});

afterAll(async () => {
  try {
    await e?.cleanup();
  } finally {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  }
});

/** COUNT executions at once: one template row via the control plane, the rest copied in SQL. */
async function createMany(workerId: number): Promise<CreatedExecution[]> {
  const template = await e.cp.createExecution({ actionRef: 'e2e_bench.noop', workerId, parameters: {} });
  const copies = await e.cp.query(
    `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
     SELECT action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds
     FROM execution, generate_series(1, $2) WHERE id = $1
     RETURNING id`,
    [template.id, COUNT - 1],
  );
  return [template, ...copies.rows.map((r) => ({ ...template, id: Number(r.id) }))];
}

/**
 * ControlPlane.waitForCompletions rescans every recorded message for every id on each arrival
 * (quadratic: it would eat the CPU the agent needs here); this scans each new message once.
 */
async function waitForAllCompletions(ids: Set<number>, timeoutMs: number): Promise<void> {
  const done = new Set<number>();
  let scanned = 0;
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.size) {
    const msgs = e.cp.messages;
    for (; scanned < msgs.length; scanned++) {
      const m = msgs[scanned];
      const id = Number(m?.body.payload?.execution_id);
      if (m?.routingKey === 'execution.completed' && ids.has(id)) done.add(id);
    }
    if (Date.now() > deadline) throw new Error(`only ${done.size} of ${ids.size} completions within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function measure(concurrency: number): Promise<number> {
  const { agent, workerId } = await e.startAgent({
    name: e.uniqueName(`e2e-bench-c${concurrency}`),
    env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: String(concurrency) },
  });
  try {
    const exs = await createMany(workerId);
    const started = Date.now();
    for (let i = 0; i < exs.length; i += 100) {
      await Promise.all(exs.slice(i, i + 100).map((ex) => e.cp.dispatch(ex, workerId)));
    }
    await waitForAllCompletions(new Set(exs.map((x) => x.id)), 120_000);
    const seconds = (Date.now() - started) / 1000;
    const r = await e.cp.query(`SELECT status, count(*)::int AS n FROM execution WHERE id = ANY($1) GROUP BY status`, [exs.map((x) => x.id)]);
    expect(r.rows).toEqual([{ status: 'completed', n: COUNT }]);
    const perId = new Map<number, number>();
    for (const m of e.cp.messages) {
      if (m.routingKey === 'execution.completed') perId.set(Number(m.body.payload?.execution_id), (perId.get(Number(m.body.payload?.execution_id)) ?? 0) + 1);
    }
    expect(exs.filter((x) => perId.get(x.id) !== 1)).toEqual([]);
    return COUNT / seconds;
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}

describe('throughput (measurement)', () => {
  it(`finishes ${COUNT} trivial shell executions at max_concurrent_tasks 1 and 8`, async () => {
    const c1 = await measure(1);
    const c8 = await measure(8);
    console.log(`throughput: c=1 ${c1.toFixed(1)}/s, c=8 ${c8.toFixed(1)}/s`);
  });
});
