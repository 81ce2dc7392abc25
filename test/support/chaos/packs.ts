/** Packs installed as pinned releases, and executions as the executor leaves them (test/support/chaos.ts). */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { stringify as toYaml } from 'yaml';
import { encryptJsonValue, encryptionKeyHash } from '../../../src/secrets/crypto';
import { randomHex } from './util';

const execFileP = promisify(execFile);

// ------------------------------------------------------------------ packs

export interface ActionDef {
  /** Short name; the ref is `<packRef>.<name>`. */
  name: string;
  /** Entrypoint as stored (relative to `actions/`; may be hostile). */
  entrypoint: string;
  runner?: 'shell' | 'python' | 'node';
  parameterDelivery?: 'stdin' | 'file';
  parameterFormat?: 'json' | 'dotenv' | 'yaml';
  outputFormat?: 'text' | 'json' | 'yaml' | 'jsonl';
  timeoutSec?: number | null;
  paramSchema?: unknown;
  outSchema?: unknown;
}

export interface PackDef {
  ref: string;
  /** Files relative to the pack root (e.g. `actions/work.sh`), executable when under actions/. */
  files: Record<string, string>;
  actions: ActionDef[];
}

export interface InstalledPack {
  packRef: string;
  packId: number;
  releaseId: number;
  digest: string;
  /** `{packsDir}/.releases/sha256/<digest>/pack` (what the agent runs from). */
  releasePackDir: string;
  actions: Map<string, { id: number; ref: string; row: Record<string, unknown> }>;
}

const RUNNER_RUNTIME: Record<string, string> = { shell: 'core.shell', python: 'core.python', node: 'core.nodejs' };

/** Write the pack source, install it as a pinned release (like the API) and insert its rows. */
export async function installPack(pool: pg.Pool, packsDir: string, def: PackDef): Promise<InstalledPack> {
  const src = mkdtempSync(join(tmpdir(), 'attune-chaos-packsrc-'));
  try {
    writeFileSync(join(src, 'pack.yaml'), toYaml({ ref: def.ref, label: def.ref, version: '1.0.0', enabled: true }));
    mkdirSync(join(src, 'actions'), { recursive: true });
    for (const [rel, content] of Object.entries(def.files)) {
      const file = join(src, rel);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content, { mode: rel.startsWith('actions/') ? 0o755 : 0o644 });
    }
    const tarball = join(src, '..', `${def.ref}-${randomHex()}.tar.gz`);
    await execFileP('tar', ['-czf', tarball, '-C', src, '.']);
    const digest = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    const releaseDir = join(packsDir, '.releases', 'sha256', digest);
    mkdirSync(releaseDir, { recursive: true });
    cpSync(tarball, join(releaseDir, 'pack.tar.gz'));
    rmSync(tarball, { force: true });
    cpSync(src, join(releaseDir, 'pack'), { recursive: true });

    const pack = await pool.query<{ id: string }>(
      `INSERT INTO pack (ref, label, version) VALUES ($1, $1, '1.0.0')
       ON CONFLICT (ref) DO UPDATE SET version = EXCLUDED.version RETURNING id`,
      [def.ref],
    );
    const packId = Number(pack.rows[0]?.id);
    const release = await pool.query<{ id: string }>(
      `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
       VALUES ($1, $2, '1.0.0', $3, $4, $5, $6)
       ON CONFLICT (pack, version) DO UPDATE SET digest = EXCLUDED.digest, content_path = EXCLUDED.content_path
       RETURNING id`,
      [packId, def.ref, digest, join(releaseDir, 'pack'), statSync(join(releaseDir, 'pack.tar.gz')).size, { ref: def.ref }],
    );
    const releaseId = Number(release.rows[0]?.id);
    await pool.query('UPDATE pack SET active_release = $2 WHERE id = $1', [packId, releaseId]);
    const actions = new Map<string, { id: number; ref: string; row: Record<string, unknown> }>();
    for (const a of def.actions) {
      const runtime = await pool.query<{ id: string }>('SELECT id FROM runtime WHERE ref = $1', [RUNNER_RUNTIME[a.runner ?? 'shell']]);
      const ref = `${def.ref}.${a.name}`;
      const row = await pool.query(
        `INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime, param_schema, out_schema,
            parameter_delivery, parameter_format, output_format, timeout_seconds)
         VALUES ($1,$2,$3,$1,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING *`,
        [
          ref,
          packId,
          def.ref,
          a.entrypoint,
          runtime.rows[0]?.id ?? null,
          a.paramSchema ?? null,
          a.outSchema ?? null,
          a.parameterDelivery ?? 'stdin',
          a.parameterFormat ?? 'json',
          a.outputFormat ?? 'text',
          a.timeoutSec ?? null,
        ],
      );
      const r = row.rows[0] as Record<string, unknown>;
      actions.set(a.name, { id: Number(r.id), ref, row: r });
    }
    return { packRef: def.ref, packId, releaseId, digest, releasePackDir: join(releaseDir, 'pack'), actions };
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

/** Upstream's secret marker in a redacted `execution.config` (spec 04 §6.2). */
export const SECRET_MARKER = { $attune_secret: true, redacted: true };

export interface NewExecution {
  action: string;
  parameters?: Record<string, unknown>;
  /** Top-level parameter names → clear values, stored encrypted (needs `encryptionKey`). */
  secrets?: Record<string, unknown>;
  timeoutSec?: number | null;
  envVars?: Record<string, string> | null;
}

export interface CreatedExecution {
  id: number;
  actionRef: string;
}

/**
 * Insert executions as the executor leaves them before dispatch: `scheduled`, worker set,
 * release pinned, executable snapshot filled (spec 04 §3.6). One multi-row INSERT per call.
 */
export async function createExecutions(
  pool: pg.Pool,
  pack: InstalledPack,
  workerId: number,
  items: NewExecution[],
  opts: { encryptionKey?: string } = {},
): Promise<CreatedExecution[]> {
  const runtimes = new Map<number, unknown>();
  const out: CreatedExecution[] = [];
  const BATCH = 500;
  for (let start = 0; start < items.length; start += BATCH) {
    const batch = items.slice(start, start + BATCH);
    const values: string[] = [];
    const params: unknown[] = [];
    for (const it of batch) {
      const action = pack.actions.get(it.action);
      if (!action) throw new Error(`no action ${it.action} in pack ${pack.packRef}`);
      const runtimeId = action.row.runtime === null ? null : Number(action.row.runtime);
      if (runtimeId !== null && !runtimes.has(runtimeId)) {
        runtimes.set(runtimeId, (await pool.query('SELECT * FROM runtime WHERE id = $1', [runtimeId])).rows[0] ?? null);
      }
      const snapshot = {
        release: { id: pack.releaseId, digest: pack.digest, content_path: pack.releasePackDir },
        executable: {
          action: { ...action.row, enabled: true },
          runtime: runtimeId === null ? null : runtimes.get(runtimeId),
          runtime_versions: [],
          workflow_definition: null,
        },
        pack_executables: {},
      };
      const config: Record<string, unknown> = { ...(it.parameters ?? {}) };
      for (const name of Object.keys(it.secrets ?? {})) config[name] = SECRET_MARKER;
      const b = params.length;
      values.push(`($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8},'scheduled',$${b + 9})`);
      params.push(action.id, action.ref, pack.releaseId, pack.digest, JSON.stringify(snapshot), JSON.stringify(config), it.envVars ? JSON.stringify(it.envVars) : null, workerId, it.timeoutSec ?? null);
    }
    const res = await pool.query<{ id: string; action_ref: string }>(
      `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
       VALUES ${values.join(',')} RETURNING id, action_ref`,
      params,
    );
    for (const r of res.rows) out.push({ id: Number(r.id), actionRef: r.action_ref });
    for (let i = 0; i < batch.length; i++) {
      const secrets = batch[i]?.secrets ?? {};
      const id = out[start + i]?.id as number;
      for (const [name, value] of Object.entries(secrets)) {
        if (!opts.encryptionKey) throw new Error('secrets need an encryptionKey');
        const key = opts.encryptionKey;
        await pool.query(
          `INSERT INTO execution_secret_value (entity_type, entity_id, json_path, source_kind, encrypted_value, encryption_key_hash)
           VALUES ('execution_config', $1, $2, 'parameter_schema', $3, $4)`,
          [id, `/${name}`, JSON.stringify(encryptJsonValue(value, key)), encryptionKeyHash(key)],
        );
      }
    }
  }
  return out;
}
