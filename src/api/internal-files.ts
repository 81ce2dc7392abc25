/**
 * The two internal endpoints a volume-mode worker calls (spec 06 §7.2): sealing a log stream
 * and publishing a file an action wrote. Both: one attempt (plus the client's 401 refresh).
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
