// Invariants of the chart sources that rendering alone would not show: versions, every
// `.Values.x` a template reads exists in values.yaml, and the pool fields the template reads are
// exactly the ones the schema declares (no dead schema entries, no undocumented keys).
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

import { CHART_DIR, REPO_ROOT, defaultValues, readChartFile, type Values } from './chart-helpers';

const templates = readdirSync(join(CHART_DIR, 'templates')).map((f) => readChartFile(`templates/${f}`)).join('\n');
const schema = JSON.parse(readChartFile('values.schema.json'));

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || !(p in cur)) return undefined;
    cur = (cur as Values)[p];
  }
  return cur;
}

describe('chart sources', () => {
  it('Chart.yaml is a v2 application chart named after its directory, versioned like the agent', () => {
    const chart = parseYaml(readChartFile('Chart.yaml'));
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(chart.apiVersion).toBe('v2');
    expect(chart.type).toBe('application');
    expect(chart.name).toBe('attune-agent-workers');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it('references only values that exist in values.yaml (agentWorkers excepted: it is the optional older name)', () => {
    const paths = new Set([...templates.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1] as string));
    const values = defaultValues();
    const missing = [...paths].filter((p) => p !== '.agentWorkers' && getPath(values, p.slice(1).split('.')) === undefined);
    expect(missing).toEqual([]);
    expect(paths.size).toBeGreaterThan(20);
  });

  it('reads exactly the pool fields that the schema declares', () => {
    const fields = new Set([...templates.matchAll(/\$pool\.([A-Za-z]+)/g)].map((m) => m[1] as string));
    // Read through hasKey/dict helpers rather than `$pool.x`.
    for (const f of ['replicas', 'shutdownTimeout', 'podSecurityContext']) fields.add(f);
    const declared = Object.keys(schema.definitions.actionWorker.properties);
    expect([...fields].filter((f) => !declared.includes(f))).toEqual([]);
    expect(declared.filter((f) => !fields.has(f))).toEqual([]);
  });

  it('ships README, NOTES and the schema', () => {
    for (const f of ['README.md', 'templates/NOTES.txt', 'values.schema.json', 'Chart.yaml', 'values.yaml']) {
      expect(readFileSync(join(CHART_DIR, f), 'utf8').length).toBeGreaterThan(100);
    }
  });
});
