// Shared helpers for the chart tests: file locations, Helm-style value merging, schema errors.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

import { CHART_DIR } from '../../support/helm';
import { REPO_ROOT } from '../../support/sea';

export { CHART_DIR, REPO_ROOT };
export const EXAMPLES_DIR = join(CHART_DIR, 'examples');
export const COMPOSE_FILE = join(REPO_ROOT, 'docker', 'docker-compose.agent-workers.yaml');
export const COMPOSE_OBJECT_FILE = join(REPO_ROOT, 'docker', 'docker-compose.agent-workers.object.yaml');

export type Values = Record<string, unknown>;

export function readChartFile(rel: string): string {
  return readFileSync(join(CHART_DIR, rel), 'utf8');
}

export function loadYaml(path: string): Values {
  return (parseYaml(readFileSync(path, 'utf8')) ?? {}) as Values;
}

export function exampleFiles(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(EXAMPLES_DIR, f));
}

function isPlainObject(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's merge of -f files over values.yaml: maps merge recursively, lists and scalars replace, null deletes. */
export function coalesce(base: Values, over: Values): Values {
  const out: Values = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = coalesce(out[k] as Values, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

export function defaultValues(): Values {
  return loadYaml(join(CHART_DIR, 'values.yaml'));
}

export function compileSchema(): ValidateFunction {
  const schema = JSON.parse(readChartFile('values.schema.json')) as object;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  return ajv.compile(schema);
}

/** One line per error, naming the offending field (the path, plus the unknown key for additionalProperties). */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const where = e.instancePath || '/';
      if (e.keyword === 'additionalProperties') {
        return `${where}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      }
      if (e.keyword === 'false schema') return `${where}: not allowed here`;
      return `${where}: ${e.message ?? e.keyword}`;
    })
    .join('\n');
}
