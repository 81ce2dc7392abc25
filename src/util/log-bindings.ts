/**
 * Child loggers that bind each key once. pino serialises a child's bindings and every
 * call's object side by side, so re-binding a key the parent already carries (a service
 * child adding `workerId` to a logger that has it, the engine adding `executionId` to the
 * per-execution logger) writes the key twice in one JSON line, which log pipelines resolve
 * unpredictably. Structural type only, so the engine can use it without importing pino.
 */
export interface BindableLogger<L> {
  child(bindings: Record<string, unknown>): L;
  bindings?(): Record<string, unknown>;
}

/** `log.child(bindings)` without the keys `log` already binds (the first binding wins). */
export function childWith<L extends BindableLogger<L>>(log: L, bindings: Record<string, unknown>): L {
  const bound = typeof log.bindings === 'function' ? log.bindings() : {};
  const fresh: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bindings)) {
    if (!Object.prototype.hasOwnProperty.call(bound, k)) fresh[k] = v;
  }
  return Object.keys(fresh).length === 0 ? log : log.child(fresh);
}

