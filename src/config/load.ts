import { join, resolve } from 'node:path';
import { yaml } from '../util/yaml';
import { ConfigError, toError, type ConfigProblem } from '../errors';
import { deepMerge, isPlainObject, parseEnvOverrides, setPath, type RawConfig } from './env';
import { validateConfig } from './validate';
import type { Config } from './types';

export interface LoadConfigOptions {
  /** `-c/--config PATH` (spec 01 §1.1: sets ATTUNE_CONFIG before the load). */
  configPath?: string;
  /** `-n/--name NAME`: overrides `worker.name` (highest precedence). */
  name?: string;
  /** `--log-level LEVEL`: overrides `log.level`. */
  logLevel?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  readFile: (path: string) => string;
  fileExists: (path: string) => boolean;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings (ignored labels/taints, missing ATTUNE_CONFIG file, …) for the start-up log. */
  warnings: string[];
}

/**
 * Load configuration (spec 01 §2.1; STYLE.md "Config"): defaults → base YAML (`--config`, else
 * `ATTUNE_CONFIG`, else `config.yaml`) → `config.{ATTUNE__ENVIRONMENT|development}.yaml` →
 * `ATTUNE__SECTION__KEY` env → CLI flags. Pure apart from the injected readers.
 * Throws one ConfigError listing every problem.
 */
export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const warnings: string[] = [];
  const problems: ConfigProblem[] = [];
  const sources: string[] = [];
  let raw: RawConfig = {};
  /** Which source set each top-level path last (for error messages). */
  const origin = new Map<string, string>();

  const explicitFlag = opts.configPath !== undefined;
  const basePath = opts.configPath ?? opts.env.ATTUNE_CONFIG ?? 'config.yaml';
  const baseAbs = resolve(opts.cwd, basePath);
  if (opts.fileExists(baseAbs)) {
    raw = mergeFile(raw, baseAbs, opts, problems, origin);
    sources.push(baseAbs);
  } else if (explicitFlag) {
    // Upstream silently ignores a missing file; a path typed on the command line that does not
    // exist is almost always a mistake, so say so instead of starting with defaults.
    problems.push({ key: '--config', message: 'file not found', value: JSON.stringify(basePath), source: 'command line' });
  } else if (opts.env.ATTUNE_CONFIG !== undefined) {
    warnings.push(`ATTUNE_CONFIG points to ${baseAbs}, which does not exist; continuing with defaults and environment variables`);
  }

  const envName = opts.env.ATTUNE__ENVIRONMENT ?? 'development';
  const envFile = join(opts.cwd, `config.${envName}.yaml`);
  if (opts.fileExists(envFile) && envFile !== baseAbs) {
    raw = mergeFile(raw, envFile, opts, problems, origin);
    sources.push(envFile);
  }

  for (const o of parseEnvOverrides(opts.env)) {
    setPath(raw, o.path, o.value);
    origin.set(o.path.join('.'), `env ${o.envName}`);
  }
  if (opts.env.ATTUNE__ENVIRONMENT !== undefined) {
    raw.environment = opts.env.ATTUNE__ENVIRONMENT;
    origin.set('environment', 'env ATTUNE__ENVIRONMENT');
  }

  if (opts.name !== undefined) {
    setPath(raw, ['worker', 'name'], opts.name);
    origin.set('worker.name', 'command line --name');
  }
  if (opts.logLevel !== undefined) {
    setPath(raw, ['log', 'level'], opts.logLevel);
    origin.set('log.level', 'command line --log-level');
  }

  const result = validateConfig(raw, { origin, sources, logInputs: { cli: opts.logLevel, rustLog: opts.env.RUST_LOG } });
  problems.push(...result.problems);
  warnings.push(...result.warnings);
  if (problems.length > 0 || result.config === null) throw new ConfigError(problems);
  return { config: result.config, warnings };
}

function mergeFile(
  raw: RawConfig,
  path: string,
  opts: LoadConfigOptions,
  problems: ConfigProblem[],
  origin: Map<string, string>,
): RawConfig {
  let text: string;
  try {
    text = opts.readFile(path);
  } catch (e) {
    problems.push({ key: path, message: `cannot read the file: ${toError(e).message}` });
    return raw;
  }
  let parsed: unknown;
  try {
    // logLevel 'error': YAML warnings (unknown tags …) must not go to process.emitWarning on stderr.
    parsed = text.trim() === '' ? {} : yaml().parse(text, { logLevel: 'error' });
  } catch (e) {
    problems.push({ key: path, message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` });
    return raw;
  }
  if (parsed === null || parsed === undefined) return raw;
  if (!isPlainObject(parsed)) {
    problems.push({ key: path, message: 'the top level must be a mapping of keys (e.g. `database:`), not a list or a scalar' });
    return raw;
  }
  recordOrigins(parsed, [], path, origin);
  return deepMerge(raw, parsed);
}

function recordOrigins(obj: RawConfig, prefix: string[], file: string, origin: Map<string, string>): void {
  for (const [k, v] of Object.entries(obj)) {
    const p = [...prefix, k];
    // Every level, so a problem on a key whose value is a mapping still names its file.
    origin.set(p.join('.'), file);
    if (isPlainObject(v) && p.length < 3) recordOrigins(v, p, file, origin);
  }
}
