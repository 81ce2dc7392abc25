/**
 * The packs consumer against the real schema (spec 07 §3): PackDeleted's stale-delete guard,
 * advisory lock and path rules (relative, absolute, `..`, symlinked ancestors, release
 * digests), and PackRegistered's coordinated environments (`pack_environment` rows) whose
 * content-addressed dirs a later PackDeleted removes.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types';
import { acquirePackMutationLock } from '../../../src/db/queries/acquire-pack-mutation-lock';
import { withTransaction } from '../../../src/db/tx';
import { PACK_REF_MARKER } from '../../../src/envs';
import { captureChildBaseEnv } from '../../../src/execution/child-env';
import type { Capabilities } from '../../../src/worker/capabilities';
import { createLocalPackCache, RELEASE_READY_MARKER } from '../../../src/worker/pack-cache';
import { PackEvents } from '../../../src/worker/pack-events';
import { createCapturingLogger } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { deliveryOf, envelopeOf, insertPackWithRelease, makeConfig, makeWorkDirs, writeReleasePack, type WorkDirs } from '../../support/pack-fixtures';

let db: TestDatabase;
let dirs: WorkDirs;
let workerId: number;
const cap = createCapturingLogger();
const HEX_A = 'a'.repeat(64);
const HEX_B = 'b'.repeat(64);

function events(config: Config, capabilities: Capabilities = { runtimes: ['shell'] } as unknown as Capabilities): PackEvents {
  return new PackEvents({
    db: db.pool,
    withTransaction: (fn) => withTransaction(db.pool, fn),
    config,
    env: {},
    baseEnv: captureChildBaseEnv(process.env, []),
    workerId,
    runtimeFilter: null,
    capabilities,
    packCache: createLocalPackCache({ packsBaseDir: config.packsBaseDir, transport: config.packsTransport }),
    log: cap.log,
  });
}

const deleted = (packRef: string, extra: Record<string, unknown> = {}) => deliveryOf(envelopeOf('PackDeleted', { pack_id: 99, pack_ref: packRef, ...extra }, 'api'));

function seedEnvs(ref: string): void {
  mkdirSync(join(dirs.runtimeEnvsDir, ref, 'python'), { recursive: true });
  mkdirSync(join(dirs.runtimeEnvsDir, 'other', 'python'), { recursive: true });
  mkdirSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_A), { recursive: true });
  writeFileSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_A, PACK_REF_MARKER), ref);
  mkdirSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_B), { recursive: true });
  writeFileSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_B, PACK_REF_MARKER), 'other');
  mkdirSync(join(dirs.root, 'outside', 'victim'), { recursive: true });
  writeFileSync(join(dirs.root, 'outside', 'victim', 'data'), 'keep');
}

function othersIntact(): void {
  expect(existsSync(join(dirs.runtimeEnvsDir, 'other', 'python'))).toBe(true);
  expect(existsSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_B))).toBe(true);
  expect(readFileSync(join(dirs.root, 'outside', 'victim', 'data'), 'utf8')).toBe('keep');
}

beforeAll(async () => {
  db = await createTestDatabase();
  dirs = makeWorkDirs();
  const w = await db.pool.query("INSERT INTO worker (name, worker_type, worker_role) VALUES ('pack-events-test', 'container', 'action') RETURNING id");
  workerId = Number(w.rows[0].id);
});
afterAll(async () => {
  await db?.drop();
  if (dirs) rmSync(dirs.root, { recursive: true, force: true });
});
beforeEach(() => {
  rmSync(dirs.runtimeEnvsDir, { recursive: true, force: true });
  mkdirSync(dirs.runtimeEnvsDir, { recursive: true });
});

describe('PackDeleted (spec 07 §3.1)', () => {
  it('a pack ref that still exists (reinstalled) is a stale event: acked, nothing removed', async () => {
    const { packDir, digest } = writeReleasePack(dirs.packsDir, { ref: 'alive', version: '1.0.0' });
    await insertPackWithRelease(db.pool, 'alive', '1.0.0', digest, packDir);
    seedEnvs('alive');
    expect(await events(makeConfig(dirs, db.url)).handle(deleted('alive'))).toBe('ack');
    expect(existsSync(join(dirs.runtimeEnvsDir, 'alive', 'python'))).toBe(true);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_A))).toBe(true);
    expect(cap.lines.some((l) => l.msg === 'Ignoring stale pack.deleted event after pack ref was reinstalled' && l.packRef === 'alive')).toBe(true);
  });

  it('removes {root}/<pack>, its marked content-addressed envs and recorded relative paths only', async () => {
    seedEnvs('gone');
    mkdirSync(join(dirs.runtimeEnvsDir, 'shared', 'gone-node-20'), { recursive: true });
    const d = deleted('gone', { runtime_environment_paths: ['shared/gone-node-20'] });
    expect(await events(makeConfig(dirs, db.url)).handle(d)).toBe('ack');
    expect(existsSync(join(dirs.runtimeEnvsDir, 'gone'))).toBe(false);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_A))).toBe(false);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'shared', 'gone-node-20'))).toBe(false);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'shared'))).toBe(true);
    othersIntact();
  });

  it.each([
    ['absolute', () => [join(dirs.root, 'outside', 'victim')], /must be relative/],
    ['`..` out of the root', () => ['../outside/victim'], /outside the runtime root/],
    ['symlinked ancestor out of the root', () => ['escape/victim'], /outside the runtime root/],
    ['too broad', () => ['sha256'], /too broad/],
  ])('%s recorded path: dead-lettered with one error line, nothing removed', async (_n, paths, why) => {
    seedEnvs('gone');
    symlinkSync(join(dirs.root, 'outside'), join(dirs.runtimeEnvsDir, 'escape'));
    const before = cap.lines.length;
    expect(await events(makeConfig(dirs, db.url)).handle(deleted('gone', { runtime_environment_paths: paths() }))).toBe('reject');
    const errors = cap.lines.slice(before).filter((l) => (l.level as number) >= 50);
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.error)).toMatch(why);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'gone', 'python'))).toBe(true);
    expect(existsSync(join(dirs.runtimeEnvsDir, 'sha256', HEX_A))).toBe(true);
    othersIntact();
  });

  it('release digests: the API cache removes marked release trees only; volume keeps everything', async () => {
    const rel = (digest: string, marker: string | null) => {
      const root = join(dirs.packsDir, '.releases', 'sha256', digest);
      mkdirSync(join(root, 'pack'), { recursive: true });
      if (marker !== null) writeFileSync(join(root, RELEASE_READY_MARKER), marker);
      return root;
    };
    const marked = rel(HEX_A, HEX_A);
    const unmarked = rel(HEX_B, null);
    expect(await events(makeConfig(dirs, db.url)).handle(deleted('gone', { release_digests: [HEX_A, HEX_B] }))).toBe('ack');
    expect(existsSync(marked) && existsSync(unmarked)).toBe(true);
    mkdirSync(join(dirs.packsDir, 'gone'), { recursive: true });
    const api = events(makeConfig(dirs, db.url, { ATTUNE__PACKS__TRANSPORT: 'api', ATTUNE_API_URL: 'http://127.0.0.1:1' }));
    expect(await api.handle(deleted('gone', { release_digests: [HEX_A, HEX_B] }))).toBe('ack');
    expect(existsSync(marked)).toBe(false);
    expect(existsSync(unmarked)).toBe(true);
    expect(existsSync(join(dirs.packsDir, 'gone'))).toBe(false);
    expect(await api.handle(deleted('gone', { release_digests: ['../../etc'] }))).toBe('reject');
    expect(await api.handle(deleted('gone', { release_digests: [HEX_A.toUpperCase()] }))).toBe('reject');
  });

  it('waits for the pack-mutation advisory lock held by another service', async () => {
    seedEnvs('locked');
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await acquirePackMutationLock(client, 'locked');
      let settled = false;
      const p = events(makeConfig(dirs, db.url))
        .handle(deleted('locked'))
        .then((d) => {
          settled = true;
          return d;
        });
      await new Promise((r) => setTimeout(r, 400));
      expect(settled).toBe(false);
      expect(existsSync(join(dirs.runtimeEnvsDir, 'locked'))).toBe(true);
      await client.query('COMMIT');
      expect(await p).toBe('ack');
      expect(existsSync(join(dirs.runtimeEnvsDir, 'locked'))).toBe(false);
    } finally {
      client.release();
    }
  });

  it.each([
    ['bad JSON', Buffer.from('{"message_type":'), 'reject'],
    ['missing pack_ref', envelopeOf('PackDeleted', { pack_id: 1 }), 'reject'],
    ['`..` pack ref', envelopeOf('PackDeleted', { pack_id: 1, pack_ref: '..' }), 'reject'],
    ['absolute pack ref', envelopeOf('PackDeleted', { pack_id: 1, pack_ref: '/opt' }), 'reject'],
    ['paths not an array', envelopeOf('PackDeleted', { pack_id: 1, pack_ref: 'x', runtime_environment_paths: 'a/b' }), 'reject'],
    ['unknown pack (nothing on disk)', envelopeOf('PackDeleted', { pack_id: 1, pack_ref: 'never-installed' }), 'ack'],
    ['PackRegistered without version', envelopeOf('PackRegistered', { pack_id: 1, pack_ref: 'x' }), 'reject'],
    ['PackRegistered for an unknown pack', envelopeOf('PackRegistered', { pack_id: 424242, pack_ref: 'ghost', version: '1', runtime_names: [] }), 'ack'],
  ])('%s → %s, nothing outside the runtime root touched', async (_n, body, decision) => {
    seedEnvs('x');
    expect(await events(makeConfig(dirs, db.url)).handle(deliveryOf(body))).toBe(decision);
    othersIntact();
    expect(existsSync(join(dirs.runtimeEnvsDir, 'x', 'python'))).toBe(true);
  });
});

describe('PackRegistered environments (spec 07 §3.2, §5.3)', () => {
  it('builds the content-addressed env with a pack_environment row; PackDeleted later removes it', async () => {
    const rt = await db.pool.query(
      `INSERT INTO runtime (ref, description, name, aliases, distributions, execution_config)
       VALUES ('envpack.mkdir', 'test', 'Mkdir', ARRAY['mkdir'], '{}'::jsonb, $1::jsonb) RETURNING id`,
      [JSON.stringify({ interpreter: { binary: '/bin/sh', file_extension: '.sh' }, environment: { env_type: 'dir', create_command: ['/bin/mkdir', '-p', '{env_dir}/made'] } })],
    );
    const runtimeId = Number(rt.rows[0].id);
    const { packDir, digest } = writeReleasePack(dirs.packsDir, { ref: 'envpack', version: '1.0.0' }, { 'actions/a.sh': 'echo hi\n' });
    const ids = await insertPackWithRelease(db.pool, 'envpack', '1.0.0', digest, packDir);
    await db.pool.query(`INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime) VALUES ('envpack.a', $1, 'envpack', 'a', 'a.sh', $2)`, [ids.packId, runtimeId]);

    const ev = events(makeConfig(dirs, db.url));
    const reg = envelopeOf('PackRegistered', { pack_id: ids.packId, pack_ref: 'envpack', version: '1.0.0', release_id: ids.releaseId, release_digest: digest, runtime_names: [] }, 'api');
    expect(await ev.handle(deliveryOf(reg))).toBe('ack');
    const rows = (await db.pool.query('SELECT * FROM pack_environment WHERE pack = $1', [ids.packId])).rows as Record<string, any>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ pack_ref: 'envpack', runtime_ref: 'envpack.mkdir', status: 'ready', claimed_by_worker: null, install_error: null });
    const envPath = String(rows[0]?.env_path);
    expect(envPath.startsWith(join(dirs.runtimeEnvsDir, 'sha256'))).toBe(true);
    expect(existsSync(join(envPath, 'made'))).toBe(true);
    expect(readFileSync(join(envPath, PACK_REF_MARKER), 'utf8')).toBe('envpack');

    // Registered again: the ready row is reused, nothing rebuilt.
    const updated = rows[0]?.installed_at;
    expect(await ev.handle(deliveryOf(reg))).toBe('ack');
    expect((await db.pool.query('SELECT installed_at FROM pack_environment WHERE pack = $1', [ids.packId])).rows[0].installed_at).toEqual(updated);

    // A release that does not match its row (digest differs) builds nothing.
    const bogus = envelopeOf('PackRegistered', { pack_id: ids.packId, pack_ref: 'envpack', version: '1.0.0', release_id: ids.releaseId, release_digest: 'f'.repeat(64), runtime_names: [] }, 'api');
    const before = cap.lines.length;
    expect(await ev.handle(deliveryOf(bogus))).toBe('ack');
    expect(cap.lines.slice(before).some((l) => l.msg === 'pack.registered release does not match its pack_release row; no environments built')).toBe(true);

    await db.pool.query('DELETE FROM pack WHERE id = $1', [ids.packId]);
    expect(await ev.handle(deleted('envpack'))).toBe('ack');
    expect(existsSync(envPath)).toBe(false);
  });
});
