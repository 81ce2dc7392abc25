/**
 * The worker's own API token (spec 06 §5; upstream `auth/worker_token.rs`, `auth/jwt.rs`
 * `generate_worker_token`): HS256 with `security.jwt_secret`, claims `sub "1"`,
 * `login "worker:<id>"`, `iat`, `exp = iat + 86400`, `token_type "worker"`, `scope
 * "internal_files"`, `metadata {worker_id, worker_instance}`. Cached; regenerated 300 s before
 * expiry, when the worker id changes, and on demand (after an HTTP 401).
 */
import { createHmac, randomUUID } from 'node:crypto';

/** Upstream's fallback when `security.jwt_secret` is unset. */
export const INSECURE_DEFAULT_JWT_SECRET = 'insecure_default_secret_change_in_production';
export const WORKER_TOKEN_TTL_SEC = 86_400;
export const WORKER_TOKEN_REFRESH_MARGIN_SEC = 300;

export interface WorkerTokenClaims {
  sub: string;
  login: string;
  iat: number;
  exp: number;
  token_type: 'worker';
  scope: 'internal_files';
  metadata: { worker_id: string; worker_instance: string };
}

export interface WorkerTokenProviderOptions {
  secret: string | null;
  /** One random UUID per process (also used in mirror records); default a fresh one. */
  instanceId?: string;
  nowSec?: () => number;
}

export class WorkerTokenProvider {
  readonly instanceId: string;
  private workerId = 'unregistered';
  private cached: { token: string; iat: number; workerId: string } | null = null;
  private readonly secret: string;
  private readonly nowSec: () => number;

  constructor(opts: WorkerTokenProviderOptions) {
    this.instanceId = opts.instanceId ?? randomUUID();
    this.secret = opts.secret && opts.secret.trim() !== '' ? opts.secret : INSECURE_DEFAULT_JWT_SECRET;
    this.nowSec = opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
  }

  /** `"unregistered"` until registration, then the worker row id. */
  setWorkerId(id: number | string): void {
    this.workerId = String(id);
  }

  get currentWorkerId(): string {
    return this.workerId;
  }

  /** The cached token, or a new one when it is near expiry, the worker id changed, or `force`. */
  token(force = false): string {
    const now = this.nowSec();
    const c = this.cached;
    if (!force && c && c.workerId === this.workerId && now < c.iat + WORKER_TOKEN_TTL_SEC - WORKER_TOKEN_REFRESH_MARGIN_SEC) return c.token;
    const claims: WorkerTokenClaims = {
      sub: '1',
      login: `worker:${this.workerId}`,
      iat: now,
      exp: now + WORKER_TOKEN_TTL_SEC,
      token_type: 'worker',
      scope: 'internal_files',
      metadata: { worker_id: this.workerId, worker_instance: this.instanceId },
    };
    const token = signHs256(claims, this.secret);
    this.cached = { token, iat: now, workerId: this.workerId };
    return token;
  }
}

/** Compact JWS, header `{"typ":"JWT","alg":"HS256"}` (jsonwebtoken's default header). */
export function signHs256(claims: object, secret: string): string {
  const signingInput = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
