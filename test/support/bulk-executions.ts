/**
 * Many executions at once for the e2e tests that need volume (PID 1 reaping): one template row
 * through the control plane, the rest copied in SQL, and a completion wait that scans each
 * recorded message once (ControlPlane.waitForCompletions rescans everything per arrival).
 */
import type { ControlPlane, CreatedExecution } from './agent';

export async function createExecutionCopies(cp: ControlPlane, actionRef: string, workerId: number, count: number): Promise<CreatedExecution[]> {
  const template = await cp.createExecution({ actionRef, workerId, parameters: {} });
  const copies = await cp.query(
    `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
     SELECT action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds
     FROM execution, generate_series(1, $2) WHERE id = $1
     RETURNING id`,
    [template.id, count - 1],
  );
  return [template, ...copies.rows.map((r) => ({ ...template, id: Number(r.id) }))];
}

/** Dispatch all, wait for one ExecutionCompleted each; `onTick` runs about every 500 ms meanwhile. */
export async function dispatchAndWait(cp: ControlPlane, exs: readonly CreatedExecution[], workerId: number, timeoutMs: number, onTick: () => void = () => undefined): Promise<void> {
  for (let i = 0; i < exs.length; i += 100) await Promise.all(exs.slice(i, i + 100).map((ex) => cp.dispatch(ex, workerId)));
  const ids = new Set(exs.map((x) => x.id));
  const done = new Set<number>();
  let scanned = 0;
  let lastTick = 0;
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.size) {
    const msgs = cp.messages;
    for (; scanned < msgs.length; scanned++) {
      const m = msgs[scanned];
      const id = Number(m?.body.payload?.execution_id);
      if (m?.routingKey === 'execution.completed' && ids.has(id)) done.add(id);
    }
    if (Date.now() - lastTick > 500) {
      lastTick = Date.now();
      onTick();
    }
    if (Date.now() > deadline) throw new Error(`only ${done.size} of ${ids.size} completions within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
