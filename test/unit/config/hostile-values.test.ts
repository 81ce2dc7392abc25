/**
 * Config values that break naive coercion: objects whose keys shadow Object.prototype members
 * ({toString: 0}, {valueOf: 1}), `__proto__` keys, YAML alias cycles. Each must become one
 * ConfigError naming the key — never a TypeError such as "Cannot convert object to primitive
 * value" (issue 14: `npm run test:chaos`, seed 430611674).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load';
import { ConfigError, formatErrorChain, toError } from '../../../src/errors';
import { describeValue } from '../../../src/util/describe-value';

const MQ = 'amqp://guest:guest@localhost:5672/%2f';

function loadYaml(text: string): { config: unknown } | { error: ConfigError } {
  try {
    const { config } = loadConfig({
      env: {},
      cwd: '/w',
      readFile: () => text,
      fileExists: (p) => p === '/w/config.yaml',
    });
    return { config };
  } catch (e) {
    if (e instanceof ConfigError) return { error: e };
    throw e;
  }
}

function problemFor(text: string, key: string): { message: string; value?: string } {
  const r = loadYaml(text);
  if (!('error' in r)) throw new Error(`expected a ConfigError for ${key}`);
  const p = r.error.problems.find((x) => x.key === key);
  if (!p) throw new Error(`no problem for ${key}: ${r.error.message}`);
  return p;
}

describe('prototype-shadowing config values', () => {
  it('the fuzz counterexample: message_queue.enable_dlq: {toString: 0} is a config error naming the key', () => {
    const p = problemFor(`message_queue:\n  url: ${MQ}\n  enable_dlq: {toString: 0}\n`, 'message_queue.enable_dlq');
    expect(p.message).toMatch(/expected a boolean/);
    expect(p.value).toBe('{"toString":0}');
  });

  it('worker.max_concurrent_tasks: {valueOf: 1} still gets its proper message', () => {
    const p = problemFor(`message_queue:\n  url: ${MQ}\nworker:\n  max_concurrent_tasks: {valueOf: 1}\n`, 'worker.max_concurrent_tasks');
    expect(p.message).toMatch(/expected a whole number/);
    expect(p.value).toBe('{"valueOf":1}');
  });

  const hostile = ['{toString: 0}', '{valueOf: 1}', '{toString: 0, valueOf: 0}', '{toJSON: 1}', '{constructor: 1, hasOwnProperty: 2}', '[{toString: 0}]', '{__proto__: {toString: 0}}'];
  const keys: [string, string][] = [
    ['message_queue', 'enable_dlq'],
    ['message_queue', 'message_ttl'],
    ['message_queue', 'exchange'],
    ['database', 'log_statements'],
    ['database', 'schema'],
    ['database', 'max_connections'],
    ['log', 'level'],
    ['log', 'format'],
    ['worker', 'name'],
    ['worker', 'worker_type'],
    ['worker', 'passthrough_env'],
    ['worker', 'stream_logs'],
    ['worker', 'port'],
    ['agent', 'health_port'],
    ['packs', 'transport'],
  ];
  it.each(keys)('%s.%s with every shadowing object: one ConfigError naming the key', (section, key) => {
    for (const value of hostile) {
      const text = `message_queue:\n  url: ${MQ}\n${section}:\n  ${key}: ${value}\n`.replace(`message_queue:\n  url: ${MQ}\nmessage_queue:\n`, `message_queue:\n  url: ${MQ}\n`);
      const r = loadYaml(text);
      expect('error' in r, `${section}.${key}: ${value}`).toBe(true);
      if ('error' in r) {
        expect(r.error.problems.map((p) => p.key)).toContain(`${section}.${key}`);
        expect(() => formatErrorChain(r.error)).not.toThrow();
      }
    }
  });

  it('a YAML alias cycle is described as <cycle>, not a crash', () => {
    const p = problemFor(`message_queue:\n  url: ${MQ}\nworker:\n  max_concurrent_tasks: &a [1, *a]\n`, 'worker.max_concurrent_tasks');
    expect(p.value).toBe('[1,"<cycle>"]');
  });

  it('a __proto__ key stays a plain key: it neither configures nor pollutes anything', () => {
    const r = loadYaml(`message_queue:\n  url: ${MQ}\n__proto__:\n  database:\n    schema: evil\n`);
    expect('config' in r).toBe(true);
    if ('config' in r) expect((r.config as { database: { schema: string } }).database.schema).toBe('attune');
    expect(({} as Record<string, unknown>).database).toBeUndefined();
  });

  it('merges two files whose trees are both cyclic without overflowing the stack', () => {
    const text = `message_queue:\n  url: ${MQ}\nworker:\n  capabilities: &c {x: *c}\n`;
    const r = (() => {
      try {
        return loadConfig({ env: { ATTUNE_CONFIG: '/w/a.yaml' }, cwd: '/w', readFile: () => text, fileExists: (p) => p === '/w/a.yaml' || p === '/w/config.development.yaml' });
      } catch (e) {
        return e;
      }
    })();
    expect(r instanceof ConfigError || (typeof r === 'object' && r !== null && 'config' in r)).toBe(true);
  });
});

describe('describeValue / toError never throw', () => {
  it('describes hostile values without calling their members', () => {
    expect(describeValue({ toString: 0 })).toBe('{"toString":0}');
    expect(describeValue(10n)).toBe('"10n"');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue('x'.repeat(500), 20)).toHaveLength(20);
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(describeValue(cyc)).toBe('{"a":1,"self":"<cycle>"}');
    const shared = { v: 1 };
    expect(describeValue({ x: shared, y: shared })).toBe('{"x":{"v":1},"y":{"v":1}}');
  });

  it('toError turns a thrown {toString: 0} into an Error', () => {
    expect(toError({ toString: 0 }).message).toBe('{"toString":0}');
    expect(formatErrorChain({ valueOf: 1 })).toBe('Error: {"valueOf":1}');
  });
});
