import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log';
import { childWith } from '../../../src/util/log-bindings';
import { findDuplicateKeys } from '../../support/json-keys';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  return { lines, stream };
}

describe('findDuplicateKeys (raw JSON text)', () => {
  it('finds keys JSON.parse would silently merge, at any depth', () => {
    expect(findDuplicateKeys('{"a":1,"b":{"c":1,"c":2},"a":3}')).toEqual(['b.c', 'a']);
    expect(findDuplicateKeys('{"a":[{"x":1},{"x":2}],"s":"{\\"a\\":1,\\"a\\":2}"}')).toEqual([]);
  });
});

describe('childWith', () => {
  it('binds each key once: re-binding workerId/executionId/actionRef adds no duplicate', () => {
    const { lines, stream } = capture();
    const root = createLogger({ level: 'info', format: 'json', destination: stream });
    const worker = root.child({ workerId: 7, worker: 'w' });
    const service = childWith(worker, { component: 'executions', workerId: 7 });
    const perExec = childWith(service, { executionId: 42, actionRef: 'p.a' });
    const engine = childWith(perExec, { executionId: 42, actionRef: 'p.a' });
    engine.info({ exitCode: 0 }, 'execution finished');
    // The plain pino child shows the bug this guards against.
    worker.child({ workerId: 7 }).info('x');
    expect(lines).toHaveLength(2);
    expect(findDuplicateKeys(lines[0]!)).toEqual([]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ workerId: 7, component: 'executions', executionId: 42, actionRef: 'p.a', exitCode: 0 });
    expect(findDuplicateKeys(lines[1]!)).toEqual(['workerId']);
  });

  it('returns the same logger when nothing new is bound', () => {
    const root = createLogger({ level: 'info', format: 'json', destination: capture().stream });
    const a = root.child({ k: 1 });
    expect(childWith(a, { k: 1 })).toBe(a);
  });
});
