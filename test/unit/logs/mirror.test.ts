import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createMirrorOutput, MIRROR_FRAGMENT_BYTES, RuntimeLogMirror, type MirrorSource } from '../../../src/logs/mirror';

const SOURCE: MirrorSource = {
  executionId: 7,
  parentExecutionId: null,
  actionRef: 'mypack.a',
  packRef: 'mypack',
  traceTag: null,
  workerId: 3,
  workerName: 'w1',
  workerInstance: '00000000-0000-4000-8000-000000000000',
};

function capture(max: number | null = null): { mirror: RuntimeLogMirror; records: () => Record<string, unknown>[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const mirror = new RuntimeLogMirror(SOURCE, 'stdout', createMirrorOutput(out, () => undefined), max);
  return { mirror, records: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('RuntimeLogMirror (spec 06 §4.2, §4.3)', () => {
  it('emits one NDJSON record per line with upstream fields, json/text bodies and byte ranges', () => {
    const { mirror, records } = capture();
    mirror.write(Buffer.from('{"a":1}\npla'));
    mirror.write(Buffer.from('in\n'));
    mirror.end();
    const r = records();
    expect(r).toHaveLength(2);
    expect(Object.keys(r[0] as object)).toEqual([
      'event', 'observed_at', 'source_kind', 'execution_id', 'parent_execution_id', 'action_ref', 'pack_ref', 'trace_tag', 'worker_id',
      'worker_name', 'worker_instance', 'source_stream', 'byte_start', 'byte_end', 'fragment_index', 'continued', 'truncated', 'body_type', 'body',
    ]);
    expect(r[0]).toMatchObject({ event: 'attune.runtime_log', source_kind: 'execution', execution_id: 7, source_stream: 'stdout', byte_start: 0, byte_end: 7, body_type: 'json', body: { a: 1 } });
    expect(r[1]).toMatchObject({ byte_start: 8, byte_end: 13, body_type: 'text', body: 'plain', continued: false });
  });

  it('emits a final unterminated line, drops a trailing CR and base64-encodes invalid UTF-8', () => {
    const { mirror, records } = capture();
    mirror.write(Buffer.from('x\r\n'));
    mirror.write(Buffer.from([0xff, 0xfe]));
    mirror.end();
    const r = records();
    expect(r[0]).toMatchObject({ body: 'x', body_type: 'text' });
    expect(r[1]).toMatchObject({ body_type: 'bytes', body_encoding: 'base64', body: Buffer.from([0xff, 0xfe]).toString('base64'), byte_start: 3, byte_end: 5 });
  });

  it('splits lines over 128 KiB into continued fragments', () => {
    const { mirror, records } = capture();
    mirror.write(Buffer.alloc(MIRROR_FRAGMENT_BYTES + 10, 0x61));
    mirror.write(Buffer.from('\n'));
    mirror.end();
    const r = records();
    expect(r.map((x) => [x.fragment_index, x.continued, x.byte_start, x.byte_end])).toEqual([
      [0, true, 0, MIRROR_FRAGMENT_BYTES],
      [1, false, MIRROR_FRAGMENT_BYTES, MIRROR_FRAGMENT_BYTES + 10],
    ]);
  });

  it('stops at the cap with one truncated record', () => {
    const { mirror, records } = capture(5);
    mirror.write(Buffer.from('abc\ndefgh\n'));
    mirror.write(Buffer.from('more\n'));
    mirror.end();
    const r = records();
    expect(r.map((x) => x.body)).toEqual(['abc', 'd', 'Runtime log mirror reached its configured byte limit']);
    expect(r[2]).toMatchObject({ truncated: true, byte_start: 5, byte_end: 5, body_type: 'text' });
  });
});
