import type * as YamlModule from 'yaml';

let loaded: typeof YamlModule | undefined;

/**
 * The `yaml` package, loaded on first use rather than at start-up (issue 18, idle RSS): an idle
 * agent parses no YAML (a config file, pack YAML and YAML parameters or output come later), and
 * evaluating the package's modules at start cost ~2 MiB of resident memory (`--version` and a
 * registered idle agent, Node 24) and start-up time. Import only the types from 'yaml' elsewhere.
 */
export function yaml(): typeof YamlModule {
  // A require() call, not an import: the bundle then evaluates the package only when this runs.
  loaded ??= require('yaml') as typeof YamlModule;
  return loaded;
}
