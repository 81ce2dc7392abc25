import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

import { runWait, type WaitConfig } from '../../../src/commands/wait';
import type { DatabaseConfig } from '../../../src/config/types';

// Real PostgreSQL: the schema probe behind `attune-agent wait schema` (spec 05 §4.2 wait-for-schema).
const ADMIN_URL = process.env.ATTUNE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `attune_wait_${randomBytes(4).toString('hex')}`;

function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function dbConfig(url: string): DatabaseConfig {
  return { url, schema: 'attune', maxConnections: 1, minConnections: 0, connectTimeoutSec: 5, idleTimeoutSec: 1, logStatements: false };
}

function sink(): { write(s: string): boolean; text(): string } {
  let buf = '';
  return {
    write(s: string) {
      buf += s;
      return true;
    },
    text: () => buf,
  };
}

beforeAll(async () => {
  try {
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
  } catch (e) {
    throw new Error(`PostgreSQL is required at ${ADMIN_URL} (set ATTUNE_TEST_DATABASE_URL): ${(e as Error).message}`);
  }
});

afterAll(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
});

describe('wait schema against PostgreSQL', () => {
  it('times out with 1 while the database has no attune.identity table', async () => {
    const err = sink();
    const config: WaitConfig = { packsBaseDir: '/nonexistent', database: dbConfig(urlFor(dbName)) };

    const code = await runWait({ what: 'schema', timeoutSec: 1, intervalSec: 0.2, config, stderr: err });

    expect(code).toBe(1);
    expect(err.text()).toMatch(/Error: Attune schema not found in 127\.0\.0\.1:5432\/attune_wait_[0-9a-f]+: table attune\.identity does not exist after/);
    expect(err.text()).toContain('ATTUNE__DATABASE__URL');
  });

  it('returns 0 once the migrations create attune.identity', async () => {
    const err = sink();
    const config: WaitConfig = { packsBaseDir: '/nonexistent', database: dbConfig(urlFor(dbName)) };
    const migrate = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        admin(async (c) => {
          await c.query('CREATE SCHEMA attune');
          await c.query('CREATE TABLE attune.identity (id int)');
        }, urlFor(dbName)).then(resolve, reject);
      }, 1000);
    });

    const code = await runWait({ what: 'schema', timeoutSec: 20, intervalSec: 0.2, progressEverySec: 0.2, config, stderr: err });
    await migrate;

    expect(code).toBe(0);
    expect(err.text()).toContain('table attune.identity does not exist yet');
    expect(err.text()).toContain(`table attune.identity in 127.0.0.1:5432/${dbName} is ready`);
  });

  it('keeps retrying an unreachable server and reports the connection error on timeout', async () => {
    const err = sink();
    const config: WaitConfig = {
      packsBaseDir: '/nonexistent',
      database: dbConfig('postgresql://attune:hunter2@127.0.0.1:1/attune'),
    };

    const code = await runWait({ what: 'schema', timeoutSec: 1, intervalSec: 0.2, config, stderr: err });

    expect(code).toBe(1);
    expect(err.text()).toMatch(/Error: Cannot check for the Attune schema in 127\.0\.0\.1:1\/attune after \d+s: .*ECONNREFUSED/);
    expect(err.text()).not.toContain('hunter2');
  });
});
