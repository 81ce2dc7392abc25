import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, completeArtifactFile, encodePathSegments, resolveApiBaseUrl, sealLogStream, WorkerTokenProvider } from '../../../src/api';
import { startFakeApi, type FakeApi } from '../../support/fake-api';

let api: FakeApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

function client(url: string, secret = 'sec'): ApiClient {
  const tokens = new WorkerTokenProvider({ secret });
  tokens.setWorkerId(9);
  return new ApiClient({ baseUrl: url, tokens, timeoutMs: 2000 });
}

describe('ApiClient (spec 06 §5, §7)', () => {
  it('resolves the base URL like upstream (ATTUNE_API_URL, else server host:port, no trailing slash)', () => {
    expect(resolveApiBaseUrl({ ATTUNE_API_URL: ' http://api:8080/ ' }, { host: '0.0.0.0', port: 8080 })).toBe('http://api:8080');
    expect(resolveApiBaseUrl({}, { host: '0.0.0.0', port: 9000 })).toBe('http://0.0.0.0:9000');
    expect(encodePathSegments("a b/c(1)!/d+e.txt")).toBe('a+b/c%281%29%21/d%2Be.txt');
  });

  it('sends the worker token, and after a 401 regenerates it and sends once more', async () => {
    api = await startFakeApi({ jwtSecret: 'sec' });
    api.route('POST', /^\/api\/v1\/internal\/logs\/(\d+)\/seal$/, () => ({ status: 200, body: {} }));
    api.inject({ path: /seal$/, status: 401 });
    await sealLogStream(client(api.url), 12, true);
    const reqs = api.requestsTo(/\/logs\/12\/seal$/);
    expect(reqs.map((r) => r.status)).toEqual([401, 200]);
    expect(reqs[1]?.query).toEqual({ truncated: 'true' });
    expect(reqs[1]?.claims?.metadata.worker_id).toBe('9');
  });

  it('classifies failures: 5xx retryable, 409 conflict, 403 rejected, refused connection retryable', async () => {
    api = await startFakeApi({ jwtSecret: 'sec' });
    api.inject({ path: /seal$/, status: 503 }).inject({ path: /seal$/, status: 409 });
    const c = client(api.url);
    await expect(sealLogStream(c, 1, false)).rejects.toMatchObject({ kind: 'retryable', status: 503 });
    await expect(sealLogStream(c, 1, false)).rejects.toMatchObject({ kind: 'conflict', status: 409 });
    await expect(sealLogStream(client(api.url, 'wrong'), 1, false)).rejects.toMatchObject({ kind: 'rejected', status: 401 });
    const url = api.url;
    await api.close();
    api = null;
    const err = await sealLogStream(client(url), 1, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'retryable', status: null });
  });

  it('reads the published size from x-attune-size and refuses an answer without it', async () => {
    api = await startFakeApi({ jwtSecret: 'sec' });
    let withHeader = true;
    api.route('POST', /^\/api\/v1\/internal\/artifacts\/complete\/(.+)$/, (ctx) =>
      withHeader ? { status: 200, headers: { 'x-attune-size': '5' }, body: { path: ctx.params[0] ?? '' } } : { status: 200, body: {} },
    );
    expect(await completeArtifactFile(client(api.url), 'mypack/out/v1.txt')).toBe(5);
    withHeader = false;
    await expect(completeArtifactFile(client(api.url), 'mypack/out/v1.txt')).rejects.toMatchObject({ kind: 'invalid' });
  });
});
