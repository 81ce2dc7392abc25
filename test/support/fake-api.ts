/**
 * Typed handle on scripts/lib/fake-api.mjs (shared with `npm run demo`): an HTTP server playing
 * the Attune API's internal endpoints a worker calls (spec 06 §7.2), verifying the worker JWT.
 *
 *   const api = await startFakeApi({ jwtSecret, databaseUrl, artifactsDir });
 *   agent env: ATTUNE_API_URL = api.url
 *   api.inject({ path: /\/seal$/, status: 500 });   // next seal fails
 *   api.inject({ method: 'PUT', path: /\/segments\/\d+$/, close: true });   // connection closed mid-body
 *   api.mount(createPackReleaseArchiveHandler(state));   // pack releases on the same server
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { FakeAttuneApi } from '../../scripts/lib/fake-api.mjs';

export interface WorkerClaims {
  sub: string;
  login: string;
  iat: number;
  exp: number;
  token_type: string;
  scope: string;
  metadata: { worker_id: string; worker_instance: string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  claims: WorkerClaims | null;
  /** Status the fake answered (-1: connection closed by a `close` fault). */
  status: number;
  at: number;
  /** Request body as received (null when the connection was closed first). */
  body: Buffer | null;
}

export interface RouteContext {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  claims: WorkerClaims;
}

export interface RouteResult {
  status: number;
  headers?: Record<string, string>;
  body?: string | Record<string, unknown>;
}

export interface FakeApi {
  readonly url: string;
  readonly requests: RecordedRequest[];
  route(method: string, pattern: RegExp, handler: (ctx: RouteContext) => RouteResult | Promise<RouteResult>): FakeApi;
  inject(fault: { method?: string; path: RegExp; status?: number; delayMs?: number; times?: number; body?: Record<string, unknown>; close?: boolean }): FakeApi;
  /** A raw handler tried before the router; returns true when it took the request. */
  mount(handler: (req: IncomingMessage, res: ServerResponse) => boolean): FakeApi;
  requestsTo(pattern: RegExp): RecordedRequest[];
  /** Segment bytes of one log stream in sequence order. */
  segmentBytes(logStreamId: number | string): Buffer;
  /** Files uploaded through `PUT /api/v1/internal/files/{path}`. */
  readonly files: Map<string, { bytes: Buffer; contentType: string | null }>;
  close(): Promise<void>;
}

export interface FakeApiOptions {
  jwtSecret: string;
  /** Needed by the seal / complete routes (they update the rows as the real API does). */
  databaseUrl?: string;
  /** The shared artifacts volume (the API mounts the same files). */
  artifactsDir?: string;
  schema?: string;
}

type FakeApiCtor = new (opts: FakeApiOptions) => FakeApi & { start(port?: number, host?: string): Promise<FakeApi> };

export async function startFakeApi(opts: FakeApiOptions): Promise<FakeApi> {
  const api = new (FakeAttuneApi as unknown as FakeApiCtor)(opts);
  return api.start();
}
