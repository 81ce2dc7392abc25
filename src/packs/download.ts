/**
 * `GET {ATTUNE_API_URL}/api/v1/internal/pack-releases/{release_id}/archive` with the worker
 * token (spec 06 §5, §6.2; upstream `ApiPackTransport::download_archive`): one request, sent
 * once more after a 401 with a fresh token; the body streams into
 * `{packs_base_dir}/.pack-downloads/<uuid>.tar.gz` while being hashed, refused past 100 MiB
 * (declared or streamed). The digest is compared by the caller before anything is unpacked.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { toError } from '../errors';
import { PACK_ARCHIVE_LIMITS } from './archive';
import { PackReleaseError } from './errors';

/** What the downloader needs from the Attune API client (wired by agent.ts). */
export interface PackArchiveApi {
  /** `ATTUNE_API_URL`, trailing `/` removed. */
  readonly baseUrl: string;
  /** The `Authorization` header value: `Bearer <worker token>`. Never logged. */
  authorization(): Promise<string>;
  /** HTTP 401 seen: the next `authorization()` must mint a fresh token (spec 06 §5). */
  onUnauthorized(): void;
}

export const MAX_ARCHIVE_BYTES = PACK_ARCHIVE_LIMITS.maxTotalBytes;
/** upstream's reqwest client timeout for the whole request. */
export const DOWNLOAD_TIMEOUT_MS = 300_000;

export interface DownloadedArchive {
  path: string;
  size: number;
  sha256: string;
}

export interface DownloadInput {
  packRef: string;
  releaseId: number;
  downloadsDir: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export function archiveUrl(baseUrl: string, releaseId: number): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/v1/internal/pack-releases/${releaseId}/archive`;
}

/** Downloads and hashes; on any failure the staging file is gone. */
export async function downloadReleaseArchive(api: PackArchiveApi, input: DownloadInput): Promise<DownloadedArchive> {
  const subject = `pack archive for '${input.packRef}'`;
  const url = archiveUrl(api.baseUrl, input.releaseId);
  const timeoutMs = input.timeoutMs ?? DOWNLOAD_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = input.signal ? AbortSignal.any([input.signal, timeout]) : timeout;

  const why = (e: unknown): string => describeFetchError(e, signal, input.signal, timeoutMs);
  let res = await request(api, url, subject, signal, why);
  if (res.status === 401) {
    await res.body?.cancel().catch(() => undefined);
    api.onUnauthorized();
    res = await request(api, url, subject, signal, why);
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 1000);
    const hint = res.status === 401 || res.status === 403 ? ' (check that security.jwt_secret is the Attune API\'s secret)' : '';
    throw new PackReleaseError(`${subject} download returned ${res.status} ${res.statusText}: ${body}${hint}`, 'unavailable');
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_ARCHIVE_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new PackReleaseError(`${subject} exceeds the ${MAX_ARCHIVE_BYTES} byte download limit`, 'invalid');
  }

  await mkdir(input.downloadsDir, { recursive: true });
  const path = join(input.downloadsDir, `${randomUUID()}.tar.gz`);
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(path, 'wx');
  try {
    if (res.body) {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_ARCHIVE_BYTES) throw new PackReleaseError(`${subject} exceeds the ${MAX_ARCHIVE_BYTES} byte download limit`, 'invalid');
        hash.update(chunk);
        await fh.write(chunk);
      }
    }
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(path, { force: true });
    if (e instanceof PackReleaseError) throw e;
    throw new PackReleaseError(`Failed to read ${subject}: ${why(e)}`, 'unavailable', { cause: e });
  }
  return { path, size, sha256: hash.digest('hex') };
}

async function request(api: PackArchiveApi, url: string, subject: string, signal: AbortSignal, why: (e: unknown) => string): Promise<Response> {
  let authorization: string;
  try {
    authorization = await api.authorization();
  } catch (e) {
    throw new PackReleaseError(`Failed to get worker auth token: ${toError(e).message}`, 'unavailable', { cause: e });
  }
  try {
    return await fetch(url, { headers: { authorization, accept: 'application/gzip' }, signal, redirect: 'error' });
  } catch (e) {
    throw new PackReleaseError(`Failed to download ${subject} from ${url}: ${why(e)}`, 'unavailable', { cause: e });
  }
}

/** undici hides the useful part in `cause` (ECONNREFUSED, "other side closed"). */
function describeFetchError(e: unknown, signal: AbortSignal, outer: AbortSignal | undefined, timeoutMs: number): string {
  if (outer?.aborted) return 'aborted (the agent is stopping)';
  if (signal.aborted) return `no complete answer within ${timeoutMs / 1000} s (timed out)`;
  const err = toError(e);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${err.message}: ${code ? `${code} ` : ''}${cause.message}`;
  }
  return err.message;
}
