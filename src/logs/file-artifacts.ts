/**
 * `finalize_file_artifacts` (spec 06 §3.2, upstream `executor.rs` @f3e5d1c), volume transport:
 * files an action wrote under `ATTUNE_ARTIFACTS_DIR` for versions allocated to its execution
 * are published through the API, and the sizes recorded. Every problem is a warning; the
 * execution's status never depends on it. One query when the execution made no file artifact.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import { listExecutionFileArtifacts } from '../db/queries/list-execution-file-artifacts';
import { setArtifactSize } from '../db/queries/set-artifact-size';
import { setArtifactVersionSize } from '../db/queries/set-artifact-version-size';
import { completeArtifactFile, type ApiClient } from '../api';
import { toError } from '../errors';

export async function finalizeFileArtifacts(db: Queryable, api: ApiClient, artifactsDir: string, executionId: number, log: Logger): Promise<void> {
  let versions;
  try {
    versions = await listExecutionFileArtifacts(db, executionId);
  } catch (e) {
    log.warn({ err: toError(e) }, 'could not list the file artifacts of the execution');
    return;
  }
  const highest = new Map<number, { version: number; size: number }>();
  for (const v of versions) {
    let size: number;
    try {
      size = await completeArtifactFile(api, v.filePath);
    } catch (e) {
      log.warn({ artifactVersionId: v.id, filePath: v.filePath, err: toError(e).message }, 'Could not publish artifact file');
      continue;
    }
    // Step 5: completed size, else the local file size (upstream falls back to the transport's).
    if (!Number.isFinite(size)) size = localSize(artifactsDir, v.filePath);
    try {
      await setArtifactVersionSize(db, v.id, size);
    } catch (e) {
      log.warn({ artifactVersionId: v.id, err: toError(e).message }, 'could not record the artifact version size');
    }
    const h = highest.get(v.artifactId);
    if (!h || v.version > h.version) highest.set(v.artifactId, { version: v.version, size });
  }
  for (const [artifactId, h] of highest) {
    try {
      await setArtifactSize(db, artifactId, h.size);
    } catch (e) {
      log.warn({ artifactId, err: toError(e).message }, 'could not record the artifact size');
    }
  }
}

function localSize(artifactsDir: string, filePath: string): number {
  try {
    return fs.statSync(path.join(artifactsDir, filePath)).size;
  } catch {
    return 0;
  }
}
