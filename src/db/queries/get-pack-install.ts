import type { Queryable } from '../rows';
import { mapPackInstallRow, PACK_INSTALL_COLUMNS, type PackInstallRow } from '../models/pack-install';

// spec 07 §1.2 step 2: the install a pack-test delivery names.
export const GET_PACK_INSTALL_SQL = `
SELECT ${PACK_INSTALL_COLUMNS}
FROM pack_install
WHERE id = $1::bigint`;

export async function getPackInstall(db: Queryable, id: number): Promise<PackInstallRow | null> {
  const res = await db.query(GET_PACK_INSTALL_SQL, [id]);
  return res.rows[0] ? mapPackInstallRow(res.rows[0]) : null;
}
