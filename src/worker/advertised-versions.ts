/**
 * `capabilities.runtime_versions` is rewritten after version verification (spec 07 §3.2 step
 * 2, §5.1 step 6). It is rewritten in place (keys sorted), so holders of the object — the
 * execution service's advertised versions — see verified versions without a restart.
 */
import type { Capabilities } from './capabilities';

export function replaceRuntimeVersions(caps: Capabilities, versions: Readonly<Record<string, string[]>>): void {
  const current = caps.runtime_versions;
  const target = (current !== null && typeof current === 'object' && !Array.isArray(current) ? current : (caps.runtime_versions = {})) as Record<string, string[]>;
  for (const k of Object.keys(target)) delete target[k];
  for (const k of Object.keys(versions).sort()) target[k] = [...(versions[k] ?? [])];
}
