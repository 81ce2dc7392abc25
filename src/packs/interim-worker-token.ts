/**
 * INTERIM (issue 15): a minimal worker-token source for the pack downloader until the Attune API
 * client of issue 13 (`src/api/`: base URL, worker token with cache and 401 refresh) is merged;
 * agent.ts then wires `PackArchiveApi` to that client and this file goes.
 *
 * Token as upstream mints it (spec 06 §5): HS256 with `security.jwt_secret`; claims `sub` "1",
 * `login` "worker:<id>", `iat`, `exp` = iat + 86 400, `token_type` "worker", `scope`
 * "internal_files", `metadata` {worker_id, worker_instance}; reused until 300 s before expiry
 * or a 401.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { PackArchiveApi } from './download';

const TTL_SEC = 86_400;
const REFRESH_MARGIN_SEC = 300;

export interface InterimWorkerTokenOptions {
  baseUrl: string;
  jwtSecret: string;
  workerId: number;
  nowSec?: () => number;
}

export function createInterimPackArchiveApi(opts: InterimWorkerTokenOptions): PackArchiveApi {
  const instance = randomUUID();
  const now = opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
  let cached: { token: string; iat: number } | null = null;
  return {
    baseUrl: opts.baseUrl.trim().replace(/\/+$/, ''),
    async authorization() {
      const t = now();
      if (cached === null || t >= cached.iat + TTL_SEC - REFRESH_MARGIN_SEC) {
        cached = { token: signWorkerToken(opts.jwtSecret, opts.workerId, instance, t), iat: t };
      }
      return `Bearer ${cached.token}`;
    },
    onUnauthorized() {
      cached = null;
    },
  };
}

export function signWorkerToken(secret: string, workerId: number, instance: string, iat: number): string {
  const claims = {
    sub: '1',
    login: `worker:${workerId}`,
    iat,
    exp: iat + TTL_SEC,
    token_type: 'worker',
    scope: 'internal_files',
    metadata: { worker_id: String(workerId), worker_instance: instance },
  };
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  const signingInput = `${enc({ typ: 'JWT', alg: 'HS256' })}.${enc(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
