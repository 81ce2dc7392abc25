// DEVELOPMENT/TEST ONLY: the object-storage side of the fake Attune API (scripts/lib/fake-api.mjs),
// i.e. what an `artifacts.transport: api` worker calls (spec 06 §2.6, §3.2, §7.2–§7.4), doing to
// the database what upstream's `internal_files.rs` does (`commit_log_segment`, `seal_log_stream`
// for `object_segments`, `write_file`, `complete_file`). Blobs live in memory (`objects`).
import { createHash } from 'node:crypto';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** Decodes a form-encoded path (`+` = space, %XX) as the worker encodes it (spec 06 §7.1). */
export function decodeFilePath(raw) {
  return raw.split('/').map((seg) => decodeURIComponent(seg.replace(/\+/g, ' '))).join('/');
}

/** spec 06 §7.5 path grammar. */
export function badPath(p) {
  return p === '' || p.startsWith('/') || /[\0\\:]/.test(p) || p.split('/').some((s) => s === '' || s === '.' || s === '..');
}

async function inTx(pool, fn) {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query(out.status < 300 ? 'COMMIT' : 'ROLLBACK');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** `PUT /api/v1/internal/logs/{version_id}/segments/{seq}`: 201 new, 200 identical replay, 409/413/400 (spec 06 §7.4). */
export function commitLogSegment(api, ctx) {
  const versionId = Number(ctx.params[0]);
  const seq = Number(ctx.params[1]);
  const body = ctx.body;
  if (body.length === 0) return { status: 400, body: { error: 'Log segment body is empty' } };
  return inTx(api.pool, async (c) => {
    const { rows } = await c.query(
      `SELECT s.id, s.backend, s.sealed, s.next_sequence, s.total_bytes, s.max_unflushed_bytes, v.body_state
       FROM log_stream s JOIN artifact_version v ON v.id = s.artifact_version
       WHERE s.artifact_version = $1 FOR UPDATE OF s`,
      [versionId],
    );
    const s = rows[0];
    if (!s) return { status: 404, body: { error: 'Log stream not found' } };
    if (s.backend !== 'object_segments') return { status: 409, body: { error: 'Log stream is not an object segment stream' } };
    if (body.length > Number(s.max_unflushed_bytes)) return { status: 413, body: { error: 'Log segment exceeds max_unflushed_bytes' } };
    const hex = sha256(body);
    if (seq < Number(s.next_sequence)) {
      const { rows: seg } = await c.query('SELECT sha256 FROM log_segment WHERE stream = $1 AND sequence = $2', [s.id, seq]);
      return seg[0]?.sha256 === hex ? { status: 200, body: { sequence: seq, replay: true } } : { status: 409, body: { error: 'A different segment exists at this sequence' } };
    }
    if (s.sealed) return { status: 409, body: { error: 'Log stream is sealed' } };
    if (s.body_state !== 'pending') return { status: 409, body: { error: 'Log stream version is not pending' } };
    if (seq !== Number(s.next_sequence)) return { status: 409, body: { error: `Expected sequence ${s.next_sequence}` } };
    const start = Number(s.total_bytes);
    const key = `logs/${s.id}/segments/${seq}`;
    api.objects.set(key, Buffer.from(body));
    await c.query(
      `INSERT INTO log_segment (stream, sequence, byte_start, byte_end, size_bytes, sha256, object_key, provider_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'fake:1')`,
      [s.id, seq, start, start + body.length, body.length, hex, key],
    );
    await c.query('UPDATE log_stream SET next_sequence = next_sequence + 1, total_bytes = total_bytes + $2 WHERE id = $1', [s.id, body.length]);
    return { status: 201, body: { sequence: seq, byte_start: start, byte_end: start + body.length } };
  });
}

/** Seal of an `object_segments` stream (spec 06 §2.6): hash the segments in order, version `ready`. */
export async function sealSegmentStream(api, c, s, versionId, truncated) {
  const { rows: segs } = await c.query('SELECT sequence, object_key, byte_start, size_bytes FROM log_segment WHERE stream = $1 ORDER BY sequence', [s.id]);
  let offset = 0;
  const h = createHash('sha256');
  for (const [i, seg] of segs.entries()) {
    if (Number(seg.sequence) !== i || Number(seg.byte_start) !== offset) return { status: 409, body: { error: 'Log segments are not contiguous' } };
    h.update(api.objects.get(seg.object_key) ?? Buffer.alloc(0));
    offset += Number(seg.size_bytes);
  }
  if (segs.length !== Number(s.next_sequence) || offset !== Number(s.total_bytes)) return { status: 409, body: { error: 'Log stream is not ready' } };
  const hex = h.digest('hex');
  await c.query('UPDATE log_stream SET sealed = TRUE, truncated = truncated OR $2, sealed_at = COALESCE(sealed_at, NOW()) WHERE id = $1', [s.id, truncated]);
  await c.query(`UPDATE artifact_version SET body_state = 'ready', provider_version = $2, size_bytes = $3, sha256 = $4 WHERE id = $1`, [
    versionId,
    `segments:${segs.length}`,
    offset,
    hex,
  ]);
  return { status: 200, body: { sealed: true, total_bytes: offset, sha256: hex } };
}

/** `PUT /api/v1/internal/files/{path}` (spec 06 §7.2): body checked against `x-attune-sha256`, staged for complete; 201. */
export function writeFile(api, ctx) {
  const filePath = decodeFilePath(ctx.params[0]);
  if (badPath(filePath)) return { status: 400, body: { error: 'Invalid file path' } };
  const declared = ctx.headers['x-attune-sha256'];
  if (typeof declared !== 'string' || !/^[0-9a-f]{64}$/.test(declared)) return { status: 400, body: { error: 'x-attune-sha256 header is required' } };
  const length = Number(ctx.headers['content-length']);
  if (Number.isFinite(length) && length !== ctx.body.length) return { status: 400, body: { error: 'Body length does not match Content-Length' } };
  if (sha256(ctx.body) !== declared) return { status: 400, body: { error: 'SHA-256 mismatch' } };
  api.files.set(filePath, { bytes: Buffer.from(ctx.body), contentType: ctx.headers['content-type'] ?? null });
  return { status: 201, headers: { 'x-attune-size': String(ctx.body.length) }, body: { size_bytes: ctx.body.length } };
}
