/**
 * Hostile input: the config loader (src/config/load.ts) with arbitrary YAML text, arbitrary
 * YAML documents over the real keys, and arbitrary ATTUNE__* environment values. It either
 * returns a fully typed config or throws one ConfigError listing the problems — never another
 * exception, never a hang — and secret values never appear in its messages.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { loadConfig, type LoadConfigOptions } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { ConfigError } from '../../src/errors';
import { CaseCounter, fcParams } from './fuzz-helpers';

const counter = new CaseCounter();
counter.printAfterAll('config');

// The yaml package reports unknown directives/tags through process.emitWarning (printed on the
// agent's stderr, outside its JSON log) while loading succeeds: counted here instead of printed.
let yamlWarnings = 0;
const originalEmitWarning = process.emitWarning;
beforeAll(() => {
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (String((w as Error)?.name ?? '').startsWith('YAML') || /YAML/.test(String(rest[0] ?? ''))) yamlWarnings++;
    else (originalEmitWarning as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
});
afterAll(() => {
  process.emitWarning = originalEmitWarning;
  console.log(`[fuzz] config: ${yamlWarnings} YAML warnings went to process.emitWarning (stderr) instead of the config warnings`);
});

const REQUIRED_ENV = { ATTUNE__MESSAGE_QUEUE__URL: 'amqp://guest:guest@localhost:5672/%2f', ATTUNE__SECURITY__JWT_SECRET: 'fuzz' };

function load(files: Record<string, string>, env: Record<string, string | undefined>): { config: Config } | { error: ConfigError } {
  const opts: LoadConfigOptions = {
    env,
    cwd: '/fuzz',
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error(`ENOENT ${p}`);
      return f;
    },
    fileExists: (p) => p in files,
  };
  try {
    return { config: loadConfig(opts).config };
  } catch (e) {
    if (e instanceof ConfigError) return { error: e };
    throw e; // anything else fails the property
  }
}

function checkConfig(c: Config): void {
  expect(Number.isInteger(c.worker.maxConcurrentTasks) && c.worker.maxConcurrentTasks >= 1).toBe(true);
  expect(Number.isInteger(c.worker.heartbeatIntervalSec) && c.worker.heartbeatIntervalSec >= 1).toBe(true);
  expect(typeof c.database.url).toBe('string');
  expect(/^[A-Za-z0-9_]{1,63}$/.test(c.database.schema)).toBe(true);
  expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(c.log.level);
  expect(Object.isFrozen(c)).toBe(true);
}

function checkError(e: ConfigError): void {
  expect(e.message.length).toBeGreaterThan(10);
  expect(e.message.length).toBeLessThan(20_000);
}

const SECTIONS: Record<string, string[]> = {
  database: ['url', 'max_connections', 'min_connections', 'connect_timeout', 'schema', 'log_statements'],
  message_queue: ['url', 'exchange', 'enable_dlq', 'message_ttl'],
  security: ['jwt_secret', 'encryption_key', 'enable_auth'],
  worker: ['name', 'worker_type', 'max_concurrent_tasks', 'heartbeat_interval', 'shutdown_timeout', 'labels', 'taints', 'passthrough_env', 'capabilities', 'max_stdout_bytes', 'run_as_user', 'run_as_group'],
  log: ['level', 'format'],
  agent: ['health_port', 'startup_timeout'],
  packs: ['transport'],
};
const KEYS = Object.entries(SECTIONS).flatMap(([s, ks]) => ks.map((k) => [s, k] as const));

const scalar = fc.oneof(fc.string({ maxLength: 30 }), fc.integer({ min: -5, max: 100_000 }), fc.boolean(), fc.constant(null), fc.double(), fc.constantFrom('10', '0', '-1', 'yes', 'off', 'info', 'volume', 'nobody', '65534', ''));
const yamlDoc = fc
  .array(fc.tuple(fc.constantFrom(...KEYS), fc.oneof(scalar, fc.jsonValue({ maxDepth: 2 }))), { maxLength: 12 })
  .map((entries) => {
    const doc: Record<string, Record<string, unknown>> = {};
    for (const [[section, key], value] of entries) (doc[section] ??= {})[key] = value;
    return doc;
  });

describe('loadConfig on hostile input', () => {
  it('arbitrary text as config.yaml: a config or one ConfigError, bounded time', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        const r = counter.time('loadConfig(text)', () => load({ '/fuzz/config.yaml': text }, REQUIRED_ENV));
        if ('config' in r) checkConfig(r.config);
        else checkError(r.error);
      }),
      fcParams(),
    );
  });

  it('arbitrary YAML documents over the real keys: typed config or one ConfigError', () => {
    fc.assert(
      fc.property(yamlDoc, (doc) => {
        const r = counter.time('loadConfig(yaml keys)', () => load({ '/fuzz/config.yaml': toYaml(doc) }, REQUIRED_ENV));
        if ('config' in r) checkConfig(r.config);
        else {
          checkError(r.error);
          // Every problem names a key the document really had (or a whole file).
          for (const p of r.error.problems) expect(p.key).toMatch(/^([a-z_]+(\.[a-z_]+)*|\/fuzz\/.*)$/);
        }
      }),
      fcParams(),
    );
  });

  it('values whose keys shadow Object.prototype members, and alias cycles, on every real key: never a TypeError', () => {
    // Issue 14 (seed 430611674): {toString: 0} reached String() and crashed `attune-agent run`.
    const shadow = fc.dictionary(
      fc.constantFrom('toString', 'valueOf', 'toJSON', 'constructor', 'hasOwnProperty', '__proto__', 'then', 'length'),
      fc.oneof(scalar, fc.constant({})),
      { minKeys: 1, maxKeys: 3 },
    );
    const placed = fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.oneof(shadow, fc.array(shadow, { maxLength: 2 }), fc.constant('cycle'))), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(placed, (entries) => {
        const lines: string[] = [];
        const bySection = new Map<string, string[]>();
        for (const [[section, key], value] of entries) {
          const text = value === 'cycle' ? `&c${bySection.size} [*c${bySection.size}]` : JSON.stringify(value);
          const list = bySection.get(section) ?? [];
          if (list.some((l) => l.startsWith(`  ${key}:`))) continue;
          list.push(`  ${key}: ${text}`);
          bySection.set(section, list);
        }
        for (const [section, list] of bySection) lines.push(`${section}:`, ...list);
        const r = counter.time('loadConfig(shadowing values)', () => load({ '/fuzz/config.yaml': `${lines.join('\n')}\n` }, REQUIRED_ENV));
        if ('config' in r) checkConfig(r.config);
        else {
          checkError(r.error);
          for (const p of r.error.problems) expect(p.key).toMatch(/^([a-z_]+(\.[a-z_]+)*|\/fuzz\/.*)$/);
        }
      }),
      fcParams(),
    );
  });

  it('arbitrary ATTUNE__* environment (names and values): typed config or one ConfigError', () => {
    const envName = fc.oneof(
      fc.constantFrom(...KEYS).map(([s, k]) => `ATTUNE__${s.toUpperCase()}__${k.toUpperCase()}`),
      fc.stringMatching(/^ATTUNE__[A-Z_]{0,24}$/),
    );
    fc.assert(
      fc.property(fc.dictionary(envName, fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('1', '0', 'true', '1e3', ' 7 ', '-0', 'nobody'))), (env) => {
        const r = counter.time('loadConfig(env)', () => load({}, { ...REQUIRED_ENV, ...env }));
        if ('config' in r) checkConfig(r.config);
        else checkError(r.error);
      }),
      fcParams(),
    );
  });

  it('secret values (database/broker passwords, keys) never appear in error messages', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4, maxLength: 30 }).filter((s) => /^[A-Za-z0-9]+$/.test(s)), yamlDoc, (pw, doc) => {
        const canary = `Cnry${pw}`;
        const env = {
          ...REQUIRED_ENV,
          ATTUNE__DATABASE__URL: `postgresql://u:${canary}@db:5432/x`,
          ATTUNE__MESSAGE_QUEUE__URL: `amqp://u:${canary}@mq:5672/%2f`,
          ATTUNE__SECURITY__JWT_SECRET: canary,
          ATTUNE__SECURITY__ENCRYPTION_KEY: canary, // < 32 chars: always a problem
        };
        const r = counter.time('loadConfig(secrets)', () => load({ '/fuzz/config.yaml': toYaml(doc) }, env));
        expect('error' in r).toBe(true);
        if ('error' in r) {
          expect(r.error.message).not.toContain(canary);
          expect(JSON.stringify(r.error.problems)).not.toContain(canary);
        }
      }),
      fcParams(),
    );
  });

  it('a secret key given the wrong type is reported as [REDACTED], not echoed', () => {
    const r = load({ '/fuzz/config.yaml': toYaml({ security: { encryption_key: { value: 'Cnry-structured-secret' } }, database: { url: ['Cnry-db-list'] } }) }, REQUIRED_ENV);
    expect('error' in r).toBe(true);
    if ('error' in r) {
      expect(r.error.message).toContain('security.encryption_key');
      expect(r.error.message).toContain('database.url');
      expect(r.error.message).not.toContain('Cnry');
    }
  });

  it('a YAML alias bomb ("billion laughs") is refused quickly as invalid YAML', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    lines.push('worker: { name: *j }');
    const r = counter.time('loadConfig(alias bomb)', () => load({ '/fuzz/config.yaml': lines.join('\n') }, REQUIRED_ENV), 5000);
    expect('error' in r).toBe(true);
    if ('error' in r) expect(r.error.message).toMatch(/not valid YAML|expected a string/);
  });
});
