/**
 * Reading one action from a pack directory in upstream's on-disk format (`pack.yaml` +
 * `actions/<name>.yaml`, as in upstream `packs/core` and the pack loader
 * `crates/common/src/pack_registry/loader.rs` `load_actions`), for the `exec` runner.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { yaml } from '../util/yaml';
import { AgentError, UsageError } from '../errors';
import { resolveBuiltinRuntimeName } from '../execution/runtimes';

export interface LocalParameter {
  name: string;
  type: string | null;
  required: boolean;
  secret: boolean;
  hasDefault: boolean;
  default?: unknown;
  /** Constraints checked before a local run (JSON-schema keywords; present only when declared). */
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
}

const NUMERIC_CONSTRAINTS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength'] as const;

export interface LocalAction {
  /** Qualified `pack.action` ref. */
  ref: string;
  packRef: string;
  packDir: string;
  /** The action YAML file. */
  file: string;
  entrypoint: string;
  /** `runner_type` as written (default `shell`, as upstream's loader). */
  runnerType: string;
  /** Lower-cased runtime name the engine selects by (`shell`, `python`, `node.js`, `native`, …). */
  runtimeName: string;
  /** `runtime_version` constraint (informational here: the local runner uses the parent runtime). */
  runtimeVersion: string | null;
  parameterDelivery: string;
  parameterFormat: string;
  outputFormat: string;
  parameters: LocalParameter[];
  /** `output` schema (upstream `out_schema`), used for result redaction. */
  outSchema: unknown;
  /** `timeout_seconds` (upstream) or `timeout`; null when absent. */
  timeoutSec: number | null;
}

export interface LoadLocalActionOptions {
  /** `pack.action` or a path to an action YAML file. */
  target: string;
  /** Where `pack.action` is looked up; not needed for a path. */
  packsDir?: string | null;
  cwd: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function actionInvalid(message: string, cause?: unknown): AgentError {
  return new AgentError('ACTION_INVALID', message, cause === undefined ? {} : { cause });
}

function readYamlObject(file: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = yaml().parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw actionInvalid(`Cannot read ${what} ${file}: ${(e as Error).message}`, e);
  }
  if (!isObject(parsed)) throw actionInvalid(`${what} ${file} is not a YAML mapping`);
  return parsed;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * Upstream's loader maps `runner_type` to a runtime ref (`shell|bash|sh` → core.shell,
 * `python|python3` → core.python, `node|nodejs|node.js` → core.nodejs, `native|builtin|standalone`
 * → core.native; anything else is looked up as given). The engine selects by lower-cased
 * runtime *name*, so return that name (`node.js` for core.nodejs).
 */
export function runtimeNameForRunnerType(runnerType: string): string {
  const lowered = runnerType.trim().toLowerCase();
  const bare = lowered.startsWith('core.') ? lowered.slice('core.'.length) : lowered;
  return LOADER_RUNNER_TYPES[bare] ?? resolveBuiltinRuntimeName(bare) ?? lowered;
}

// Upstream `resolve_runtime` match arms, mapped to the runtimes' lower-cased names.
const LOADER_RUNNER_TYPES: Readonly<Record<string, string>> = {
  shell: 'shell',
  bash: 'shell',
  sh: 'shell',
  python: 'python',
  python3: 'python',
  node: 'node.js',
  nodejs: 'node.js',
  'node.js': 'node.js',
  native: 'native',
  builtin: 'native',
  standalone: 'native',
};

const SCHEMA_KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'description', 'title', '$schema']);

/**
 * Parameters as upstream packs write them: the flat StackStorm style (`name: {type, default,
 * required, secret}`), or a JSON schema (`{type: object, properties, required: [..]}`).
 */
export function parseParameters(raw: unknown): LocalParameter[] {
  if (!isObject(raw)) return [];
  const isJsonSchema =
    isObject(raw.properties) && (raw.type === 'object' || Object.keys(raw).every((k) => SCHEMA_KEYWORDS.has(k)));
  const props = isJsonSchema ? (raw.properties as Record<string, unknown>) : raw;
  const requiredList = isJsonSchema && Array.isArray(raw.required) ? raw.required.filter((r) => typeof r === 'string') : [];
  return Object.entries(props).map(([name, spec]) => {
    const s = isObject(spec) ? spec : {};
    const param: LocalParameter = {
      name,
      type: typeof s.type === 'string' ? s.type : null,
      required: s.required === true || requiredList.includes(name),
      secret: s.secret === true,
      hasDefault: Object.prototype.hasOwnProperty.call(s, 'default'),
    };
    if (param.hasDefault) param.default = s.default;
    if (Array.isArray(s.enum)) param.enum = s.enum;
    for (const k of NUMERIC_CONSTRAINTS) {
      const v = s[k];
      if (typeof v === 'number' && Number.isFinite(v)) param[k] = v;
    }
    return param;
  });
}

function looksLikePath(target: string): boolean {
  const ext = extname(target).toLowerCase();
  return target.includes('/') || ext === '.yaml' || ext === '.yml';
}

function yamlFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/i.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

function packRefOf(packDir: string): string {
  const packYaml = join(packDir, 'pack.yaml');
  if (existsSync(packYaml)) {
    const ref = str(readYamlObject(packYaml, 'pack file').ref);
    if (ref) return ref;
  }
  return basename(packDir);
}

/** `{packs_dir}/{pack_ref}`, else the sub-directory whose pack.yaml declares `ref: pack_ref`. */
function findPackDir(packsDir: string, packRef: string): string {
  const direct = join(packsDir, packRef);
  if (existsSync(join(direct, 'pack.yaml')) || existsSync(join(direct, 'actions'))) return direct;
  let entries: string[];
  try {
    entries = readdirSync(packsDir).filter((e) => {
      try {
        return statSync(join(packsDir, e)).isDirectory();
      } catch {
        return false;
      }
    });
  } catch (e) {
    throw actionInvalid(`Cannot read packs directory ${packsDir}: ${(e as Error).message}`, e);
  }
  const known: string[] = [];
  for (const entry of entries.sort()) {
    const dir = join(packsDir, entry);
    if (!existsSync(join(dir, 'pack.yaml'))) continue;
    const ref = packRefOf(dir);
    if (ref === packRef) return dir;
    known.push(ref);
  }
  const list = known.length > 0 ? known.join(', ') : 'none';
  throw actionInvalid(`Pack '${packRef}' not found in ${packsDir} (available packs: ${list})`);
}

function qualify(packRef: string, ref: string): string {
  return ref.includes('.') ? ref : `${packRef}.${ref}`;
}

function actionRefOf(doc: Record<string, unknown>, packRef: string, file: string): string {
  const ref = str(doc.ref) ?? str(doc.name) ?? basename(file, extname(file));
  return qualify(packRef, ref);
}

function toAction(doc: Record<string, unknown>, file: string, packDir: string, packRef: string): LocalAction {
  const ref = actionRefOf(doc, packRef, file);
  if (doc.workflow_file !== undefined) {
    throw actionInvalid(`Action '${ref}' is a workflow action (workflow_file); the exec runner runs only regular actions`);
  }
  const entrypoint = str(doc.entry_point);
  if (!entrypoint) throw actionInvalid(`Action '${ref}' (${file}) has no entry_point`);
  const runnerType = str(doc.runner_type) ?? 'shell';
  const timeout = doc.timeout_seconds ?? doc.timeout;
  return {
    ref,
    packRef,
    packDir,
    file,
    entrypoint,
    runnerType,
    runtimeName: runtimeNameForRunnerType(runnerType),
    runtimeVersion: str(doc.runtime_version),
    // Upstream's loader lower-cases these with the same defaults.
    parameterDelivery: (str(doc.parameter_delivery) ?? 'stdin').toLowerCase(),
    parameterFormat: (str(doc.parameter_format) ?? 'json').toLowerCase(),
    outputFormat: (str(doc.output_format) ?? 'text').toLowerCase(),
    parameters: parseParameters(doc.parameters),
    outSchema: doc.output ?? null,
    timeoutSec: typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : null,
  };
}

/** Find and parse the action named by `target`; errors name what was looked for and what exists. */
export function loadLocalAction(opts: LoadLocalActionOptions): LocalAction {
  const target = opts.target.trim();
  if (target === '') throw new UsageError('Missing action: give pack.action or a path to an action YAML file');

  if (looksLikePath(target) || existsSync(resolve(opts.cwd, target))) {
    const file = resolve(opts.cwd, target);
    if (!existsSync(file)) throw actionInvalid(`Action file ${file} does not exist`);
    const actionsDir = dirname(file);
    if (basename(actionsDir) !== 'actions') {
      throw actionInvalid(`Action file ${file} must be inside a pack's actions/ directory`);
    }
    const packDir = dirname(actionsDir);
    return toAction(readYamlObject(file, 'action file'), file, packDir, packRefOf(packDir));
  }

  const dot = target.indexOf('.');
  if (dot <= 0 || dot === target.length - 1) {
    throw new UsageError(`Invalid action '${target}': expected pack.action or a path to an action YAML file`);
  }
  if (!opts.packsDir) throw new UsageError(`No packs directory to look up '${target}' in; pass --packs-dir`);
  const packsDir = resolve(opts.cwd, opts.packsDir);
  const packRef = target.slice(0, dot);
  const actionName = target.slice(dot + 1);
  const packDir = findPackDir(packsDir, packRef);
  const available: string[] = [];
  for (const file of yamlFiles(join(packDir, 'actions'))) {
    const doc = readYamlObject(file, 'action file');
    const ref = actionRefOf(doc, packRef, file);
    if (ref === target || str(doc.name) === actionName || basename(file, extname(file)) === actionName) {
      return toAction(doc, file, packDir, packRef);
    }
    available.push(ref);
  }
  const list = available.length > 0 ? available.join(', ') : 'none';
  throw actionInvalid(`Action '${target}' not found in pack '${packRef}' (${packDir}); available actions: ${list}`);
}
