// A small stand-in for Attune's API + executor, used by `npm run demo` and the end-to-end tests:
// it installs a pack the way upstream does (pinned release under
// {packs_dir}/.releases/sha256/<digest>/), inserts action and execution rows, publishes the
// executor's dispatch / cancel messages, and records what the agent publishes. Plain ESM so the
// demo runs with `node` and vitest imports the same code (no second copy of this logic).
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import amqp from 'amqplib';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';

const RUNNER_TO_RUNTIME = {
  shell: 'core.shell',
  bash: 'core.shell',
  sh: 'core.shell',
  python: 'core.python',
  python3: 'core.python',
  node: 'core.nodejs',
  nodejs: 'core.nodejs',
  'node.js': 'core.nodejs',
  native: 'core.native',
  ruby: 'core.ruby',
  go: 'core.go',
  java: 'core.java',
  r: 'core.r',
  perl: 'core.perl',
};

/** Upstream's secret marker in a redacted `execution.config` (spec 04 §6.2). */
export const SECRET_MARKER = { $attune_secret: true, redacted: true };

/** AES-256-GCM with key = SHA-256(key string), base64(nonce‖ciphertext‖tag) as a JSON string (spec 04 §6.1). */
export function encryptJsonValue(value, key) {
  const aesKey = createHash('sha256').update(key, 'utf8').digest();
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey, nonce);
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64');
}

export function encryptionKeyHash(key) {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export class ControlPlane {
  /**
   * @param {{ databaseUrl: string, amqpUrl: string, packsDir: string, schema?: string, encryptionKey?: string }} opts
   */
  constructor(opts) {
    this.opts = opts;
    this.schema = opts.schema ?? 'attune';
    // search_path as a startup option: set before the first query, no extra round trip.
    this.pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 4, options: `-c search_path=${this.schema},public` });
    this.pool.on('error', () => {});
    /** @type {{ routingKey: string, body: any, properties: any, receivedAt: number }[]} */
    this.messages = [];
    /** execution id → number of ExecutionCompleted messages seen (O(1) lookups while waiting). */
    this.completionCounts = new Map();
    this.waiters = new Set();
  }

  async connect() {
    this.conn = await amqp.connect(this.opts.amqpUrl);
    this.conn.on('error', () => {});
    this.ch = await this.conn.createConfirmChannel();
    this.ch.on('error', () => {});
    for (const [name, type] of [
      ['attune.events', 'topic'],
      ['attune.executions', 'topic'],
    ]) {
      await this.ch.assertExchange(name, type, { durable: true });
    }
    // Record the worker's status and completion messages on a private queue (the executor's
    // own durable queues are not needed for that).
    const { queue } = await this.ch.assertQueue('', { exclusive: true, autoDelete: true });
    await this.ch.bindQueue(queue, 'attune.executions', 'execution.status.changed');
    await this.ch.bindQueue(queue, 'attune.executions', 'execution.completed');
    await this.ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        let body;
        try {
          body = JSON.parse(msg.content.toString('utf8'));
        } catch {
          body = { unparsable: msg.content.toString('utf8') };
        }
        this.messages.push({ routingKey: msg.fields.routingKey, body, properties: msg.properties, receivedAt: Date.now() });
        const id = body?.payload?.execution_id;
        if (msg.fields.routingKey === 'execution.completed' && id !== undefined) {
          this.completionCounts.set(id, (this.completionCounts.get(id) ?? 0) + 1);
        }
        for (const w of this.waiters) w();
      },
      { noAck: true },
    );
    return this;
  }

  async close() {
    try {
      await this.conn?.close();
    } catch {
      /* already closed */
    }
    await this.pool.end();
  }

  query(text, params) {
    return this.pool.query(text, params);
  }

  /**
   * Install a pack directory (pack.yaml + actions/*.yaml + files) as a pinned release, like the
   * API's pack registration: tarball → sha256 digest → {packsDir}/.releases/sha256/<digest>/{pack.tar.gz,pack/}.
   * Returns { packId, releaseId, digest, actions: Map<ref, actionRow> }.
   */
  async installPack(sourceDir) {
    const manifest = parseYaml(readFileSync(join(sourceDir, 'pack.yaml'), 'utf8'));
    const packRef = manifest.ref;
    const version = String(manifest.version ?? '1.0.0');
    const work = mkdtempSync(join(tmpdir(), 'attune-pack-'));
    const tarball = join(work, 'pack.tar.gz');
    const tar = spawnSync('tar', ['-czf', tarball, '-C', sourceDir, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    const digest = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    const releaseDir = join(this.opts.packsDir, '.releases', 'sha256', digest);
    mkdirSync(releaseDir, { recursive: true });
    cpSync(tarball, join(releaseDir, 'pack.tar.gz'));
    rmSync(join(releaseDir, 'pack'), { recursive: true, force: true });
    cpSync(sourceDir, join(releaseDir, 'pack'), { recursive: true });
    // The legacy layout too ({packs_base_dir}/{pack_ref}), for unpinned executions and `wait packs`.
    rmSync(join(this.opts.packsDir, packRef), { recursive: true, force: true });
    cpSync(sourceDir, join(this.opts.packsDir, packRef), { recursive: true });
    rmSync(work, { recursive: true, force: true });

    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const pack = await client.query(
        `INSERT INTO pack (ref, label, description, version)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (ref) DO UPDATE SET label = EXCLUDED.label, version = EXCLUDED.version
         RETURNING id`,
        [packRef, manifest.label ?? packRef, manifest.description ?? null, version],
      );
      const packId = Number(pack.rows[0].id);
      const release = await client.query(
        `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (pack, version) DO UPDATE SET digest = EXCLUDED.digest, content_path = EXCLUDED.content_path,
           archive_size = EXCLUDED.archive_size, manifest = EXCLUDED.manifest
         RETURNING id`,
        [packId, packRef, version, digest, join(releaseDir, 'pack'), statSync(join(releaseDir, 'pack.tar.gz')).size, manifest],
      );
      const releaseId = Number(release.rows[0].id);
      await client.query('UPDATE pack SET active_release = $2 WHERE id = $1', [packId, releaseId]);
      const actions = new Map();
      const actionsDir = join(sourceDir, 'actions');
      for (const file of existsSync(actionsDir) ? readdirSync(actionsDir).sort() : []) {
        if (!/\.ya?ml$/.test(file)) continue;
        const def = parseYaml(readFileSync(join(actionsDir, file), 'utf8'));
        const name = def.name ?? basename(file).replace(/\.ya?ml$/, '');
        const ref = def.ref && String(def.ref).includes('.') ? def.ref : `${packRef}.${name}`;
        const runner = String(def.runner_type ?? 'shell').toLowerCase();
        const runtimeRef = RUNNER_TO_RUNTIME[runner] ?? `core.${runner}`;
        const rt = await client.query('SELECT id FROM runtime WHERE ref = $1', [runtimeRef]);
        const row = await client.query(
          `INSERT INTO action (ref, pack, pack_ref, label, description, entrypoint, runtime, param_schema, out_schema,
              parameter_delivery, parameter_format, output_format, timeout_seconds)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
           ON CONFLICT (ref) DO UPDATE SET entrypoint = EXCLUDED.entrypoint, runtime = EXCLUDED.runtime,
             param_schema = EXCLUDED.param_schema, out_schema = EXCLUDED.out_schema,
             parameter_delivery = EXCLUDED.parameter_delivery, parameter_format = EXCLUDED.parameter_format,
             output_format = EXCLUDED.output_format, timeout_seconds = EXCLUDED.timeout_seconds
           RETURNING *`,
          [
            ref,
            packId,
            packRef,
            def.label ?? name,
            def.description ?? null,
            def.entry_point ?? def.entrypoint,
            rt.rows[0]?.id ?? null,
            def.parameters ?? null,
            def.output ?? def.output_schema ?? def.out_schema ?? null,
            def.parameter_delivery ?? 'stdin',
            def.parameter_format ?? 'json',
            def.output_format ?? 'text',
            def.timeout ?? def.timeout_seconds ?? null,
          ],
        );
        actions.set(ref, row.rows[0]);
      }
      await client.query('COMMIT');
      return { packId, releaseId, digest, packRef, actions };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /**
   * Insert an execution the way the executor leaves it before dispatch: status `scheduled`,
   * `worker` set, release pinned, executable snapshot filled (spec 04 §3.6, §7.1 item 5).
   * `secrets` maps top-level parameter names to clear values that are stored encrypted.
   */
  async createExecution({ actionRef, workerId, parameters = {}, secrets = {}, envVars = null, timeoutSec = null, pinned = true, status = 'scheduled' }) {
    const action = (await this.query('SELECT * FROM action WHERE ref = $1', [actionRef])).rows[0];
    let releaseId = null;
    let digest = null;
    let snapshot = null;
    if (action && pinned) {
      const pack = (await this.query('SELECT p.active_release, r.digest, r.content_path FROM pack p JOIN pack_release r ON r.id = p.active_release WHERE p.id = $1', [action.pack])).rows[0];
      releaseId = pack ? Number(pack.active_release) : null;
      digest = pack?.digest ?? null;
      const runtime = action.runtime ? (await this.query('SELECT * FROM runtime WHERE id = $1', [action.runtime])).rows[0] : null;
      snapshot = {
        release: { id: releaseId, digest, content_path: pack?.content_path ?? '' },
        executable: { action: { ...action, enabled: true }, runtime: runtime ?? null, runtime_versions: [], workflow_definition: null },
        pack_executables: {},
      };
    }
    const config = { ...parameters };
    for (const name of Object.keys(secrets)) config[name] = SECRET_MARKER;
    const row = (
      await this.query(
        `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING *`,
        [action?.id ?? null, actionRef, releaseId, digest, snapshot, config, envVars, workerId, status, timeoutSec],
      )
    ).rows[0];
    const id = Number(row.id);
    for (const [name, value] of Object.entries(secrets)) {
      if (!this.opts.encryptionKey) throw new Error('secrets need ControlPlane({ encryptionKey })');
      await this.query(
        `INSERT INTO execution_secret_value (entity_type, entity_id, json_path, source_kind, encrypted_value, encryption_key_hash)
         VALUES ('execution_config', $1, $2, 'parameter_schema', $3, $4)`,
        [id, `/${name}`, JSON.stringify(encryptJsonValue(value, this.opts.encryptionKey)), encryptionKeyHash(this.opts.encryptionKey)],
      );
    }
    return { id, releaseId, digest, row };
  }

  /** Publish the executor's dispatch (spec 02 §4.1). `overrides` replace payload fields. */
  async dispatch(execution, workerId, overrides = {}) {
    const payload = {
      execution_id: execution.id,
      worker_id: workerId,
      action_ref: execution.row?.action_ref ?? overrides.action_ref,
      config: execution.row?.config ?? null,
      scheduled_attempt_updated_at: new Date().toISOString(),
      release_id: execution.releaseId ?? null,
      release_digest: execution.digest ?? null,
      ...overrides,
    };
    await this.publishRaw(`execution.dispatch.worker.${workerId}`, envelope('ExecutionRequested', payload, 'executor'));
  }

  async cancel(executionId, workerId) {
    await this.query(`UPDATE execution SET status = 'canceling' WHERE id = $1 AND status = 'running'`, [executionId]);
    await this.publishRaw(`execution.cancel.worker.${workerId}`, envelope('ExecutionCancelRequested', { execution_id: executionId, worker_id: workerId }, 'api-service'));
  }

  /** Publish any body (object → JSON, Buffer/string as is) to attune.executions. */
  async publishRaw(routingKey, body, exchange = 'attune.executions') {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    await new Promise((resolve, reject) =>
      this.ch.publish(exchange, routingKey, content, { contentType: 'application/json', deliveryMode: 2 }, (err) => (err ? reject(err) : resolve())),
    );
  }

  completionsFor(executionId) {
    return this.messages.filter((m) => m.routingKey === 'execution.completed' && m.body?.payload?.execution_id === executionId);
  }

  statusMessagesFor(executionId) {
    return this.messages.filter((m) => m.routingKey === 'execution.status.changed' && m.body?.payload?.execution_id === executionId);
  }

  /** Resolves once every id has an ExecutionCompleted message; rejects after timeoutMs naming the missing ones. */
  async waitForCompletions(ids, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = ids.filter((id) => !this.completionCounts.has(id));
      if (missing.length === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ExecutionCompleted within ${timeoutMs} ms for executions ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ` (+${missing.length - 20})` : ''}`);
      await new Promise((resolve) => {
        const t = setTimeout(done, Math.min(left, 250));
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      }).finally(() => this.waiters.clear());
    }
  }

  async getExecution(id) {
    return (await this.query('SELECT * FROM execution WHERE id = $1', [id])).rows[0];
  }

  async getWorkerByName(name) {
    return (await this.query('SELECT * FROM worker WHERE name = $1', [name])).rows[0];
  }

  /** Poll until the worker row exists and is active (the agent registered). */
  async waitForWorker(name, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const w = await this.getWorkerByName(name).catch(() => undefined);
      if (w && w.status === 'active') return w;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`worker ${name} did not register within ${timeoutMs} ms`);
  }
}

/** An envelope as upstream producers write it (spec 02 §3.1). */
export function envelope(messageType, payload, sourceService) {
  const id = randomUUID();
  return {
    message_id: id,
    correlation_id: id,
    message_type: messageType,
    version: '1.0',
    timestamp: new Date().toISOString(),
    headers: { retry_count: 0, source_service: sourceService },
    payload,
  };
}
