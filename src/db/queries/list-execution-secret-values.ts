import type { Queryable } from '../rows';
import {
  EXECUTION_SECRET_VALUE_COLUMNS,
  mapExecutionSecretValueRow,
  type ExecutionSecretValueRow,
  type SecretEntityType,
} from '../models/execution-secret-value';

// spec 04 §6.2: rows for (entity_type, entity_id) in json_path order, so parent pointers are
// restored before their children.
export const LIST_EXECUTION_SECRET_VALUES_SQL = `
SELECT ${EXECUTION_SECRET_VALUE_COLUMNS}
FROM execution_secret_value
WHERE entity_type = $1::text
  AND entity_id = $2::bigint
ORDER BY json_path`;

export async function listExecutionSecretValues(
  db: Queryable,
  entityType: SecretEntityType,
  entityId: number,
): Promise<ExecutionSecretValueRow[]> {
  const res = await db.query(LIST_EXECUTION_SECRET_VALUES_SQL, [entityType, entityId]);
  return res.rows.map(mapExecutionSecretValueRow);
}
