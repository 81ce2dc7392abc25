import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runWait, type WaitConfig } from '../../../src/commands/wait';
import type { DatabaseConfig } from '../../../src/config/types';
import type { Queryable } from '../../../src/db/rows';

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

let root: string;
let config: WaitConfig;

function dbConfig(url: string): DatabaseConfig {
  return { url, schema: 'attune', maxConnections: 1, minConnections: 0, connectTimeoutSec: 5, idleTimeoutSec: 1, logStatements: false };
}

/** A stand-in for PostgreSQL answering the to_regclass probe from a script of answers. */
function scriptedDb(answers: Array<boolean | Error>): Queryable & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    async query(text: string, values?: unknown[]) {
      expect(text).toContain('to_regclass');
      calls.push(values ?? []);
      const next = answers.length > 1 ? answers.shift() : answers[0];
      if (next instanceof Error) throw next;
      return { rows: [{ present: next }], rowCount: 1 };
    },
  };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'attune-wait-'));
  config = {
    packsBaseDir: join(root, 'packs'),
    database: dbConfig('postgresql://attune:s3cret@db.example:5432/attune'),
  };
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('runWait packs', () => {
  it('returns 0 soon after core/pack.yaml appears under packs_base_dir', async () => {
    const err = sink();
    setTimeout(() => {
      void fs.mkdir(join(root, 'packs', 'core'), { recursive: true }).then(() =>
        fs.writeFile(join(root, 'packs', 'core', 'pack.yaml'), 'ref: core\n'),
      );
    }, 1000);
    const started = Date.now();

    const code = await runWait({ what: 'packs', timeoutSec: 10, intervalSec: 0.2, config, stderr: err });

    expect(code).toBe(0);
    // Generous bound from the task: the file appears at ~1 s, the wait must end within ~2 s.
    expect(Date.now() - started).toBeLessThan(2500);
    expect(err.text()).toContain(`waiting for file ${join(root, 'packs', 'core', 'pack.yaml')}`);
    expect(err.text()).toMatch(/is ready \(after \d+\.\ds\)/);
  });

  it('returns 1 on timeout and names the missing file and the config key', async () => {
    const err = sink();

    const code = await runWait({ what: 'packs', timeoutSec: 1, intervalSec: 0.2, config, stderr: err });

    expect(code).toBe(1);
    const text = err.text();
    expect(text).toContain(`Error: timed out after 1s waiting for file ${join(root, 'packs', 'core', 'pack.yaml')}`);
    expect(text).toContain('does not exist yet');
    expect(text).toContain('ATTUNE__PACKS_BASE_DIR');
  });

  it('does not accept a directory in place of the file', async () => {
    await fs.mkdir(join(root, 'packs', 'core', 'pack.yaml'), { recursive: true });
    const err = sink();

    const code = await runWait({ what: 'packs', timeoutSec: 0.5, intervalSec: 0.1, config, stderr: err });

    expect(code).toBe(1);
    expect(err.text()).toContain('is not a regular file');
  });

  it('waits for the --path file instead of the core pack when given', async () => {
    const custom = join(root, 'other', 'ready.flag');
    await fs.mkdir(join(root, 'other'));
    await fs.writeFile(custom, '');

    const code = await runWait({ what: 'packs', path: custom, timeoutSec: 1, intervalSec: 0.1, config, stderr: sink() });

    expect(code).toBe(0);
  });

  it('prints progress lines no more often than progressEverySec', async () => {
    const err = sink();

    await runWait({ what: 'packs', timeoutSec: 1.2, intervalSec: 0.1, progressEverySec: 0.5, config, stderr: err });

    const progress = err.text().split('\n').filter((l) => l.startsWith('wait: waiting for'));
    // About 11 checks happen; at most one line per 0.5 s may be printed (≈3).
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(4);
  });

  it('stops early with 1 when the signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const err = sink();
    const started = Date.now();

    const code = await runWait({ what: 'packs', timeoutSec: 30, intervalSec: 5, config, stderr: err, signal: ac.signal });

    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.text()).toContain('interrupted');
  });
});

describe('runWait schema', () => {
  it('keeps probing attune.identity until it exists, through connection errors', async () => {
    const db = scriptedDb([new Error('connect ECONNREFUSED 10.0.0.5:5432'), false, true]);
    const err = sink();

    const code = await runWait({
      what: 'schema',
      timeoutSec: 10,
      intervalSec: 0.05,
      progressEverySec: 0,
      config,
      stderr: err,
      schemaDb: db,
    });

    expect(code).toBe(0);
    expect(db.calls).toHaveLength(3);
    expect(db.calls[0]).toEqual(['attune', 'identity']);
    expect(err.text()).toContain('ECONNREFUSED');
    expect(err.text()).toContain('wait: table attune.identity in db.example:5432/attune is ready');
  });

  it('returns 1 on timeout naming the missing table and the config keys, without the password', async () => {
    const err = sink();

    const code = await runWait({
      what: 'schema',
      timeoutSec: 0.3,
      intervalSec: 0.05,
      config,
      stderr: err,
      schemaDb: scriptedDb([false]),
    });

    expect(code).toBe(1);
    const text = err.text();
    expect(text).toMatch(/^Error: Attune schema not found in .*: table attune\.identity does not exist after/m);
    expect(text).toContain('ATTUNE__DATABASE__URL');
    expect(text).toContain('ATTUNE__DATABASE__SCHEMA, now "attune"');
    expect(text).not.toContain('s3cret');
  });
});
