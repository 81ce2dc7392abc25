// DEVELOPMENT/TEST ONLY: a stand-in for the Attune API's internal endpoints the worker calls
// (spec 06 §7.2), shared by the test suite (test/support/fake-api.ts types it) and `npm run
// demo`. A small router: `route(method, regex, handler)`; the built-in routes are what a worker
// calls — seal a log stream, publish a finished artifact file, and in `artifacts.transport: api`
// commit log segments and upload files (fake-api-objects.mjs) — and do what upstream's
// `internal_files.rs` does to the database, the shared file and the blob store (spec 06 §2.5,
// §2.6, §3.2). Every request must carry a worker JWT (HS256, the configured secret): bad
// signature or expiry → 401, other token types or no `metadata.worker_id` → 403. `inject()`
// adds faults (status, delay, connection closed mid-body) for the next matching requests;
// `requests` records everything. `mount(handler)` plugs in a raw request handler that serves
// its own paths (the pack-release archive route of test/support/fake-api-pack-releases.ts).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { commitLogSegment, decodeFilePath, sealSegmentStream, writeFile } from './fake-api-objects.mjs';

export class FakeAttuneApi {
  /** @param {{ jwtSecret: string, databaseUrl?: string, artifactsDir?: string, schema?: string, keepAliveTimeoutMs?: number }} opts */
  constructor(opts) {
    this.opts = opts;
    this.routes = [];
    this.faults = [];
    this.requests = [];
    this.mounts = [];
    /** Blob store: segment objects (`logs/<stream>/segments/<seq>`) and uploaded files by path. */
    this.objects = new Map();
    this.files = new Map();
    this.pool = opts.databaseUrl ? new pg.Pool({ connectionString: opts.databaseUrl, max: 4 }) : null;
    this.pool?.on('connect', (c) => c.query(`SET search_path TO ${opts.schema ?? 'attune'}, public`).catch(() => {}));
    this.pool?.on('error', () => {});
    this.route('POST', /^\/api\/v1\/internal\/logs\/(\d+)\/seal$/, (ctx) => this.sealLogStream(ctx));
    this.route('POST', /^\/api\/v1\/internal\/artifacts\/complete\/(.+)$/, (ctx) => this.completeFile(ctx));
    this.route('PUT', /^\/api\/v1\/internal\/logs\/(\d+)\/segments\/(\d+)$/, (ctx) => commitLogSegment(this, ctx));
    this.route('PUT', /^\/api\/v1\/internal\/files\/(.+)$/, (ctx) => writeFile(this, ctx));
  }

  /**
   * Add a route (a later route wins over an earlier one for the same request, so tests can
   * override the built-ins); `handler(ctx)` returns `{ status, headers?, body? }`.
   * ctx: { method, path, params, query, headers, body, claims }.
   */
  route(method, pattern, handler) {
    this.routes.unshift({ method, pattern, handler });
    return this;
  }

  /**
   * Fault for the next `times` (default 1) matching requests: answer `status` and/or wait
   * `delayMs` first; `close: true` destroys the connection after the first request-body bytes
   * arrive (or at once without a body), before any answer.
   */
  inject({ method = null, path, status = null, delayMs = 0, times = 1, body = null, close = false }) {
    this.faults.push({ method, path, status, delayMs, times, body, close });
    return this;
  }

  /** A raw `(req, res) => boolean` handler tried before the router (true = it took the request). */
  mount(handler) {
    this.mounts.push(handler);
    return this;
  }

  /** Segment bytes of one log stream in sequence order (what the API would serve). */
  segmentBytes(logStreamId) {
    const parts = [];
    for (let i = 0; this.objects.has(`logs/${logStreamId}/segments/${i}`); i++) parts.push(this.objects.get(`logs/${logStreamId}/segments/${i}`));
    return Buffer.concat(parts);
  }

  async start(port = 0, host = '127.0.0.1') {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(e?.message ?? e) }));
      });
    });
    // Short by default (tests close quickly); a bench under load passes a production-like one:
    // with 1 s undici (fetch) closes each connection after its request.
    this.server.keepAliveTimeout = this.opts.keepAliveTimeoutMs ?? 1000;
    await new Promise((resolve) => this.server.listen(port, host, resolve));
    const addr = this.server.address();
    this.url = `http://${host}:${addr.port}`;
    return this;
  }

  async close() {
    if (this.server) {
      this.server.closeAllConnections?.();
      await new Promise((resolve) => this.server.close(() => resolve()));
    }
    await this.pool?.end().catch(() => {});
  }

  /** Requests whose path matches. */
  requestsTo(pattern) {
    return this.requests.filter((r) => pattern.test(r.path));
  }

  async handle(req, res) {
    for (const m of this.mounts) if (m(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://fake');
    const record = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, claims: null, status: 0, at: Date.now(), body: null };
    this.requests.push(record);
    const send = (status, headers = {}, payload = '') => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    const drain = async () => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      return Buffer.concat(chunks);
    };
    // Auth needs the headers only; a request that fails it consumes no fault.
    const auth = this.authorize(req.headers.authorization);
    record.claims = auth.claims ?? null;
    if (auth.status !== 200) {
      await drain();
      return send(auth.status, {}, { error: auth.error });
    }
    const fault = this.faults.find((f) => f.times > 0 && (f.method === null || f.method === req.method) && f.path.test(url.pathname));
    if (fault) fault.times--;
    if (fault?.close) {
      record.status = -1;
      if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding']) await new Promise((r) => req.once('data', r));
      req.socket.destroy();
      return;
    }
    const body = await drain();
    record.body = body;
    if (fault) {
      if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status !== null) return send(fault.status, {}, fault.body ?? { error: `injected ${fault.status}` });
    }
    for (const r of this.routes) {
      if (r.method !== req.method) continue;
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      const out = await r.handler({ method: req.method, path: url.pathname, params: m.slice(1), query: url.searchParams, headers: req.headers, body, claims: auth.claims });
      return send(out.status, out.headers ?? {}, out.body ?? '');
    }
    return send(404, {}, { error: 'Not found' });
  }

  /** spec 06 §5: worker tokens only, signed with the configured secret. */
  authorize(header) {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    if (!m) return { status: 401, error: 'Missing bearer token' };
    const [h, p, s] = m[1].split('.');
    if (!h || !p || !s) return { status: 401, error: 'Malformed token' };
    const expected = createHmac('sha256', this.opts.jwtSecret).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 401, error: 'Invalid token signature' };
    let header0;
    let claims;
    try {
      header0 = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return { status: 401, error: 'Malformed token' };
    }
    if (header0.alg !== 'HS256') return { status: 401, error: 'Unsupported algorithm' };
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return { status: 401, error: 'Token expired' };
    if (claims.token_type !== 'worker' || claims.scope !== 'internal_files') return { status: 403, error: 'Worker token required', claims };
    if (!claims.metadata?.worker_id) return { status: 403, error: 'Worker token has no worker_id', claims };
    return { status: 200, claims };
  }

  /** `seal_log_stream` for `shared_file` streams (spec 06 §2.5, §7.4). */
  async sealLogStream(ctx) {
    const versionId = Number(ctx.params[0]);
    const flag = ctx.query.get('truncated');
    if (flag !== 'true' && flag !== 'false') return { status: 400, body: { error: 'truncated must be true or false' } };
    const truncated = flag === 'true';
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query(
        `SELECT s.id, s.backend, s.sealed, s.truncated, s.next_sequence, s.total_bytes, v.file_path, v.body_state
         FROM log_stream s JOIN artifact_version v ON v.id = s.artifact_version
         WHERE s.artifact_version = $1 FOR UPDATE OF s, v`,
        [versionId],
      );
      const s = rows[0];
      if (!s) {
        await c.query('ROLLBACK');
        return { status: 404, body: { error: 'Log stream not found' } };
      }
      if (s.sealed) {
        await c.query('ROLLBACK');
        return s.truncated === truncated ? { status: 200, body: { sealed: true } } : { status: 409, body: { error: 'Log stream already sealed' } };
      }
      if (s.body_state === 'pending' && s.backend === 'object_segments') {
        const out = await sealSegmentStream(this, c, s, versionId, truncated);
        await c.query(out.status === 200 ? 'COMMIT' : 'ROLLBACK');
        return out;
      }
      if (s.backend !== 'shared_file' || s.body_state !== 'pending') {
        await c.query('ROLLBACK');
        return { status: 409, body: { error: 'Log stream is not a pending shared file' } };
      }
      const file = join(this.opts.artifactsDir, s.file_path);
      let bytes;
      try {
        bytes = readFileSync(file);
      } catch {
        await c.query('ROLLBACK');
        return { status: 404, body: { error: 'Log file not found' } };
      }
      chmodSync(file, 0o444);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await c.query(
        `UPDATE log_stream SET total_bytes = $2, sealed = TRUE, truncated = truncated OR $3, sealed_at = COALESCE(sealed_at, NOW()) WHERE id = $1`,
        [s.id, bytes.length, truncated],
      );
      await c.query(`UPDATE artifact_version SET body_state = 'ready', size_bytes = $2, sha256 = $3 WHERE id = $1`, [versionId, bytes.length, sha]);
      await c.query('COMMIT');
      return { status: 200, body: { sealed: true, total_bytes: bytes.length, sha256: sha } };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** `complete_file` on the shared volume (spec 06 §3.2 step 4). */
  async completeFile(ctx) {
    const filePath = decodeFilePath(ctx.params[0]);
    const { rows } = await this.pool.query(`SELECT id, body_state, size_bytes, object_key FROM artifact_version WHERE file_path = $1 ORDER BY id DESC LIMIT 1`, [filePath]);
    const v = rows[0];
    if (!v) return { status: 404, body: { error: 'Artifact version not found' } };
    if (v.body_state === 'ready') return { status: 200, headers: { 'x-attune-size': String(v.size_bytes) }, body: { size_bytes: Number(v.size_bytes) } };
    if (v.body_state !== 'pending') return { status: 409, body: { error: 'Artifact body is not pending' } };
    // Uploaded through `PUT /internal/files` (API transport), else on the shared volume.
    let bytes = this.files.get(filePath)?.bytes;
    try {
      bytes ??= readFileSync(join(this.opts.artifactsDir ?? '/nonexistent', filePath));
    } catch {
      return { status: 404, body: { error: 'Artifact file not found' } };
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    await this.pool.query(
      `UPDATE artifact_version SET body_state = 'ready', size_bytes = $2, sha256 = $3, provider_version = CASE WHEN object_key IS NULL THEN NULL ELSE 'fake:1' END WHERE id = $1`,
      [v.id, bytes.length, sha],
    );
    return { status: 200, headers: { 'x-attune-size': String(bytes.length) }, body: { size_bytes: bytes.length } };
  }
}
