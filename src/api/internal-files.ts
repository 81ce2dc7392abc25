/**
 * The file endpoints of both modes (spec 06 §7.2): sealing a log stream, publishing a file an
 * action wrote, and (API transport) uploading that file first. Each: one attempt (plus the
 * client's 401 refresh); upstream retries none of them (§7.4).
 */
import type { ApiClient } from './client';
import { encodePathSegments } from './client';
import { ApiError } from './errors';

/** `POST /api/v1/internal/logs/{version_id}/seal?truncated=<bool>`, no body; any 2xx. */
export async function sealLogStream(api: ApiClient, artifactVersionId: number, truncated: boolean, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  await api.request({
    method: 'POST',
    path: `/api/v1/internal/logs/${artifactVersionId}/seal`,
    query: { truncated: String(truncated) },
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
}

/** `POST /api/v1/internal/artifacts/complete/{file_path}`; the size is the `x-attune-size` header (missing → error). */
export async function completeArtifactFile(api: ApiClient, filePath: string, opts: { timeoutMs?: number } = {}): Promise<number> {
  const path = `/api/v1/internal/artifacts/complete/${encodePathSegments(filePath)}`;
  const res = await api.request({ method: 'POST', path, timeoutMs: opts.timeoutMs });
  const raw = res.headers.get('x-attune-size');
  const size = raw === null ? NaN : Number(raw.trim());
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ApiError('invalid', `POST ${path} answered ${res.status} without a valid x-attune-size header (${raw ?? 'missing'})`, { status: res.status });
  }
  return size;
}

export interface FileUpload {
  contentType: string;
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the whole body (`x-attune-sha256`, checked by the API). */
  sha256: string;
  /** A fresh stream of the file's bytes per attempt. */
  open: () => ReadableStream<Uint8Array>;
}

/**
 * `PUT /api/v1/internal/files/{file_path}` (spec 06 §7.2, API transport): the body streamed,
 * with `Content-Type`, `Content-Length` and `x-attune-sha256`; any 2xx (the API answers 201).
 */
export async function uploadArtifactFile(api: ApiClient, filePath: string, file: FileUpload, opts: { timeoutMs?: number } = {}): Promise<void> {
  await api.request({
    method: 'PUT',
    path: `/api/v1/internal/files/${encodePathSegments(filePath)}`,
    headers: { 'content-type': file.contentType, 'content-length': String(file.sizeBytes), 'x-attune-sha256': file.sha256 },
    body: file.open,
    timeoutMs: opts.timeoutMs,
  });
}
