/**
 * HTTP client for the Attune API's internal endpoints (spec 06 §5, §7). One place for the base
 * URL, the worker token (401 → regenerate and send once more), timeouts and the error classes of
 * §7.4. Endpoint helpers live beside it (`log-streams.ts`, `artifact-files.ts`); new transports
 * (pack-release download, segment uploads) add their own helper files on top of `request`.
 */
import { ApiError, kindForStatus } from './errors';
import type { WorkerTokenProvider } from './worker-token';

/** Upstream's per-request client timeout (spec 06 §7.4). */
export const DEFAULT_API_TIMEOUT_MS = 300_000;

export interface ApiClientOptions {
  baseUrl: string;
  tokens: WorkerTokenProvider;
  timeoutMs?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';
  /** Path below the base URL, already encoded (`encodePathSegments`), starting with `/`. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /**
   * Bytes, or a factory of a fresh stream per attempt (a 401 resends the request, and a
   * stream can be read only once); a stream is sent chunked as it is read.
   */
  body?: Uint8Array | string | (() => ReadableStream<Uint8Array>);
  /** Per-call timeout; default the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/**
 * spec 06 §7.1: `ATTUNE_API_URL`, else `http://{server.host}:{server.port}`, trailing `/`
 * removed. Deliberately not normalised (0.0.0.0 stays), as upstream (spec 06 §10.6).
 */
export function resolveApiBaseUrl(env: Readonly<Record<string, string | undefined>>, server: { host: string; port: number }): string {
  const fromEnv = env.ATTUNE_API_URL?.trim();
  const base = fromEnv ? fromEnv : `http://${server.host}:${server.port}`;
  return base.replace(/\/+$/, '');
}

/** spec 06 §7.1: each segment form-encoded (Rust `form_urlencoded::byte_serialize`: space → `+`). */
export function encodePathSegments(path: string): string {
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+'))
    .join('/');
}

export class ApiClient {
  readonly baseUrl: string;
  readonly tokens: WorkerTokenProvider;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tokens = opts.tokens;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_API_TIMEOUT_MS;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Sends the request with the worker token; a 401 regenerates the token and sends it once more. Throws ApiError unless 2xx. */
  async request(req: ApiRequest): Promise<ApiResponse> {
    let res = await this.send(req, this.tokens.token());
    if (res.status === 401) res = await this.send(req, this.tokens.token(true));
    if (res.status < 200 || res.status > 299) {
      const text = res.body.toString('utf8').slice(0, 500);
      throw new ApiError(kindForStatus(res.status), `${req.method} ${req.path} returned ${res.status}${text ? `: ${text}` : ''}`, { status: res.status });
    }
    return res;
  }

  private async send(req: ApiRequest, token: string): Promise<ApiResponse> {
    const url = new URL(this.baseUrl + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      const payload = typeof req.body === 'function' ? req.body() : req.body;
      const res = await this.fetchImpl(url, {
        method: req.method,
        headers: { ...req.headers, authorization: `Bearer ${token}` },
        body: payload,
        signal,
        // undici requires it for a stream body (no effect on bytes).
        ...(typeof req.body === 'function' ? { duplex: 'half' } : {}),
      } as RequestInit);
      const body = Buffer.from(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body };
    } catch (e) {
      const timedOut = timeout.aborted && !req.signal?.aborted;
      const what = timedOut ? `timed out after ${timeoutMs} ms` : `failed: ${describeFetchError(e)}`;
      throw new ApiError('retryable', `${req.method} ${this.baseUrl}${req.path} ${what}`, { cause: e });
    }
  }
}

/** undici hides the errno in `cause` ("fetch failed" alone tells an operator nothing). */
function describeFetchError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err?.message ?? String(e);
}
