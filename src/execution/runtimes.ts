/**
 * Which runtime runs an action (spec 03 §1.4) and the built-in runtime definitions
 * (spec 03 §7.1, upstream `crates/common/src/platform_catalog/runtimes/*.yaml` @126b167).
 */
import path from 'node:path';
import type { RuntimeEnvVarSpec, RuntimeExecutionConfig } from './types';
import { runtimeError } from './failures';

export interface RuntimeDefinition {
  /** Lower-cased `runtime.name` (`shell`, `python`, `node.js`, …) or `native`. */
  readonly name: string;
  /** `process` = upstream ProcessRuntime (interpreter + file); `native` = NativeRuntime. */
  readonly kind: 'process' | 'native';
  readonly config: RuntimeExecutionConfig;
  /** Lower-cased aliases (informational; selection is by `name`). */
  readonly aliases: readonly string[];
}

export interface RuntimeRegistry {
  readonly runtimes: readonly RuntimeDefinition[];
}

const NATIVE: RuntimeDefinition = { name: 'native', kind: 'native', config: {}, aliases: ['native'] };

const SHELL_CONFIG: RuntimeExecutionConfig = {
  interpreter: { binary: '/bin/bash', args: [], file_extension: '.sh' },
  inline_execution: { strategy: 'temp_file', extension: '.sh', inject_shell_helpers: true },
};

/** Built-ins in the catalog's shape; `name` is the lower-cased catalog `name`. */
export const BUILTIN_RUNTIMES: readonly RuntimeDefinition[] = [
  { name: 'shell', kind: 'process', aliases: ['shell', 'bash', 'sh'], config: SHELL_CONFIG },
  {
    name: 'python',
    kind: 'process',
    aliases: ['python', 'python3'],
    config: {
      interpreter: { binary: 'python3', args: ['-u'], file_extension: '.py' },
      environment: {
        env_type: 'virtualenv',
        dir_name: '.venv',
        create_command: ['python3', '-m', 'venv', '--copies', '{env_dir}'],
        interpreter_path: '{env_dir}/bin/python3',
      },
      dependencies: {
        manifest_file: 'requirements.txt',
        install_command: ['{interpreter}', '-m', 'pip', 'install', '-r', '{manifest_path}'],
      },
      env_vars: { PYTHONPATH: { operation: 'prepend', value: '{pack_dir}/lib', separator: ':' } },
    },
  },
  {
    name: 'node.js',
    kind: 'process',
    aliases: ['node', 'nodejs', 'node.js'],
    config: {
      interpreter: { binary: 'node', args: [], file_extension: '.js' },
      environment: {
        env_type: 'node_modules',
        dir_name: 'node_modules',
        create_command: ['sh', '-c', 'mkdir -p {env_dir} && cp {manifest_path} {env_dir}/ 2>/dev/null || true'],
        interpreter_path: null,
      },
      dependencies: { manifest_file: 'package.json', install_command: ['npm', 'install', '--prefix', '{env_dir}'] },
      env_vars: { NODE_PATH: '{env_dir}/node_modules' },
    },
  },
  {
    name: 'go',
    kind: 'process',
    aliases: ['go', 'golang'],
    config: {
      interpreter: { binary: 'go', args: ['run'], file_extension: '.go' },
      environment: { env_type: 'gopath', dir_name: 'gopath', create_command: ['sh', '-c', 'mkdir -p {env_dir}'], interpreter_path: null },
      dependencies: {
        manifest_file: 'go.mod',
        install_command: ['sh', '-c', 'cd {pack_dir} && GOPATH={env_dir} go mod download 2>/dev/null || true'],
      },
      env_vars: { GOPATH: '{env_dir}', GOMODCACHE: '{env_dir}/pkg/mod' },
    },
  },
  {
    name: 'java',
    kind: 'process',
    aliases: ['java', 'jdk', 'openjdk'],
    config: { interpreter: { binary: 'java', args: [], file_extension: '.java' } },
  },
  {
    name: 'r',
    kind: 'process',
    aliases: ['r', 'rscript'],
    config: {
      interpreter: { binary: 'Rscript', args: ['--vanilla'], file_extension: '.R' },
      environment: { env_type: 'renv', dir_name: 'renv', create_command: ['sh', '-c', 'mkdir -p {env_dir}/library'], interpreter_path: null },
      dependencies: {
        manifest_file: 'renv.lock',
        install_command: [
          'sh',
          '-c',
          "cd {pack_dir} && R_LIBS_USER={env_dir}/library Rscript -e \"if (file.exists('renv.lock')) renv::restore(library='{env_dir}/library', prompt=FALSE)\" 2>/dev/null || true",
        ],
      },
      env_vars: { R_LIBS_USER: '{env_dir}/library' },
    },
  },
  {
    name: 'ruby',
    kind: 'process',
    aliases: ['ruby', 'rb'],
    config: {
      interpreter: { binary: 'ruby', args: [], file_extension: '.rb' },
      environment: { env_type: 'gem_home', dir_name: 'gems', create_command: ['sh', '-c', 'mkdir -p {env_dir}/gems'], interpreter_path: null },
      dependencies: {
        manifest_file: 'Gemfile',
        install_command: [
          'sh',
          '-c',
          'cd {pack_dir} && GEM_HOME={env_dir}/gems GEM_PATH={env_dir}/gems bundle install --quiet 2>/dev/null || true',
        ],
      },
      env_vars: { GEM_HOME: '{env_dir}/gems', GEM_PATH: '{env_dir}/gems', BUNDLE_PATH: '{env_dir}/gems' },
    },
  },
  {
    name: 'perl',
    kind: 'process',
    aliases: ['perl', 'perl5'],
    config: {
      interpreter: { binary: 'perl', args: [], file_extension: '.pl' },
      environment: { env_type: 'local_lib', dir_name: 'perl5', create_command: ['sh', '-c', 'mkdir -p {env_dir}/lib/perl5'], interpreter_path: null },
      dependencies: {
        manifest_file: 'cpanfile',
        install_command: [
          'sh',
          '-c',
          'cd {pack_dir} && PERL5LIB={env_dir}/lib/perl5 PERL_LOCAL_LIB_ROOT={env_dir} cpanm --local-lib {env_dir} --installdeps --quiet . 2>/dev/null || true',
        ],
      },
      env_vars: { PERL5LIB: '{env_dir}/lib/perl5', PERL_LOCAL_LIB_ROOT: '{env_dir}' },
    },
  },
  NATIVE,
];

/**
 * The registry used without a database (the `exec` runner, tests): every built-in definition.
 * (Upstream's DB-less fallback registers only shell + `local` + native; the agent uses
 * `createRuntimeRegistry` with DB rows instead.)
 */
export function createBuiltinRuntimeRegistry(): RuntimeRegistry {
  return { runtimes: BUILTIN_RUNTIMES };
}

/** Canonical built-in runtime name for a pack `runner_type` / alias (`nodejs` → `node.js`); null if unknown. */
export function resolveBuiltinRuntimeName(alias: string): string | null {
  const a = alias.trim().toLowerCase();
  return BUILTIN_RUNTIMES.find((r) => r.name === a || r.aliases.includes(a))?.name ?? null;
}

/** A `runtime` row as the DB adapter maps it. */
export interface RuntimeRow {
  name: string;
  aliases?: readonly string[] | null;
  /** `runtime.execution_config` JSON as stored. */
  executionConfig: unknown;
}

export interface RuntimeRegistryOptions {
  /** `ATTUNE_WORKER_RUNTIMES` filter (already split); null/empty → no filter. */
  allowedRuntimes?: readonly string[] | null;
}

/**
 * Registry from DB `runtime` rows, in upstream's order (spec 03 §1.4): one process runtime per
 * row with a non-empty `execution_config` (so `core.native`'s `{}` is skipped); if none, the
 * built-in shell; `native` always last.
 */
export function createRuntimeRegistry(rows: readonly RuntimeRow[], opts: RuntimeRegistryOptions = {}): RuntimeRegistry {
  const allowed = (opts.allowedRuntimes ?? []).map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const runtimes: RuntimeDefinition[] = [];
  for (const row of rows) {
    const config = parseRuntimeExecutionConfig(row.executionConfig);
    if (Object.keys(config).length === 0 && !config.interpreter?.file_extension) continue;
    const name = row.name.toLowerCase();
    const aliases = (row.aliases ?? []).map((a) => a.toLowerCase());
    if (allowed.length > 0 && ![...aliases, name].some((a) => allowed.includes(a))) continue;
    runtimes.push({ name, kind: 'process', config, aliases });
  }
  if (runtimes.length === 0) {
    // spec 03 §1.4 step 2 (upstream also adds a `local` runtime here; not reproduced).
    runtimes.push({ name: 'shell', kind: 'process', config: SHELL_CONFIG, aliases: ['shell'] });
  }
  runtimes.push(NATIVE);
  return { runtimes };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/**
 * Defensive parse of a stored `execution_config` (unknown JSON) into the typed shape; fields of
 * the wrong type are dropped rather than trusted.
 */
export function parseRuntimeExecutionConfig(json: unknown): RuntimeExecutionConfig {
  if (!isObject(json)) return {};
  const out: RuntimeExecutionConfig = {};
  if (isObject(json.interpreter)) {
    const i = json.interpreter;
    out.interpreter = {
      binary: typeof i.binary === 'string' ? i.binary : '',
      args: stringArray(i.args) ?? [],
      file_extension: typeof i.file_extension === 'string' ? i.file_extension : null,
    };
  }
  if (isObject(json.inline_execution)) {
    const ie = json.inline_execution;
    out.inline_execution = {
      strategy: ie.strategy === 'temp_file' ? 'temp_file' : 'direct',
      extension: typeof ie.extension === 'string' ? ie.extension : null,
      inject_shell_helpers: ie.inject_shell_helpers === true,
    };
  }
  if (isObject(json.environment)) {
    const e = json.environment;
    out.environment = {
      env_type: typeof e.env_type === 'string' ? e.env_type : '',
      dir_name: typeof e.dir_name === 'string' ? e.dir_name : '.venv',
      create_command: stringArray(e.create_command) ?? [],
      interpreter_path: typeof e.interpreter_path === 'string' ? e.interpreter_path : null,
    };
  }
  if (isObject(json.dependencies) && typeof json.dependencies.manifest_file === 'string') {
    out.dependencies = {
      manifest_file: json.dependencies.manifest_file,
      install_command: stringArray(json.dependencies.install_command) ?? [],
    };
  }
  if (isObject(json.env_vars)) {
    const vars: Record<string, string | RuntimeEnvVarSpec> = {};
    for (const [k, v] of Object.entries(json.env_vars)) {
      if (typeof v === 'string') vars[k] = v;
      else if (isObject(v) && typeof v.value === 'string') {
        const op = v.operation === 'prepend' || v.operation === 'append' ? v.operation : 'set';
        vars[k] = { value: v.value, operation: op, separator: typeof v.separator === 'string' ? v.separator : ':' };
      }
    }
    out.env_vars = vars;
  }
  return out;
}

/** `RuntimeExecutionConfig::matches_file_extension`: case-insensitive, leading dot ignored. */
export function matchesFileExtension(config: RuntimeExecutionConfig, file: string): boolean {
  const ext = config.interpreter?.file_extension;
  if (!ext) return false;
  const actual = path.extname(file);
  if (actual === '') return false;
  return actual.slice(1).toLowerCase() === ext.replace(/^\.+/, '').toLowerCase();
}

const SCRIPT_EXTENSIONS = new Set(['py', 'js', 'sh', 'bash', 'rb', 'pl', 'php', 'lua']);

/**
 * Pick the runtime (spec 03 §1.4): by exact name when `runtimeName` is set, else the first whose
 * `can_execute` holds. Throws `RuntimeFailure` (`Runtime not found: …`).
 */
export function selectRuntime(
  registry: RuntimeRegistry,
  runtimeName: string | null,
  actionRef: string,
  codePath: string | null,
  entrypoint: string,
): RuntimeDefinition {
  const available = registry.runtimes.map((r) => r.name).join(', ');
  if (runtimeName !== null) {
    const found = registry.runtimes.find((r) => r.name === runtimeName);
    if (!found) {
      throw runtimeError.runtimeNotFound(`Runtime '${runtimeName}' not found for action: ${actionRef} (available: ${available})`);
    }
    return found;
  }
  for (const r of registry.runtimes) {
    if (r.kind === 'process') {
      if ((codePath !== null && matchesFileExtension(r.config, codePath)) || matchesFileExtension(r.config, entrypoint)) return r;
    } else if (codePath !== null) {
      const ext = path.extname(codePath).slice(1);
      if (!SCRIPT_EXTENSIONS.has(ext)) return r; // codePath is only set when the file exists
    }
  }
  throw runtimeError.runtimeNotFound(`No runtime found for action: ${actionRef} (available: ${available})`);
}
