import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentError, UsageError } from '../../../src/errors';
import { loadLocalAction, parseParameters, runtimeNameForRunnerType } from '../../../src/local/pack';
import { parseParamFlag, resolveLocalParameters } from '../../../src/local/request';

const PACKS = resolve(__dirname, '../../fixtures/packs');
const cwd = process.cwd();

describe('loadLocalAction', () => {
  it('finds pack.action via the ref in pack.yaml when the directory name differs', () => {
    const action = loadLocalAction({ target: 'demo_test.py_json', packsDir: PACKS, cwd });
    expect(action).toMatchObject({
      ref: 'demo_test.py_json',
      packRef: 'demo_test',
      packDir: join(PACKS, 'demo-test'),
      entrypoint: 'py_json.py',
      runnerType: 'python',
      runtimeName: 'python',
      parameterDelivery: 'stdin',
      parameterFormat: 'json',
      outputFormat: 'json',
      timeoutSec: null,
    });
    expect(action.parameters).toEqual([
      { name: 'name', type: 'string', required: false, secret: false, hasDefault: true, default: 'world' },
      { name: 'count', type: 'integer', required: false, secret: false, hasDefault: true, default: 1 },
    ]);
  });

  it('loads an action from a path to its YAML file (relative to cwd)', () => {
    const action = loadLocalAction({ target: 'test/fixtures/packs/demo-test/actions/node_json.yaml', cwd: resolve(__dirname, '../../..') });
    expect(action).toMatchObject({ ref: 'demo_test.node_json', runtimeName: 'node.js', parameterDelivery: 'file' });
  });

  it('lists the available actions of the pack when the action is unknown', () => {
    const err = (() => {
      try {
        loadLocalAction({ target: 'demo_test.nope', packsDir: PACKS, cwd });
      } catch (e) {
        return e as AgentError;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(AgentError);
    expect(err.code).toBe('ACTION_INVALID');
    expect(err.message).toMatch(/^Action 'demo_test\.nope' not found in pack 'demo_test' \(.*demo-test\); available actions: /);
    for (const ref of ['demo_test.echo', 'demo_test.fail', 'demo_test.py_json', 'demo_test.node_json', 'demo_test.sleep']) {
      expect(err.message).toContain(ref);
    }
  });

  it('lists the known packs when the pack is unknown', () => {
    expect(() => loadLocalAction({ target: 'nopack.echo', packsDir: PACKS, cwd })).toThrow(/Pack 'nopack' not found in .* \(available packs: .*demo_test/);
  });

  it('rejects a target that is neither pack.action nor a file, and a ref without --packs-dir', () => {
    expect(() => loadLocalAction({ target: 'echo', packsDir: PACKS, cwd })).toThrow(UsageError);
    expect(() => loadLocalAction({ target: 'demo_test.echo', packsDir: null, cwd })).toThrow(/pass --packs-dir/);
  });

  describe('with a temporary pack', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'localpack-'));
      mkdirSync(join(dir, 'mypack', 'actions'), { recursive: true });
      writeFileSync(join(dir, 'mypack', 'pack.yaml'), 'ref: mypack\n');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('qualifies `name`/unqualified refs, defaults runner_type to shell and reads timeout_seconds', () => {
      writeFileSync(join(dir, 'mypack', 'actions', 'a.yaml'), 'name: hello\nentry_point: hello.sh\ntimeout_seconds: 45\n');
      const action = loadLocalAction({ target: 'mypack.hello', packsDir: dir, cwd });
      expect(action).toMatchObject({ ref: 'mypack.hello', runtimeName: 'shell', runnerType: 'shell', timeoutSec: 45, outputFormat: 'text' });
    });

    it('rejects an action without entry_point and a workflow action, naming the action', () => {
      writeFileSync(join(dir, 'mypack', 'actions', 'noentry.yaml'), 'ref: mypack.noentry\nrunner_type: shell\n');
      writeFileSync(join(dir, 'mypack', 'actions', 'wf.yaml'), 'ref: mypack.wf\nworkflow_file: workflows/x.yaml\n');
      expect(() => loadLocalAction({ target: 'mypack.noentry', packsDir: dir, cwd })).toThrow(/Action 'mypack.noentry' .* has no entry_point/);
      expect(() => loadLocalAction({ target: 'mypack.wf', packsDir: dir, cwd })).toThrow(/workflow action/);
    });

    it('refuses an action file outside an actions/ directory', () => {
      writeFileSync(join(dir, 'stray.yaml'), 'ref: x.y\nentry_point: y.sh\n');
      expect(() => loadLocalAction({ target: join(dir, 'stray.yaml'), cwd })).toThrow(/must be inside a pack's actions\/ directory/);
    });
  });
});

describe('runtimeNameForRunnerType', () => {
  it('maps runner types like upstream’s pack loader, to engine runtime names', () => {
    expect(['shell', 'bash', 'sh', 'Shell'].map(runtimeNameForRunnerType)).toEqual(['shell', 'shell', 'shell', 'shell']);
    expect(['python', 'python3', 'core.python'].map(runtimeNameForRunnerType)).toEqual(['python', 'python', 'python']);
    expect(['node', 'nodejs', 'node.js', 'core.nodejs'].map(runtimeNameForRunnerType)).toEqual(['node.js', 'node.js', 'node.js', 'node.js']);
    expect(['native', 'builtin', 'standalone'].map(runtimeNameForRunnerType)).toEqual(['native', 'native', 'native']);
    expect(runtimeNameForRunnerType('Cobol')).toBe('cobol');
  });
});

describe('parseParameters', () => {
  it('reads the flat StackStorm style used by upstream packs', () => {
    expect(parseParameters({ url: { type: 'string', required: true }, token: { type: 'string', secret: true }, n: { default: 0 } })).toEqual([
      { name: 'url', type: 'string', required: true, secret: false, hasDefault: false },
      { name: 'token', type: 'string', required: false, secret: true, hasDefault: false },
      { name: 'n', type: null, required: false, secret: false, hasDefault: true, default: 0 },
    ]);
  });

  it('reads a JSON schema with properties and a required list', () => {
    const params = parseParameters({ type: 'object', properties: { a: { type: 'string', default: 'x' }, b: { type: 'integer' } }, required: ['b'] });
    expect(params.map((p) => [p.name, p.required, p.hasDefault])).toEqual([
      ['a', false, true],
      ['b', true, false],
    ]);
  });
});

describe('parameter flags', () => {
  it('parses values as JSON when valid, else keeps the string', () => {
    expect(parseParamFlag('n=3')).toEqual(['n', 3]);
    expect(parseParamFlag('flag=true')).toEqual(['flag', true]);
    expect(parseParamFlag('list=[1,"a"]')).toEqual(['list', [1, 'a']]);
    expect(parseParamFlag('msg=hello world')).toEqual(['msg', 'hello world']);
    expect(parseParamFlag('eq=a=b')).toEqual(['eq', 'a=b']);
    expect(parseParamFlag('empty=')).toEqual(['empty', '']);
    expect(parseParamFlag('quoted="3"')).toEqual(['quoted', '3']);
  });

  it('rejects flags without key=value as usage errors', () => {
    for (const bad of ['novalue', '=x', ' =x']) {
      expect(() => parseParamFlag(bad)).toThrow(UsageError);
      expect(() => parseParamFlag(bad)).toThrow(`Invalid --param '${bad}': expected key=value`);
    }
  });

  it('applies defaults, lets flags override the params file, and names missing required parameters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'params-'));
    try {
      writeFileSync(join(dir, 'p.json'), JSON.stringify({ name: 'file', count: 5 }));
      const action = loadLocalAction({ target: 'demo_test.py_json', packsDir: PACKS, cwd });
      expect(resolveLocalParameters(action, { cwd: dir })).toEqual({ name: 'world', count: 1 });
      expect(resolveLocalParameters(action, { cwd: dir, paramsFile: 'p.json', params: ['count=7'] })).toEqual({ name: 'file', count: 7 });

      const secret = loadLocalAction({ target: 'demo_test.secret', packsDir: PACKS, cwd });
      expect(() => resolveLocalParameters(secret, { cwd: dir })).toThrow(
        "Action 'demo_test.secret' requires parameter 'token' (missing; pass --param token=...)",
      );

      writeFileSync(join(dir, 'list.json'), '[1,2]');
      expect(() => resolveLocalParameters(action, { cwd: dir, paramsFile: 'list.json' })).toThrow(/must contain a JSON object/);
      expect(() => resolveLocalParameters(action, { cwd: dir, paramsFile: 'missing.json' })).toThrow(/Cannot read --params-file .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
