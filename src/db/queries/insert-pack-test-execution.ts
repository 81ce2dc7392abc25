import { jsonParam, toId, type Queryable } from '../rows';

// spec 07 §1.4 row 1 (upstream `PackTestRepository::create`).
export const INSERT_PACK_TEST_EXECUTION_SQL = `
INSERT INTO pack_test_execution
  (pack_id, pack_version, execution_time, trigger_reason, total_tests, passed, failed, skipped, pass_rate, duration_ms, result)
VALUES ($1::bigint, $2::text, $3::timestamptz, $4::text, $5::int, $6::int, $7::int, $8::int, $9::float8, $10::bigint, $11::jsonb)
RETURNING id`;

export interface InsertPackTestExecutionInput {
  packId: number;
  packVersion: string;
  executionTime: string;
  triggerReason: string;
  totalTests: number;
  passed: number;
  failed: number;
  skipped: number;
  passRate: number;
  durationMs: number;
  result: unknown;
}

export async function insertPackTestExecution(db: Queryable, input: InsertPackTestExecutionInput): Promise<number> {
  const res = await db.query(INSERT_PACK_TEST_EXECUTION_SQL, [
    input.packId,
    input.packVersion,
    input.executionTime,
    input.triggerReason,
    input.totalTests,
    input.passed,
    input.failed,
    input.skipped,
    input.passRate,
    input.durationMs,
    jsonParam(input.result),
  ]);
  return toId(res.rows[0].id);
}
