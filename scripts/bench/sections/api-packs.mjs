// 7. API pack transport (issue 15): per-execution latency of a pinned release over the Attune
// API, dispatch → ExecutionCompleted, one at a time. Cold = every execution pinned to a release
// this agent has not seen (download, SHA-256 check, unpack, publish, then run); warm = the same
// release again (cache hit). Object = the chart's `storage.mode: object`, warm cache: the same
// release, and the log streams uploaded as segments and sealed through the API too (the volume
// runs seal through it as well). The API is scripts/lib/fake-api.mjs (seal, segments, which
// update PostgreSQL as the real API does) with a minimal
// GET /api/v1/internal/pack-releases/{id}/archive mounted on it (HS256 worker token checked,
// spec 06 §6.2); the test suite's archive route is TypeScript, not loadable here.
import { createHash, createHmac } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { FakeAttuneApi } from '../../lib/fake-api.mjs';
import { join } from 'node:path';
import { create as tarCreate } from 'tar';
import { BENCH_JWT_SECRET, startReadyAgent } from '../lib/agent.mjs';
import { BENCH_PACK, NOOP_ACTION } from '../lib/harness.mjs';
import { now, progress, round, summary } from '../lib/util.mjs';

async function startArchiveApi(ctx) {
  const releases = new Map();
  let requests = 0;
  const fake = new FakeAttuneApi({ jwtSecret: BENCH_JWT_SECRET, databaseUrl: ctx.databaseUrl, artifactsDir: join(ctx.work, 'artifacts') });
  fake.mount((req, res) => {
    const m = /^\/api\/v1\/internal\/pack-releases\/(\d+)\/archive$/.exec(req.url ?? '');
    if (!m) return false;
    const auth = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(req.headers.authorization ?? '');
    const signed = auth && createHmac('sha256', BENCH_JWT_SECRET).update(`${auth[1]}.${auth[2]}`).digest('base64url') === auth[3];
    const release = releases.get(Number(m[1]));
    if (!release || !signed) {
      res.writeHead(release ? 401 : 404).end();
      return true;
    }
    requests++;
    res.writeHead(200, {
      'content-type': 'application/gzip',
      'content-length': release.bytes.length,
      'x-attune-pack-release-id': m[1],
      'x-attune-pack-release-sha256': release.digest,
    });
    res.end(release.bytes);
    return true;
  });
  await fake.start();
  return { url: fake.url, releases, requests: () => requests, segments: () => fake.requestsTo(/\/segments\/\d+$/).length, close: () => fake.close() };
}

export async function benchApiPacks(ctx) {
  const n = ctx.quick ? 5 : 30;
  progress(`api packs: ${n} cold-cache + ${n} warm-cache + ${n} object-mode sequential executions of a pinned release over the API`);
  const api = await startArchiveApi(ctx);
  // The bench pack as the API stores it: a gzip tar whose entries start with `<pack_ref>/`.
  const src = join(ctx.work, 'api-pack-src');
  cpSync(ctx.pack.dir, join(src, BENCH_PACK), { recursive: true });
  const pack = (await ctx.harness.cp.query('SELECT id FROM pack WHERE ref = $1', [BENCH_PACK])).rows[0];
  let seq = 0;
  let archiveBytes = 0;
  const newRelease = async () => {
    seq++;
    writeFileSync(join(src, BENCH_PACK, 'release.txt'), `bench release ${seq}\n`);
    const file = join(ctx.work, `api-release-${seq}.tar.gz`);
    tarCreate({ gzip: true, file, cwd: src, sync: true, portable: true }, [BENCH_PACK]);
    const bytes = readFileSync(file);
    archiveBytes = bytes.length;
    const digest = createHash('sha256').update(bytes).digest('hex');
    const row = (
      await ctx.harness.cp.query(
        `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
         VALUES ($1, $2, $3, $4, $5, $6, '{}'::jsonb) RETURNING id`,
        [pack.id, BENCH_PACK, `9.0.${seq}`, digest, `/api-only/${digest}`, bytes.length],
      )
    ).rows[0];
    await ctx.harness.cp.query('UPDATE pack SET active_release = $2 WHERE id = $1', [pack.id, row.id]);
    api.releases.set(Number(row.id), { bytes, digest });
  };

  const packsDir = join(ctx.work, 'api-packs-cache');
  mkdirSync(packsDir, { recursive: true });
  await newRelease(); // the start-up sync fetches this one
  const extraEnv = { ATTUNE__PACKS__TRANSPORT: 'api', ATTUNE_API_URL: api.url, ATTUNE__PACKS_BASE_DIR: packsDir };
  let { agent } = await startReadyAgent(ctx, { tag: 'apipacks', maxConcurrent: 1, extraEnv });
  const runOne = async () => {
    const [ex] = await ctx.harness.createExecutions(NOOP_ACTION, agent.workerId, 1);
    const t0 = now();
    await ctx.harness.dispatch(ex, agent.workerId);
    const done = await ctx.harness.waitCompleted(ex.id, 120_000);
    if (done.status !== 'Completed') throw new Error(`execution ${ex.id} ended ${done.status}; agent log: ${agent.logPath}`);
    return done.at - t0;
  };
  const cold = [];
  const warm = [];
  const object = [];
  let segments = 0;
  try {
    await runOne(); // warm-up (JIT, runtime lookup) on the start-up-synced release
    for (let i = 0; i < n; i++) {
      await newRelease();
      cold.push(await runOne());
    }
    for (let i = 0; i < n; i++) warm.push(await runOne());
    await agent.stop();
    ({ agent } = await startReadyAgent(ctx, { tag: 'objectmode', maxConcurrent: 1, extraEnv: { ...extraEnv, ATTUNE__ARTIFACTS__TRANSPORT: 'api' } }));
    await runOne();
    const before = api.segments();
    for (let i = 0; i < n; i++) object.push(await runOne());
    segments = api.segments() - before;
  } finally {
    await agent.stop();
    await api.close();
  }
  const requests = api.requests();
  const coldStats = summary(cold);
  const warmStats = summary(warm);
  const objectStats = summary(object);
  return {
    executions: n,
    archiveBytes,
    downloads: requests,
    coldMs: coldStats,
    warmMs: warmStats,
    diffMs: { p50: round(coldStats.p50 - warmStats.p50), p95: round(coldStats.p95 - warmStats.p95) },
    objectMs: objectStats,
    objectSegments: segments,
  };
}
