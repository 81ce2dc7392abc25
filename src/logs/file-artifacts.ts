/**
 * `finalize_file_artifacts` (spec 06 §3.2, upstream `executor.rs` @f3e5d1c): files an action
 * wrote under `ATTUNE_ARTIFACTS_DIR` for versions allocated to its execution are uploaded (API
 * transport: `PUT /internal/files/{path}`, upstream `sync_local_file_to_transport`), published
 * through the API, and the sizes recorded. Every problem is a warning; the execution's status
 * never depends on it. One query when the execution made no file artifact.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Logger } from '../log';
import type { Queryable } from '../db/rows';
import { listExecutionFileArtifacts, type ExecutionFileArtifact } from '../db/queries/list-execution-file-artifacts';
import { setArtifactSize } from '../db/queries/set-artifact-size';
import { setArtifactVersionSize } from '../db/queries/set-artifact-version-size';
import { completeArtifactFile, uploadArtifactFile, type ApiClient } from '../api';
import { toError } from '../errors';

export async function finalizeFileArtifacts(
  db: Queryable,
  api: ApiClient,
  artifactsDir: string,
  executionId: number,
  log: Logger,
  transport: 'volume' | 'api' = 'volume',
  /** How the versions are listed (logs/index.ts groups the queries of concurrent executions). */
  list: (executionId: number) => Promise<ExecutionFileArtifact[]> = (id) => listExecutionFileArtifacts(db, id),
): Promise<void> {
  let versions;
  try {
    versions = await list(executionId);
  } catch (e) {
    log.warn({ err: toError(e) }, 'could not list the file artifacts of the execution');
    return;
  }
  const highest = new Map<number, { version: number; size: number }>();
  for (const v of versions) {
    let uploaded: number | null = null;
    if (transport === 'api') {
      try {
        uploaded = await uploadLocalFile(api, artifactsDir, v.filePath, v.contentType);
      } catch (e) {
        log.warn({ artifactVersionId: v.id, filePath: v.filePath, err: toError(e).message }, 'Failed to copy local artifact file to api transport');
        continue;
      }
    }
    let size: number;
    try {
      size = await completeArtifactFile(api, v.filePath);
    } catch (e) {
      log.warn({ artifactVersionId: v.id, filePath: v.filePath, err: toError(e).message }, 'Could not publish artifact file');
      continue;
    }
    // Step 5: completed size, else the uploaded size, else the local file size (upstream: the transport's).
    if (!Number.isFinite(size)) size = uploaded ?? localSize(artifactsDir, v.filePath);
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

/**
 * Step 3 (`sync_local_file_to_transport`): the staged file under `artifacts_dir`; a missing
 * file uploads nothing (null); a symlinked component, a non-regular or hard-linked file is an
 * error (an action must not make the agent upload a file it does not own). Returns the size.
 */
async function uploadLocalFile(api: ApiClient, artifactsDir: string, filePath: string, contentType: string | null): Promise<number | null> {
  const root = path.resolve(artifactsDir);
  const abs = path.join(root, filePath);
  if (!abs.startsWith(root + path.sep)) throw new Error(`artifact file path '${filePath}' leaves artifacts_dir`);
  let st: fs.Stats;
  try {
    for (let d = path.dirname(abs); d.length > root.length; d = path.dirname(d)) {
      if (fs.lstatSync(d).isSymbolicLink()) throw new Error(`artifact file path '${filePath}' has a symlinked component (${d})`);
    }
    st = fs.lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!st.isFile()) throw new Error(`artifact file '${abs}' is not a regular file`);
  if (st.nlink > 1) throw new Error(`artifact file '${abs}' is hard-linked (${st.nlink} links)`);
  const sha256 = await hashFile(abs);
  const open = () => Readable.toWeb(fs.createReadStream(abs, { highWaterMark: 64 * 1024 })) as unknown as ReadableStream<Uint8Array>;
  await uploadArtifactFile(api, filePath, { contentType: contentType ?? 'application/octet-stream', sizeBytes: st.size, sha256, open });
  return st.size;
}

async function hashFile(abs: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(abs, { highWaterMark: 64 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}
