/**
 * Hostile config values through the built agent: `attune-agent run` answers with one
 * configuration error naming the key (exit 1), never a JavaScript TypeError (issue 14).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBundle } from '../support/cli';

const dir = mkdtempSync(join(tmpdir(), 'agent-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function env(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(out)) if (k.startsWith('ATTUNE') || k === 'RUST_LOG') delete out[k];
  return out;
}

describe('attune-agent run with prototype-shadowing config values', () => {
  it.each([
    ['message_queue:\n  url: amqp://guest:guest@127.0.0.1:1/%2f\n  enable_dlq: {toString: 0}\n', 'message_queue.enable_dlq', /expected a boolean.*Got \{"toString":0\}/],
    ['message_queue:\n  url: amqp://guest:guest@127.0.0.1:1/%2f\nworker:\n  max_concurrent_tasks: {valueOf: 1}\n', 'worker.max_concurrent_tasks', /expected a whole number.*Got \{"valueOf":1\}/],
    ['message_queue:\n  url: amqp://guest:guest@127.0.0.1:1/%2f\nlog:\n  level: &a [*a]\n', 'log.level', /must be one of.*<cycle>/],
  ])('%j exits 1 with one error naming %s', async (yaml, key, detail) => {
    const cfg = join(dir, `${key}.yaml`);
    writeFileSync(cfg, yaml);
    const r = await runBundle(['-c', cfg, 'run'], { env: env(), cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/TypeError|Cannot convert object to primitive value/);
    expect(r.stderr).toMatch(new RegExp(`^Error: Invalid configuration: ${key.replace('.', '\\.')}: `));
    expect(r.stderr).toMatch(detail);
    expect(r.stderr).toContain(cfg);
  });
});
