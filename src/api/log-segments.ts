/**
 * Committing one immutable log segment through the API (spec 06 §2.6, §7.2):
 * `PUT /api/v1/internal/logs/{version_id}/segments/{sequence}`, raw bytes,
 * `Content-Type: application/octet-stream`; the server answers 201 for a new segment and 200
 * for an identical replay (so a retry after a lost answer is safe), 409 for other bytes at that
 * sequence / a wrong sequence / a sealed stream, 413 over `max_unflushed_bytes`, 400 for an
 * empty body. The direct-upload grant step is not used: the proxy PUT is always accepted by the
 * API (spec 06 §7.3), and it saves a round trip per segment on the filesystem blob store.
 */
import type { ApiClient } from './client';

export async function putLogSegment(
  api: ApiClient,
  artifactVersionId: number,
  sequence: number,
  bytes: Uint8Array,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  await api.request({
    method: 'PUT',
    path: `/api/v1/internal/logs/${artifactVersionId}/segments/${sequence}`,
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
}
