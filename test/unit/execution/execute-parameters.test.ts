/**
 * Parameter delivery end to end with real interpreters (spec 03 §2; §10 items 8–13): each child
 * reports what it received, and the test decodes it per format and compares values.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { ExecutionRequest } from '../../../src/execution/types';
import { HAS_BASH, HAS_NODE, HAS_PYTHON, makePack, makeRequest, run, tempDir } from './helpers';

const PARAMS = { message: "hi 'there' ünï", count: 3, nested: { a: true }, list: [1, 'x'] };
const DOTENV_VIEW = { count: '3', list: '[1,"x"]', message: "hi 'there' ünï", 'nested.a': 'true' };

function decode(format: string, doc: string): unknown {
  if (format === 'json') return JSON.parse(doc);
  if (format === 'yaml') return YAML.parse(doc);
  const out: Record<string, string> = {};
  for (const line of doc.split('\n')) {
    const m = /^([^=]+)='(.*)'$/.exec(line);
    if (!m) throw new Error(`bad dotenv line ${JSON.stringify(line)}`);
    out[m[1] as string] = (m[2] as string).split("'\\''").join("'");
  }
  return out;
}

interface Report {
  delivery: string;
  format: string;
  file: string | null;
  stdin: string;
  fileContent: string | null;
  mode: string | null;
}

const SHELL_REPORTER = `printf 'DELIVERY=%s\\nFORMAT=%s\\nFILE=%s\\n' "$ATTUNE_PARAMETER_DELIVERY" "$ATTUNE_PARAMETER_FORMAT" "\${ATTUNE_PARAMETER_FILE-}"
if [ -n "\${ATTUNE_PARAMETER_FILE-}" ]; then printf 'MODE=%s\\n' "$(stat -c %a "$ATTUNE_PARAMETER_FILE")"; fi
printf -- '--STDIN--\\n'; cat; printf -- '--FILE--\\n'
if [ -n "\${ATTUNE_PARAMETER_FILE-}" ]; then cat "$ATTUNE_PARAMETER_FILE"; fi
`;

const PY_REPORTER = `import json, os, sys
f = os.environ.get('ATTUNE_PARAMETER_FILE')
out = {'delivery': os.environ.get('ATTUNE_PARAMETER_DELIVERY'), 'format': os.environ.get('ATTUNE_PARAMETER_FORMAT'),
       'file': f, 'stdin': sys.stdin.read(), 'fileContent': None, 'mode': None}
if f:
    out['fileContent'] = open(f, encoding='utf-8').read()
    out['mode'] = format(os.stat(f).st_mode & 0o777, 'o')
print(json.dumps(out))
`;

const NODE_REPORTER = `const fs = require('fs');
const f = process.env.ATTUNE_PARAMETER_FILE;
console.log(JSON.stringify({ delivery: process.env.ATTUNE_PARAMETER_DELIVERY, format: process.env.ATTUNE_PARAMETER_FORMAT,
  file: f ?? null, stdin: fs.readFileSync(0, 'utf8'), fileContent: f ? fs.readFileSync(f, 'utf8') : null,
  mode: f ? (fs.statSync(f).mode & 0o777).toString(8) : null }));
`;

function parseShellReport(stdout: string): Report {
  const [head, rest] = stdout.split('--STDIN--\n') as [string, string];
  const [stdin, fileContent] = rest.split('--FILE--\n') as [string, string];
  const get = (k: string): string | null => new RegExp(`^${k}=(.*)$`, 'm').exec(head)?.[1] ?? null;
  const file = get('FILE');
  return { delivery: get('DELIVERY') ?? '', format: get('FORMAT') ?? '', file: file || null, stdin, fileContent: file ? fileContent : null, mode: get('MODE') };
}

interface Interp {
  name: string;
  available: boolean;
  file: string;
  body: string;
  request: Partial<ExecutionRequest>;
  report: (result: Record<string, unknown>) => Report;
}

const jsonReport = (r: Record<string, unknown>): Report => r.data as Report;
const textReport = (r: Record<string, unknown>): Report => parseShellReport(r.stdout as string);

const INTERPRETERS: Interp[] = [
  { name: 'bash', available: HAS_BASH, file: 'act.sh', body: SHELL_REPORTER, request: { runtimeName: 'shell' }, report: textReport },
  {
    name: 'sh',
    available: fs.existsSync('/bin/sh'),
    file: 'act.sh',
    body: SHELL_REPORTER,
    request: { runtimeName: 'shell', runtimeConfig: { interpreter: { binary: '/bin/sh', args: [], file_extension: '.sh' } } },
    report: textReport,
  },
  { name: 'python3', available: HAS_PYTHON, file: 'act.py', body: PY_REPORTER, request: { runtimeName: 'python', outputFormat: 'json' }, report: jsonReport },
  { name: 'node', available: HAS_NODE, file: 'act.js', body: NODE_REPORTER, request: { runtimeName: 'node.js', outputFormat: 'json' }, report: jsonReport },
];

describe.each(INTERPRETERS.map((i) => [i.name, i] as const))('parameter delivery × format with %s', (_name, interp) => {
  const cases = (['stdin', 'file'] as const).flatMap((delivery) => (['json', 'dotenv', 'yaml'] as const).map((format) => [`${delivery}+${format}`, delivery, format] as const));

  it.skipIf(!interp.available).each(cases)('%s delivers the document intact', async (_n, delivery, format) => {
    const packDir = makePack({ [interp.file]: interp.body });
    const tmp = tempDir('attune-tmp-');
    const outcome = await run(
      makeRequest({ packDir, entrypoint: interp.file, parameters: PARAMS, parameterDelivery: delivery, parameterFormat: format, ...interp.request }),
      { tmpDir: tmp },
    );
    expect(outcome.status).toBe('completed');
    const report = interp.report(outcome.result);
    expect(report.delivery).toBe(delivery);
    expect(report.format).toBe(format);
    const expected = format === 'dotenv' ? DOTENV_VIEW : PARAMS;
    if (delivery === 'stdin') {
      expect(report.file).toBeNull();
      expect(report.stdin.endsWith('\n')).toBe(true);
      expect(decode(format, report.stdin.slice(0, -1))).toEqual(expected);
    } else {
      expect(report.stdin).toBe('');
      expect(report.mode).toBe('400');
      expect(report.fileContent?.endsWith('\n')).toBe(format === 'yaml'); // yaml's own newline only
      expect(decode(format, report.fileContent as string)).toEqual(expected);
      expect(fs.existsSync(report.file as string)).toBe(false);
      expect(fs.readdirSync(tmp)).toEqual([]);
    }
  });
});

describe('exact stdin documents', () => {
  it.skipIf(!HAS_BASH)('stdin+json sends one line then EOF and no parameter file (§10 item 8)', async () => {
    const packDir = makePack({ 'act.sh': 'cat; echo "file=${ATTUNE_PARAMETER_FILE-unset}"' });
    const outcome = await run(makeRequest({ packDir, parameters: { message: 'hi' } }));
    expect(outcome.result.stdout).toBe('{"message":"hi"}\nfile=unset\n');
  });

  it.skipIf(!HAS_BASH)('sends {}\\n without parameters (§10 item 9) and a lone newline for empty dotenv', async () => {
    const packDir = makePack({ 'act.sh': 'cat' });
    expect((await run(makeRequest({ packDir }))).result.stdout).toBe('{}\n');
    expect((await run(makeRequest({ packDir, parameters: 'not an object' }))).result.stdout).toBe('{}\n');
    expect((await run(makeRequest({ packDir, parameterFormat: 'dotenv' }))).result.stdout).toBe('\n');
  });

  it.skipIf(!HAS_BASH)('sends the exact dotenv text of the spec example (§10 item 10)', async () => {
    const packDir = makePack({ 'act.sh': 'cat' });
    const outcome = await run(
      makeRequest({ packDir, parameterFormat: 'dotenv', parameters: { b: 1, a: "it's", h: { x: true }, l: [1, 2], n: null } }),
    );
    expect(outcome.result.stdout).toBe("a='it'\\''s'\nb='1'\nh.x='true'\nl='[1,2]'\nn=''\n");
  });

  it.skipIf(!HAS_BASH)('ends yaml over stdin with a blank line', async () => {
    const packDir = makePack({ 'act.sh': 'cat' });
    const outcome = await run(makeRequest({ packDir, parameterFormat: 'yaml', parameters: { count: 42, message: 'Hello' } }));
    expect(outcome.result.stdout).toBe('count: 42\nmessage: Hello\n\n');
  });
});

describe('parameters stay off argv and out of the environment (§10 item 12)', () => {
  it.skipIf(!HAS_PYTHON)('python sees interpreter, -u and the file as argv and no parameter value in environ', async () => {
    const canary = 'CANARY-PARAM-8f3a';
    const body = `import json, os, sys
sys.stdin.read()
cmd = open('/proc/self/cmdline', 'rb').read().split(b'\\0')[:-1]
env = open('/proc/self/environ', 'rb').read()
print(json.dumps({'argv': [a.decode() for a in cmd], 'inEnv': b'${canary}' in env}))
`;
    const packDir = makePack({ 'act.py': body });
    for (const delivery of ['stdin', 'file']) {
      const outcome = await run(
        makeRequest({ packDir, entrypoint: 'act.py', runtimeName: 'python', outputFormat: 'json', parameterDelivery: delivery, parameters: { token: canary } }),
      );
      const data = outcome.result.data as { argv: string[]; inEnv: boolean };
      expect(data.argv.slice(1)).toEqual(['-u', `${packDir}/actions/act.py`]);
      expect(data.argv.join(' ')).not.toContain(canary);
      expect(data.inEnv).toBe(false);
    }
  });
});

describe('inline shell helpers (§10 item 13)', () => {
  const code = 'echo "$PARAM_MESSAGE|$message|$PARAM_MY_KEY"; env | grep -c -e "^message=" -e "^PARAM_" || true; printf "stdin=[%s]" "$(cat)"';

  it.skipIf(!HAS_BASH)('sets PARAM_ and bare variables without exporting them, with empty stdin, for a missing file', async () => {
    const packDir = makePack({});
    const tmp = tempDir('attune-tmp-');
    const outcome = await run(makeRequest({ packDir, entrypoint: code, parameters: { message: "it's", 'my-key': 7 } }), { tmpDir: tmp });
    expect(outcome.status).toBe('completed');
    expect(outcome.result.stdout).toBe("it's|it's|7\n0\nstdin=[]");
    // The wrapper script is deleted after the run.
    expect(fs.readdirSync(`${tmp}/attune/inline_actions`)).toEqual([]);
  });

  it.skipIf(!HAS_BASH)('treats the entrypoint of an ad-hoc action as inline code', async () => {
    const outcome = await run(makeRequest({ packDir: makePack({}), isAdhoc: true, entrypoint: code, parameters: { message: 'm' } }));
    expect(outcome.result.stdout).toBe('m|m|\n0\nstdin=[]');
  });
});
