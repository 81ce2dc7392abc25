// The executor's side of the benchmark: the control-plane stand-in (scripts/lib/control-plane.mjs)
// installs the bench pack and builds the dispatch messages; this file adds what a benchmark
// needs on top: executions created in bulk, dispatches published without waiting for each
// confirm, and an O(1) record of ExecutionCompleted arrival times (performance.now()).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { ControlPlane } from '../../lib/control-plane.mjs';
import { now } from './util.mjs';

export const BENCH_PACK = 'attune_bench';
export const NOOP_ACTION = `${BENCH_PACK}.noop`;
export const HEAVY_ACTION = `${BENCH_PACK}.heavy`;

/**
 * The one command every runner executes per message: `/bin/bash <pack>/actions/noop.sh`.
 * The script drains stdin with a bash builtin (no extra process): amqp-consume writes the
 * message body to the command's stdin and dies of SIGPIPE when the command exits first
 * (measured: exit 141 with a plain `true`), and the agent writes the parameters there too.
 */
export const NOOP_SCRIPT = "# attune-agent benchmark: trivial action (reads stdin to EOF with a builtin, runs nothing)\nread -r -d '' _ || true\n";

export function heavyScript(bytes) {
  return `# attune-agent benchmark: heavy output\nhead -c ${bytes} /dev/zero | tr '\\0' 'a'\n`;
}

/** Writes the bench pack (noop + heavy) into `dir` and returns its paths. */
export function writeBenchPack(dir, heavyBytes) {
  const actions = join(dir, 'actions');
  mkdirSync(actions, { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), `ref: ${BENCH_PACK}\nlabel: "attune-agent benchmark"\nversion: "1.0.0"\nenabled: true\n`);
  const action = (name, file) =>
    `ref: ${BENCH_PACK}.${name}\nlabel: "${name}"\nenabled: true\nrunner_type: shell\nentry_point: ${file}\n` +
    'parameter_delivery: stdin\nparameter_format: json\noutput_format: text\n';
  writeFileSync(join(actions, 'noop.yaml'), action('noop', 'noop.sh'));
  writeFileSync(join(actions, 'noop.sh'), NOOP_SCRIPT, { mode: 0o755 });
  writeFileSync(join(actions, 'heavy.yaml'), action('heavy', 'heavy.sh'));
  writeFileSync(join(actions, 'heavy.sh'), heavyScript(heavyBytes), { mode: 0o755 });
  return { dir, noopScript: join(actions, 'noop.sh'), heavyScript: join(actions, 'heavy.sh') };
}

export class Harness {
  /** @param {{ databaseUrl: string, amqpUrl: string, packsDir: string, encryptionKey: string }} opts */
  constructor(opts) {
    this.opts = opts;
    this.cp = new ControlPlane(opts);
    /** execution id → { at (performance.now()), status } */
    this.completed = new Map();
    /** execution id → resolve */
    this.waiters = new Map();
    this.countWaiters = new Set();
    /** Messages the agent published on attune.executions, by routing key (round trips per execution). */
    this.published = new Map();
  }

  async connect() {
    // TCP_NODELAY: with Nagle on, a publish written as several small frames waits for the
    // broker's delayed ACK (~40 ms) — that would be the harness's latency, not the agent's.
    this.conn = await amqp.connect(this.opts.amqpUrl, { noDelay: true });
    this.conn.on('error', () => {});
    this.ch = await this.conn.createConfirmChannel();
    this.ch.on('error', () => {});
    await this.ch.assertExchange('attune.executions', 'topic', { durable: true });
    await this.ch.assertExchange('attune.events', 'topic', { durable: true });
    // ControlPlane.dispatch publishes on `cp.ch`; its own recorder (connect()) keeps every message
    // in an array, which a 20 000-execution soak does not need.
    this.cp.conn = this.conn;
    this.cp.ch = this.ch;
    const { queue } = await this.ch.assertQueue('', { exclusive: true, autoDelete: true });
    await this.ch.bindQueue(queue, 'attune.executions', 'execution.completed');
    // The executor consumes status changes too: bound here so they are routed (as in a real
    // deployment) and counted, not dropped as unroutable.
    await this.ch.bindQueue(queue, 'attune.executions', 'execution.status.changed');
    await this.ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        const at = now();
        const key = msg.fields.routingKey;
        this.published.set(key, (this.published.get(key) ?? 0) + 1);
        if (key !== 'execution.completed') return;
        let payload;
        try {
          payload = JSON.parse(msg.content.toString('utf8')).payload;
        } catch {
          return;
        }
        const id = Number(payload?.execution_id);
        if (!Number.isFinite(id) || this.completed.has(id)) return;
        this.completed.set(id, { at, status: payload.status });
        const w = this.waiters.get(id);
        if (w) {
          this.waiters.delete(id);
          w();
        }
        for (const cw of this.countWaiters) cw.check(id);
      },
      { noAck: true },
    );
    this.probeCh = null;
    return this;
  }

  async close() {
    await this.cp.close().catch(() => {});
  }

  async installPack(dir) {
    return this.cp.installPack(dir);
  }

  /**
   * `count` executions of `actionRef` for `workerId`, status `scheduled` like the executor
   * leaves them: one through ControlPlane.createExecution (release pin + snapshot), the rest
   * copied from it in one INSERT … SELECT. Returns objects ControlPlane.dispatch accepts.
   */
  async createExecutions(actionRef, workerId, count) {
    const first = await this.cp.createExecution({ actionRef, workerId, parameters: {} });
    const list = [first];
    if (count > 1) {
      const r = await this.cp.query(
        `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
         SELECT action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds
           FROM execution, generate_series(1, $2::int) WHERE id = $1
         RETURNING id`,
        [first.id, count - 1],
      );
      for (const row of r.rows) list.push({ ...first, id: Number(row.id) });
    }
    return list;
  }

  /** Publish one dispatch; resolves on the broker's confirm. */
  dispatch(execution, workerId) {
    return this.cp.dispatch(execution, workerId);
  }

  /** Publish all dispatches back to back (one confirm wait at the end). */
  async dispatchAll(executions, workerId) {
    await Promise.all(executions.map((e) => this.cp.dispatch(e, workerId)));
  }

  /** Resolves with the arrival time of ExecutionCompleted for `id`. */
  waitCompleted(id, timeoutMs = 60_000) {
    const done = this.completed.get(id);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no ExecutionCompleted for execution ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, () => {
        clearTimeout(t);
        resolve(this.completed.get(id));
      });
    });
  }

  /** Resolves once every id has completed; `onProgress(doneCount)` is called on each arrival. */
  waitAll(ids, { timeoutMs = 600_000, onProgress = null } = {}) {
    const pending = new Set(ids.filter((id) => !this.completed.has(id)));
    if (pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const cw = {
        check: (id) => {
          if (!pending.delete(id)) return;
          onProgress?.(ids.length - pending.size);
          if (pending.size === 0) {
            clearTimeout(t);
            this.countWaiters.delete(cw);
            resolve();
          }
        },
      };
      const t = setTimeout(() => {
        this.countWaiters.delete(cw);
        reject(new Error(`${pending.size} of ${ids.length} executions did not complete within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.countWaiters.add(cw);
    });
  }

  /** Statuses other than `Completed` among `ids` (a benchmark of failing actions measures nothing). */
  failures(ids) {
    const bad = {};
    for (const id of ids) {
      const s = this.completed.get(id)?.status ?? 'missing';
      if (s !== 'Completed') bad[s] = (bad[s] ?? 0) + 1;
    }
    return bad;
  }

  /** Snapshot of `published` (diff two to count a window). */
  publishedCounts() {
    return Object.fromEntries(this.published);
  }

  /**
   * This database's transaction and tuple counters (pg_stat_database). Every statement the agent
   * sends outside BEGIN/COMMIT is one transaction, so the delta over a window is its statements.
   * PostgreSQL 15 flushes a backend's counters when it has been idle ~1 s or exits.
   */
  async pgCounters() {
    const r = await this.cp.query(
      `SELECT xact_commit + xact_rollback AS xacts, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
         FROM pg_stat_database WHERE datname = current_database()`,
    );
    return Object.fromEntries(Object.entries(r.rows[0]).map(([k, v]) => [k, Number(v)]));
  }

  /** Consumer count of `queue`, or null while it does not exist (a failed check closes the channel). */
  async consumerCount(queue) {
    try {
      if (!this.probeCh) {
        this.probeCh = await this.conn.createChannel();
        this.probeCh.on('error', () => {});
        this.probeCh.on('close', () => {
          this.probeCh = null;
        });
      }
      const q = await this.probeCh.checkQueue(queue);
      return q.consumerCount;
    } catch {
      this.probeCh = null;
      return null;
    }
  }
}
