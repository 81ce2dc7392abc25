/**
 * Template handling for runtime `execution_config` values (spec 03 §3.3, §7.1): `{pack_dir}`,
 * `{env_dir}`, `{interpreter}`, `{manifest_path}` are replaced by plain substring replacement.
 * Unknown placeholders stay as literal text (upstream `resolve_template`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
// One implementation of template substitution, shared with the engine.
import { resolveTemplate } from '../execution/environment';
import type { RuntimeExecutionConfig } from '../execution/types';

export type TemplateVars = Readonly<Record<string, string>>;

export function resolveCommand(command: readonly string[], vars: TemplateVars): string[] {
  return command.map((part) => resolveTemplate(part, vars));
}

/**
 * The interpreter an action (or `{interpreter}` in an install command) uses: the environment's
 * `interpreter_path` with `{env_dir}`/`{pack_dir}` substituted when that file exists (symlinks
 * followed), else `interpreter.binary` (upstream `resolve_interpreter_with_env`).
 */
export function resolveInterpreterWithEnv(
  config: RuntimeExecutionConfig | null | undefined,
  packDir: string,
  envDir: string | null,
): string {
  const envInterpreter = envInterpreterPath(config, packDir, envDir);
  if (envInterpreter !== null && existsSync(envInterpreter)) return envInterpreter;
  return config?.interpreter?.binary ?? '';
}

/** `environment.interpreter_path` resolved against `envDir`, or null when not configured. */
export function envInterpreterPath(
  config: RuntimeExecutionConfig | null | undefined,
  packDir: string,
  envDir: string | null,
): string | null {
  const template = config?.environment?.interpreter_path;
  if (!template || envDir === null) return null;
  return resolveTemplate(template, { env_dir: envDir, pack_dir: packDir });
}

/**
 * spec 03 §7.1 template variables for one pack/env pair (upstream
 * `build_template_vars_with_env`). `manifest_path` only exists when a dependencies section does.
 */
export function buildTemplateVars(
  config: RuntimeExecutionConfig | null | undefined,
  packDir: string,
  envDir: string | null,
): Record<string, string> {
  const vars: Record<string, string> = { pack_dir: packDir };
  if (envDir !== null) {
    vars.env_dir = envDir;
  } else if (config?.environment) {
    // Upstream's legacy fallback: a pack-relative `dir_name` (default ".venv").
    vars.env_dir = join(packDir, config.environment.dir_name ?? '.venv');
  }
  vars.interpreter = resolveInterpreterWithEnv(config, packDir, envDir);
  const manifest = config?.dependencies?.manifest_file;
  if (manifest) vars.manifest_path = join(packDir, manifest);
  return vars;
}
