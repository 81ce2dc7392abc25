/**
 * Fixtures for the pack lifecycle consumers (pack tests, pack events, metadata) driven
 * in-process: a Config for a temp work dir, a pack with an active release on disk and in the
 * database, a pack_install row, and deliveries built from upstream-shaped envelopes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import type { Queryable } from '../../src/db/rows';
import type { Delivery } from '../../src/mq/consumer';

export interface WorkDirs {
  root: string;
  packsDir: string;
  runtimeEnvsDir: string;
  artifactsDir: string;
}

export function makeWorkDirs(prefix = 'attune-packs-'): WorkDirs {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dirs = { root, packsDir: join(root, 'packs'), runtimeEnvsDir: join(root, 'runtime_envs'), artifactsDir: join(root, 'artifacts') };
  for (const d of [dirs.packsDir, dirs.runtimeEnvsDir, dirs.artifactsDir]) mkdirSync(d, { recursive: true });
  return dirs;
}

/** The agent's Config for `dirs`, through the real loader (env only, no files). */
export function makeConfig(dirs: WorkDirs, databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      ATTUNE__DATABASE__URL: databaseUrl,
      ATTUNE__MESSAGE_QUEUE__URL: 'amqp://guest:guest@127.0.0.1:5672/',
      ATTUNE__PACKS_BASE_DIR: dirs.packsDir,
      ATTUNE__RUNTIME_ENVS_DIR: dirs.runtimeEnvsDir,
      ATTUNE__ARTIFACTS_DIR: dirs.artifactsDir,
      ATTUNE__PACKS__TRANSPORT: 'volume',
      ...env,
    },
    cwd: dirs.root,
    readFile: () => {
      throw new Error('ENOENT');
    },
    fileExists: () => false,
  }).config;
}

/** Write `{packs}/.releases/sha256/<digest>/pack` with pack.yaml + files; returns the pack dir and digest. */
export function writeReleasePack(packsDir: string, manifest: Record<string, unknown>, files: Record<string, string> = {}): { packDir: string; digest: string } {
  const digest = createHash('sha256').update(JSON.stringify({ manifest, files, salt: Math.random() })).digest('hex');
  const packDir = join(packsDir, '.releases', 'sha256', digest, 'pack');
  writePackDir(packDir, manifest, files);
  return { packDir, digest };
}

export function writePackDir(packDir: string, manifest: Record<string, unknown>, files: Record<string, string> = {}): void {
  mkdirSync(packDir, { recursive: true });
  writeFileSync(join(packDir, 'pack.yaml'), toYaml(manifest));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(packDir, rel, '..'), { recursive: true });
    writeFileSync(join(packDir, rel), text, { mode: 0o755 });
  }
}

/** `pack` + `pack_release` rows with the release active; returns ids. */
export async function insertPackWithRelease(db: Queryable, ref: string, version: string, digest: string, contentPath: string): Promise<{ packId: number; releaseId: number }> {
  const pack = await db.query('INSERT INTO pack (ref, label, version) VALUES ($1, $1, $2) RETURNING id', [ref, version]);
  const packId = Number(pack.rows[0].id);
  const rel = await db.query(
    `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
     VALUES ($1, $2, $3, $4, $5, 1, '{}'::jsonb) RETURNING id`,
    [packId, ref, version, digest, contentPath],
  );
  const releaseId = Number(rel.rows[0].id);
  await db.query('UPDATE pack SET active_release = $2 WHERE id = $1', [packId, releaseId]);
  return { packId, releaseId };
}

export interface InstallRowInput {
  packRef: string;
  packVersion: string;
  triggerReason?: string;
  status?: string;
  packId?: number | null;
  assignedWorkerId?: number | null;
  candidateAccessTokenHash?: string | null;
}

export async function insertPackInstall(db: Queryable, i: InstallRowInput): Promise<number> {
  const res = await db.query(
    `INSERT INTO pack_install (pack_ref, pack_version, status, trigger_reason, pack_id, assigned_worker_id, candidate_access_token_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [i.packRef, i.packVersion, i.status ?? 'running', i.triggerReason ?? 'install', i.packId ?? null, i.assignedWorkerId ?? null, i.candidateAccessTokenHash ?? null],
  );
  return Number(res.rows[0].id);
}

/** An envelope as upstream producers write it (spec 02 §3.1). */
export function envelopeOf(messageType: string, payload: unknown, sourceService = 'executor'): Record<string, unknown> {
  return {
    message_id: '7d3c7a2e-5a37-4c43-9d1c-0e4c1f1b2a01',
    correlation_id: '7d3c7a2e-5a37-4c43-9d1c-0e4c1f1b2a01',
    message_type: messageType,
    version: '1.0',
    timestamp: new Date().toISOString(),
    headers: { retry_count: 0, source_service: sourceService },
    payload,
  };
}

export function deliveryOf(body: unknown, routingKey = 'test'): Delivery {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { body: buf, redelivered: false, deliveryTag: 1, routingKey, exchange: 'attune.test' };
}
