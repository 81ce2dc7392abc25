import * as net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../../scripts/apply-schema.mjs';
import { AgentError } from '../../../src/errors';
import { createLogger, createSilentLogger } from '../../../src/log';
import { checkPlatformCatalog, connectWithRetry } from '../../../src/db/pool';
import { waitForSchema } from '../../../src/db/ready';
import { createTestDatabase, testDatabaseConfig, type TestDatabase } from '../../support/db';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', format: 'json', destination }), lines, raw };
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe('connectWithRetry', () => {
  it('retries an unreachable server, then fails with DB_UNREACHABLE naming host:port/db, within the timeout', async () => {
    const port = await unusedPort();
    const { log, lines, raw } = captureLogger();
    const cfg = testDatabaseConfig(`postgresql://postgres:sekret-pw@127.0.0.1:${port}/attune_nowhere`);
    const started = Date.now();
    const err = await connectWithRetry(cfg, { timeoutMs: 1500, log, initialDelayMs: 50, maxDelayMs: 200 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;

    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('DB_UNREACHABLE');
    const message = (err as AgentError).message;
    const m = message.match(new RegExp(`^Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/attune_nowhere after (\\d+) attempts over ([\\d.]+)s: .*ECONNREFUSED`));
    expect(m, message).not.toBeNull();
    const attempts = Number(m![1]);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(1500 + 2000);

    const retries = lines.filter((l) => l.msg === 'PostgreSQL not reachable yet; retrying');
    expect(retries).toHaveLength(attempts - 1);
    expect(retries[0]).toMatchObject({ level: 'warn', target: `127.0.0.1:${port}/attune_nowhere`, attempt: 1 });
    expect(message).not.toContain('sekret-pw');
    expect(raw.join('\n')).not.toContain('sekret-pw');
  });

  it('makes a single attempt when the timeout is 0 (upstream behaviour)', async () => {
    const port = await unusedPort();
    const err = await connectWithRetry(testDatabaseConfig(`postgresql://postgres@127.0.0.1:${port}/x`), {
      timeoutMs: 0,
      log: createSilentLogger(),
    }).catch((e: unknown) => e);
    expect((err as AgentError).message).toMatch(/ after 1 attempt over /);
  });

  it('returns a working pool whose connections use search_path attune, public and application_name attune:attune', async () => {
    const pool = await connectWithRetry(db.config, { timeoutMs: 5000, log: createSilentLogger() });
    try {
      const res = await pool.query("SELECT current_setting('search_path') AS sp, current_setting('application_name') AS app");
      expect(res.rows[0]).toEqual({ sp: 'attune, public', app: 'attune:attune' });
      const w = await pool.query('SELECT count(*)::int AS n FROM worker');
      expect(w.rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('stores large values with lz4 where the server has it, and with the server default when told not to', async () => {
    // Debian's PostgreSQL 15 (this machine's) is built with lz4: the premise of the test.
    const support = await db.pool.query("SELECT 'lz4' = ANY (enumvals) AS lz4, reset_val FROM pg_settings WHERE name = 'default_toast_compression'");
    expect(support.rows[0]).toEqual({ lz4: true, reset_val: 'pglz' });
    const big = JSON.stringify({ stdout: 'x'.repeat(1 << 20) });
    for (const [lz4Toast, expected] of [
      [undefined, 'lz4'],
      [false, 'pglz'],
    ] as const) {
      const pool = await connectWithRetry(db.config, { timeoutMs: 5000, log: createSilentLogger(), poolOptions: lz4Toast === undefined ? {} : { lz4Toast } });
      const client = await pool.connect();
      try {
        const res = await client.query("SELECT current_setting('default_toast_compression') AS c, current_setting('search_path') AS sp");
        expect(res.rows[0]).toEqual({ c: expected, sp: 'attune, public' });
        await client.query('CREATE TEMP TABLE big (v jsonb)');
        await client.query('INSERT INTO big VALUES ($1::jsonb)', [big]);
        const stored = await client.query('SELECT pg_column_compression(v) AS c, v = $1::jsonb AS same FROM big', [big]);
        expect(stored.rows[0]).toEqual({ c: expected, same: true });
      } finally {
        client.release();
        await pool.end();
      }
    }
  });

  it('fails with DB_INCOMPATIBLE and the upstream message when the catalog revision is 2', async () => {
    await db.pool.query('UPDATE platform_catalog_state SET revision = 2');
    try {
      const err = await connectWithRetry(db.config, { timeoutMs: 5000, log: createSilentLogger() }).catch((e: unknown) => e);
      expect((err as AgentError).code).toBe('DB_INCOMPATIBLE');
      expect((err as AgentError).message).toBe(
        'Unsupported platform catalog epoch/revision 1/2; binary supports 1/1. Use a compatible deployment; do not downgrade the catalog.',
      );
    } finally {
      await db.pool.query('UPDATE platform_catalog_state SET revision = 1');
    }
  });

  it('rejects another compatibility epoch and accepts an older revision', async () => {
    await db.pool.query('UPDATE platform_catalog_state SET compatibility_epoch = 2, revision = 0');
    await expect(checkPlatformCatalog(db.pool)).rejects.toThrow(/epoch\/revision 2\/0/);
    await db.pool.query('UPDATE platform_catalog_state SET compatibility_epoch = 1, revision = 0');
    await expect(checkPlatformCatalog(db.pool)).resolves.toBeUndefined();
    await db.pool.query('UPDATE platform_catalog_state SET revision = 1');
  });

  it('skips the epoch check on a pre-catalog database (no platform_catalog_state)', async () => {
    const bare = await createTestDatabase({ withSchema: false });
    try {
      await bare.pool.query('CREATE SCHEMA attune');
      await expect(checkPlatformCatalog(bare.pool)).resolves.toBeUndefined();
    } finally {
      await bare.drop();
    }
  });
});

describe('waitForSchema', () => {
  it('times out with DB_SCHEMA_MISSING on an empty database, reporting progress', async () => {
    const empty = await createTestDatabase({ withSchema: false });
    try {
      const progress: string[] = [];
      const err = await waitForSchema(empty.config, {
        schema: 'attune',
        timeoutMs: 600,
        intervalMs: 50,
        progressEveryMs: 100,
        onProgress: (m) => progress.push(m),
      }).catch((e: unknown) => e);
      expect((err as AgentError).code).toBe('DB_SCHEMA_MISSING');
      expect((err as AgentError).message).toContain(`table attune.identity does not exist after`);
      expect((err as AgentError).message).toContain(`/${empty.name}`);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress[0]).toContain('table attune.identity does not exist yet');
    } finally {
      await empty.drop();
    }
  });

  it('resolves once the schema is applied while waiting', async () => {
    const empty = await createTestDatabase({ withSchema: false });
    try {
      let resolved = false;
      const waiting = waitForSchema(empty.pool, { schema: 'attune', timeoutMs: 30_000, intervalMs: 50 }).then(() => {
        resolved = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(resolved).toBe(false);
      // identity is created by the first file, like upstream's probe only proves migration 3 ran.
      await applySchema({ url: empty.url });
      await waiting;
      expect(resolved).toBe(true);
    } finally {
      await empty.drop();
    }
  });

  it('reports DB_UNREACHABLE when it never reached the server', async () => {
    const port = await unusedPort();
    const err = await waitForSchema(testDatabaseConfig(`postgresql://postgres@127.0.0.1:${port}/x`), {
      schema: 'attune',
      timeoutMs: 300,
      intervalMs: 50,
    }).catch((e: unknown) => e);
    expect((err as AgentError).code).toBe('DB_UNREACHABLE');
    expect((err as AgentError).message).toContain(`127.0.0.1:${port}/x`);
  });

  it('quotes odd schema names safely', async () => {
    const err = await waitForSchema(db.pool, { schema: `we"ird'; DROP TABLE worker; --`, timeoutMs: 100, intervalMs: 20 }).catch(
      (e: unknown) => e,
    );
    expect((err as AgentError).code).toBe('DB_SCHEMA_MISSING');
    const still = await db.pool.query('SELECT count(*)::int AS n FROM worker');
    expect(still.rows[0].n).toBe(0);
  });
});
