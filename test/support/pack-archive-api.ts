/** The pack downloader's API access as the agent wires it (wiring/api-access.ts), for tests. */
import { ApiClient, WorkerTokenProvider } from '../../src/api';
import type { PackArchiveApi } from '../../src/packs/download';
import { packArchiveAccess } from '../../src/wiring/api-access';

export function testPackArchiveApi(opts: { baseUrl: string; jwtSecret: string; workerId: number }): PackArchiveApi {
  const tokens = new WorkerTokenProvider({ secret: opts.jwtSecret });
  tokens.setWorkerId(opts.workerId);
  return packArchiveAccess(new ApiClient({ baseUrl: opts.baseUrl, tokens }));
}
