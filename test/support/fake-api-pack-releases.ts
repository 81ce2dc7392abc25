/**
 * The Attune API's pack-release archive endpoint, and nothing else (spec 06 §5, §6.2; upstream
 * `crates/api/src/routes/internal_files.rs` `download_pack_release_archive`,
 * `authorize_pack_release_archive`):
 *
 *   GET /api/v1/internal/pack-releases/{release_id}/archive
 *   Authorization: Bearer <HS256 JWT>; 401 when missing/invalid/expired; 403 unless
 *   token_type "worker" with a non-empty metadata.worker_id (access/refresh tokens get 403)
 *   200: Content-Type application/gzip, Content-Length, x-attune-pack-release-id,
 *        x-attune-pack-release-sha256 (the stored digest), Accept-Ranges: bytes
 *   206 for one `Range: bytes=a-b`, 416 when unsatisfiable; 404 for an unknown release.
 *
 * `createPackReleaseArchiveHandler` is a plain request handler (returns false for other
 * paths), mounted in the shared fake API server (`api.mount(...)`, test/support/fake-api.ts);
 * `startFakePackReleaseApi` is that server with only this route in use. Faults for tests:
 * queued per request (`faults`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startFakeApi } from './fake-api';
import { sha256Hex } from './pack-archive';

export type PackReleaseFault =
  | { kind: 'status'; status: number; body?: string }
  /** Wait before answering (headers and body). */
  | { kind: 'delay'; ms: number }
  /** Send headers and half the body, then destroy the socket. */
  | { kind: 'close-mid-body' }
  /** Serve other bytes than stored, with the stored digest in the header (a tampered store). */
  | { kind: 'tamper' }
  /** Announce this Content-Length (e.g. over the 100 MiB limit), send the real bytes, close. */
  | { kind: 'declare-length'; length: number };

export interface StoredRelease {
  bytes: Buffer;
  /** Stored digest (defaults to the sha256 of `bytes`). */
  digest: string;
}

export interface ArchiveRequest {
  releaseId: number;
  status: number;
  authorized: boolean;
  claims: Record<string, unknown> | null;
  /** The raw header, so tests can assert it never reaches a log. */
  authorization: string | null;
  range: string | null;
  at: number;
}

export interface PackReleaseApiState {
  jwtSecret: string;
  releases: Map<number, StoredRelease>;
  faults: PackReleaseFault[];
  requests: ArchiveRequest[];
}

export function createPackReleaseApiState(jwtSecret: string): PackReleaseApiState {
  return { jwtSecret, releases: new Map(), faults: [], requests: [] };
}

export function addRelease(state: PackReleaseApiState, releaseId: number, bytes: Buffer, digest = sha256Hex(bytes)): StoredRelease {
  const r = { bytes, digest };
  state.releases.set(releaseId, r);
  return r;
}

const ROUTE = /^\/api\/v1\/internal\/pack-releases\/([^/]+)\/archive$/;

export function createPackReleaseArchiveHandler(state: PackReleaseApiState): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0] as string;
    const m = ROUTE.exec(path);
    if (!m) return false;
    void serve(state, req, res, m[1] as string);
    return true;
  };
}

async function serve(state: PackReleaseApiState, req: IncomingMessage, res: ServerResponse, idText: string): Promise<void> {
  const record: ArchiveRequest = {
    releaseId: Number(idText),
    status: 0,
    authorized: false,
    claims: null,
    authorization: header(req, 'authorization'),
    range: header(req, 'range'),
    at: Date.now(),
  };
  state.requests.push(record);
  const reply = (status: number, message: string): void => {
    record.status = status;
    const body = JSON.stringify({ error: message });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'Method not allowed');
  const claims = verifyBearer(header(req, 'authorization'), state.jwtSecret);
  record.claims = claims;
  if (claims === null) return reply(401, 'Missing or invalid authentication token');
  const meta = (claims.metadata ?? {}) as Record<string, unknown>;
  if (claims.token_type !== 'worker' || typeof meta.worker_id !== 'string' || meta.worker_id === '') {
    return reply(403, 'Pack release archives are only available to workers');
  }
  record.authorized = true;
  if (!/^[1-9][0-9]*$/.test(idText)) return reply(400, 'Invalid pack release id');

  const fault = state.faults.shift();
  if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
  if (fault?.kind === 'status') {
    record.status = fault.status;
    res.writeHead(fault.status, { 'content-type': 'text/plain' });
    res.end(fault.body ?? 'internal error');
    return;
  }
  const release = state.releases.get(Number(idText));
  if (!release) return reply(404, `Pack release ${idText} not found`);
  let bytes = release.bytes;
  if (fault?.kind === 'tamper') bytes = Buffer.concat([bytes.subarray(0, bytes.length - 8), Buffer.alloc(8, 0x55)]);

  const headers: Record<string, string | number> = {
    'content-type': 'application/gzip',
    'accept-ranges': 'bytes',
    'x-attune-pack-release-id': idText,
    'x-attune-pack-release-sha256': release.digest,
  };
  let status = 200;
  let body = bytes;
  if (record.range !== null) {
    const r = /^bytes=(\d*)-(\d*)$/.exec(record.range);
    const start = r && r[1] !== '' ? Number(r[1]) : r && r[2] !== '' ? Math.max(0, bytes.length - Number(r[2])) : 0;
    const end = r && r[1] !== '' && r[2] !== '' ? Math.min(Number(r[2]), bytes.length - 1) : bytes.length - 1;
    if (!r || start > end || start >= bytes.length) {
      record.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
      res.end();
      return;
    }
    status = 206;
    body = bytes.subarray(start, end + 1);
    headers['content-range'] = `bytes ${start}-${end}/${bytes.length}`;
  }
  headers['content-length'] = fault?.kind === 'declare-length' ? fault.length : body.length;
  record.status = status;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  if (fault?.kind === 'declare-length') {
    res.write(body, () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (fault?.kind === 'close-mid-body') {
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}

/** HS256 check with the API's secret; null when missing, malformed, badly signed or expired. */
export function verifyBearer(authorization: string | null, secret: string): Record<string, unknown> | null {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!m) return null;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${m[2]}`).digest();
  const given = Buffer.from(m[3] as string, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const head = JSON.parse(Buffer.from(m[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (head.alg !== 'HS256') return null;
    const claims = JSON.parse(Buffer.from(m[2] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

export interface FakePackReleaseApi {
  readonly url: string;
  readonly state: PackReleaseApiState;
  /** Successful (2xx) archive answers so far. */
  downloads(releaseId?: number): number;
  close(): Promise<void>;
}

/** The archive route alone, on the shared fake API server (test/support/fake-api.ts). */
export async function startFakePackReleaseApi(jwtSecret: string): Promise<FakePackReleaseApi> {
  const state = createPackReleaseApiState(jwtSecret);
  const api = await startFakeApi({ jwtSecret });
  api.mount(createPackReleaseArchiveHandler(state));
  return {
    url: api.url,
    state,
    downloads: (id) => state.requests.filter((r) => r.status >= 200 && r.status < 300 && (id === undefined || r.releaseId === id)).length,
    close: () => api.close(),
  };
}
