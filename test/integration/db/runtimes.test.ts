import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { captureChildBaseEnv } from '../../../src/execution/child-env';
import { listAllRuntimes } from '../../../src/db/queries/list-all-runtimes';
import { listRuntimes } from '../../../src/db/queries/list-runtimes';
import { getRuntimeByRef } from '../../../src/db/queries/get-runtime-by-ref';
import { listRuntimeVersionsForRuntime } from '../../../src/db/queries/list-runtime-versions-for-runtime';
import { withTransaction } from '../../../src/db/tx';
import { autoRegisterDetectedRuntimes } from '../../../src/worker/dynamic-runtimes';
import { detectAvailableRuntimeNames } from '../../../src/worker/verification-commands';
import { buildVerifiedRuntimeVersions, verifyAllRuntimeVersions } from '../../../src/worker/version-verify';
import { createTestDatabase, type TestDatabase } from '../../support/db';

const log = createSilentLogger();
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe('dynamic runtime registration', () => {
  it('inserts nothing when the catalog already covers every detected interpreter', async () => {
    const n = await autoRegisterDetectedRuntimes(
      db.pool,
      [
        { name: 'shell', path: '/bin/bash', version: '5.2.15' },
        { name: 'python', path: '/usr/bin/python3', version: '3.11.2' },
        { name: 'node', path: '/usr/bin/node', version: '20.1.0' },
        { name: 'r', path: '/usr/bin/Rscript', version: null },
      ],
      log,
    );
    expect(n).toBe(0);
    const auto = await db.pool.query("SELECT ref FROM runtime WHERE ref LIKE 'auto.%'");
    expect(auto.rowCount).toBe(0);
  });

  it('inserts a minimal auto.<name> row only for an unknown runtime, once', async () => {
    const detected = [
      { name: 'shell', path: '/bin/bash', version: '5.2.15' },
      { name: 'fortran', path: '/opt/gcc/bin/gfortran', version: '12.2.0' },
    ];
    expect(await autoRegisterDetectedRuntimes(db.pool, detected, log)).toBe(1);
    expect(await autoRegisterDetectedRuntimes(db.pool, detected, log)).toBe(0);
    const row = await db.pool.query("SELECT * FROM runtime WHERE ref = 'auto.fortran'");
    expect(row.rows[0]).toMatchObject({
      ref: 'auto.fortran',
      pack: null,
      pack_ref: null,
      description: 'Auto-detected fortran runtime at /opt/gcc/bin/gfortran',
      name: 'Fortran',
      aliases: ['fortran'],
      distributions: { verification: { commands: [{ binary: '/opt/gcc/bin/gfortran', args: ['--version'], exit_code: 0, priority: 1 }] } },
      installation: null,
      installers: {},
      execution_config: { interpreter: { binary: '/opt/gcc/bin/gfortran', args: [] } },
      auto_detected: true,
      detection_config: { detected_path: '/opt/gcc/bin/gfortran', detected_name: 'fortran', detected_version: '12.2.0' },
      management_origin: 'ad_hoc',
      catalog_revision: null,
    });
  });

  it('uses the core.<name> template when the catalog row is retired', async () => {
    await withTransaction(db.pool, async (tx) => {
      // Catalog reconciliation is the only writer allowed to retire platform rows.
      await tx.query("SELECT set_config('attune.catalog_write', 'on', true)");
      await tx.query("UPDATE runtime SET retired_at = NOW() WHERE ref = 'core.ruby'");
    });
    expect((await listRuntimes(db.pool)).some((r) => r.ref === 'core.ruby')).toBe(false);
    expect(await autoRegisterDetectedRuntimes(db.pool, [{ name: 'ruby', path: '/usr/local/bin/ruby', version: null }], log)).toBe(1);
    const auto = await getRuntimeByRef(db.pool, 'auto.ruby');
    expect(auto).toMatchObject({
      name: 'Ruby',
      aliases: ['ruby', 'rb'],
      description: 'Auto-detected ruby runtime (from template core.ruby)',
      installers: {},
      autoDetected: true,
      detectionConfig: { detected_path: '/usr/local/bin/ruby', detected_name: 'ruby' },
    });
    expect(auto!.executionConfig.interpreter).toEqual({ binary: '/usr/local/bin/ruby', args: [], file_extension: '.rb' });
    // interpreter_path null in the template stays null (only literal paths are replaced)
    expect((auto!.executionConfig.environment as Record<string, unknown>).interpreter_path).toBeNull();
    // list-all-runtimes still sees the retired row; list-runtimes does not.
    expect((await listAllRuntimes(db.pool)).some((r) => r.ref === 'core.ruby')).toBe(true);
  });
});

describe('runtime verification against the seeded catalog', () => {
  const childEnv = captureChildBaseEnv(process.env, []);

  it('tier 3 detection finds shell (always available), native, and node on this machine', async () => {
    const names = await detectAvailableRuntimeNames(await listAllRuntimes(db.pool), { childEnv });
    expect(names).toContain('shell');
    expect(names).toContain('native');
    expect(names).toContain('node.js');
    expect(names).not.toContain('fortran'); // its verification binary does not exist
  });

  it('verifyAllRuntimeVersions writes available/verified_at for the filtered versions only', async () => {
    const results = await verifyAllRuntimeVersions(db.pool, { childEnv, filter: ['node'], log });
    expect(results.map((r) => `${r.runtimeRef}@${r.version}`)).toEqual(['core.nodejs@18', 'core.nodejs@20', 'core.nodejs@22']);
    const major = process.versions.node.split('.')[0];
    for (const r of results) expect(r.available).toBe(r.version === major);

    const nodejs = await getRuntimeByRef(db.pool, 'core.nodejs');
    const rows = await listRuntimeVersionsForRuntime(db.pool, nodejs!.id);
    expect(rows.map((r) => r.version)).toEqual(['22', '20', '18']);
    for (const row of rows) {
      expect(row.verifiedAt).not.toBeNull();
      expect(row.available).toBe(row.version === major);
    }
    const python = await db.pool.query("SELECT bool_and(verified_at IS NULL) AS untouched FROM runtime_version WHERE runtime_ref = 'core.python'");
    expect(python.rows[0].untouched).toBe(true);
    expect(buildVerifiedRuntimeVersions(results)).toEqual({ node: [major] });
  });
});
