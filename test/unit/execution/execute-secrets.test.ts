/**
 * Secrets never leak into logs or error texts, and results are redacted (spec 03 §4.5;
 * STYLE.md "Logging").
 */
import { describe, expect, it } from 'vitest';
import { captureLogger, HAS_BASH, HAS_PYTHON, makePack, makeRequest, run } from './helpers';

const CANARY = 'CANARY-SECRET-7f3e91';
const MARKER = { $attune_secret: true, redacted: true };

describe('secret canary', () => {
  it.skipIf(!HAS_BASH)('redacts an echoed secret parameter from stdout and error and keeps it out of the logs', async () => {
    const { log, text } = captureLogger();
    const body = 'read -r p; echo "got $p"; echo "failed with $p" >&2; exit 1';
    const outcome = await run(
      makeRequest({ packDir: makePack({ 'act.sh': body }), parameters: { token: CANARY }, secretParameterPaths: ['/token'], envVars: { EXTRA: CANARY } }),
      { log },
    );
    expect(outcome.status).toBe('failed');
    expect(outcome.result).toMatchObject({ stdout: MARKER, error: MARKER, exit_code: 1 });
    expect(JSON.stringify(outcome.result)).not.toContain(CANARY);
    expect(outcome.redactedValues.map((v) => v.jsonPath)).toEqual(['/stdout', '/error']);
    expect(String(outcome.redactedValues[0]?.value)).toContain(CANARY);
    expect(text()).toContain('action process finished'); // the capture works…
    expect(text()).not.toContain(CANARY); // …and holds no secret
  });

  it('keeps secrets out of preparation and runtime error texts and logs', async () => {
    const { log, text } = captureLogger();
    const prep = await run(makeRequest({ packDir: makePack({}), parameters: { token: CANARY }, envVars: { X: 1 } }), { log });
    const missing = await run(makeRequest({ packDir: makePack({}), entrypoint: 'gone.py', runtimeName: 'python', parameters: { token: CANARY } }), { log });
    const traversal = await run(makeRequest({ packDir: makePack({}), entrypoint: '../x', parameters: { token: CANARY } }), { log });
    for (const o of [prep, missing, traversal]) {
      expect(o.status).toBe('failed');
      expect(JSON.stringify(o.result)).not.toContain(CANARY);
    }
    expect(text()).toContain('execution failed before a result');
    expect(text()).not.toContain(CANARY);
  });

  it.skipIf(!HAS_PYTHON)('redacts secret out_schema fields of the parsed data', async () => {
    const body = 'import json, sys\np = json.loads(sys.stdin.readline())\nprint(json.dumps({"user": "u", "token": p["token"]}))';
    const outcome = await run(
      makeRequest({
        packDir: makePack({ 'act.py': body }),
        entrypoint: 'act.py',
        runtimeName: 'python',
        outputFormat: 'json',
        parameters: { token: CANARY },
        outSchema: { user: { type: 'string' }, token: { type: 'string', secret: true } },
      }),
    );
    expect(outcome.status).toBe('completed');
    expect(outcome.result.data).toEqual({ user: 'u', token: MARKER });
    expect(outcome.redactedValues).toEqual([{ jsonPath: '/data/token', value: CANARY, sourceKind: 'parameter_schema', sourceRef: '/token' }]);
  });
});
