/**
 * One worker token and one Attune API client per agent process (spec 06 §5: one
 * `worker_instance` UUID per process), shared by the log streams (seal, complete) and the API pack
 * transport (release archives). The pack downloader streams its body itself, so it takes only the
 * token side through its `PackArchiveApi` port; this module adapts the one to the other so that
 * neither `api/` nor `packs/` imports the other.
 */
import type { Config } from '../config/types';
import { ApiClient, resolveApiBaseUrl, WorkerTokenProvider } from '../api';
import type { PackArchiveApi } from '../packs/download';

export interface ApiAccess {
  tokens: WorkerTokenProvider;
  client: ApiClient;
  packArchive: PackArchiveApi;
}

export function createApiAccess(opts: {
  config: Pick<Config, 'security' | 'server'>;
  env: Readonly<Record<string, string | undefined>>;
  workerId: number;
}): ApiAccess {
  const tokens = new WorkerTokenProvider({ secret: opts.config.security.jwtSecret });
  tokens.setWorkerId(opts.workerId);
  const client = new ApiClient({ baseUrl: resolveApiBaseUrl(opts.env, opts.config.server), tokens });
  return { tokens, client, packArchive: packArchiveAccess(client) };
}

/** The pack downloader's view of the client: base URL and the worker token (401 → a fresh one). */
export function packArchiveAccess(client: ApiClient): PackArchiveApi {
  let forceNext = false;
  return {
    baseUrl: client.baseUrl,
    async authorization() {
      const token = client.tokens.token(forceNext);
      forceNext = false;
      return `Bearer ${token}`;
    },
    onUnauthorized() {
      forceNext = true;
    },
  };
}
