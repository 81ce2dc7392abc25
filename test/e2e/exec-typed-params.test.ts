/**
 * `attune-agent exec -p k=v` on the built bundle uses the action's declared parameter types
 * and constraints (issue 14: `-p key_ref=2024` for a `type: string` parameter arrived as the
 * integer 2024; enums/min/max were not checked).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBundle } from '../support/cli';

const packs = mkdtempSync(join(tmpdir(), 'exec-typed-'));
afterAll(() => rmSync(packs, { recursive: true, force: true }));
mkdirSync(join(packs, 'typed', 'actions'), { recursive: true });
writeFileSync(join(packs, 'typed', 'pack.yaml'), 'ref: typed\nlabel: Typed\nversion: "1.0.0"\n');
// Like upstream's core actions: reject a non-string key_ref (the script sees exactly what arrived).
writeFileSync(
  join(packs, 'typed', 'actions', 'get.sh'),
  '#!/bin/sh\nin=$(cat)\ncase "$in" in *\'"key_ref":"\'*) printf \'%s\' "$in" ;; *) echo "key_ref must be a string: $in" >&2; exit 3 ;; esac\n',
);
chmodSync(join(packs, 'typed', 'actions', 'get.sh'), 0o755);
writeFileSync(
  join(packs, 'typed', 'actions', 'get.yaml'),
  `ref: typed.get
runner_type: shell
entry_point: get.sh
parameter_delivery: stdin
parameter_format: json
output_format: json
parameters:
  key_ref: {type: string, required: true}
  limit: {type: integer, minimum: 1, maximum: 100, default: 10}
  scope: {type: string, enum: [system, user]}
`,
);

function env(): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = { ...process.env, ATTUNE__RUNTIME_ENVS_DIR: join(packs, '.envs') };
  for (const k of Object.keys(e)) if (k.startsWith('ATTUNE_') && k !== 'ATTUNE__RUNTIME_ENVS_DIR') delete e[k];
  return e;
}

const exec = (params: string[]) =>
  runBundle(['exec', 'typed.get', ...params.flatMap((p) => ['-p', p]), '--packs-dir', packs], { env: env(), timeoutMs: 60_000 });

describe('attune-agent exec with declared parameter types', () => {
  it('-p key_ref=2024 reaches a type: string parameter as the string "2024"; limit=5 as an integer', async () => {
    const r = await exec(['key_ref=2024', 'limit=5']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { status: string; result: { data: unknown } };
    expect(doc.status).toBe('completed');
    expect(doc.result.data).toEqual({ key_ref: '2024', limit: 5 });
  });

  it('an out-of-range or non-enum value is a usage error naming the parameters (exit 2), nothing runs', async () => {
    const r = await exec(['key_ref=k', 'limit=500', 'scope=global']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `Error: Invalid parameters for action 'typed.get': 'limit' must be ≤ 100, got 500; 'scope' must be one of "system", "user", got "global"\n`,
    );
  });

  it('a value that is not the declared type is refused before the run (exit 2)', async () => {
    const r = await exec(['key_ref=k', 'limit=ten']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`Error: Invalid parameter for action 'typed.get': 'limit' expects an integer, got "ten"\n`);
  });
});
