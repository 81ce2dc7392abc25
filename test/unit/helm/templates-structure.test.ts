// Structural checks of the chart templates that need no helm binary: the templates are read as text
// (Go templates are not YAML), so these check that the required pieces are present and wired to
// values that exist. Rendering is covered by helm-render.test.ts where helm is installed.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

import { CHART_DIR, REPO_ROOT, defaultValues, readChartFile, type Values } from './chart-helpers';

const workers = readChartFile('templates/agent-workers.yaml');
const helpers = readChartFile('templates/_helpers.tpl');
const configmap = readChartFile('templates/configmap.yaml');
const schema = JSON.parse(readChartFile('values.schema.json'));

/** Text from the line `- name: <name>` to the next container (or the end of the list section). */
function containerBlock(name: string): string {
  const start = workers.indexOf(`- name: ${name}\n`);
  expect(start, `container ${name} not found`).toBeGreaterThanOrEqual(0);
  const rest = workers.slice(start + 1);
  const ends = [
    rest.search(/\n {8}- name: /),
    rest.search(/\n {8}\{\{- if \$\.Values\.agent\.waitFor/),
    rest.search(/\n {6}containers:/),
    rest.search(/\n {6}volumes:/),
  ].filter((i) => i >= 0);
  return workers.slice(start, start + 1 + Math.min(...ends));
}

function envNames(block: string): string[] {
  return [...block.matchAll(/^\s+- name: (ATTUNE[A-Z_]*)$/gm)].map((m) => m[1] as string);
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || !(p in cur)) return undefined;
    cur = (cur as Values)[p];
  }
  return cur;
}

describe('Chart.yaml', () => {
  it('is a v2 application chart named after its directory, versioned like the agent', () => {
    const chart = parseYaml(readChartFile('Chart.yaml'));
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(chart.apiVersion).toBe('v2');
    expect(chart.type).toBe('application');
    expect(chart.name).toBe('attune-agent-workers');
    expect(chart.appVersion).toBe(pkg.version);
  });
});

describe('templates/agent-workers.yaml', () => {
  it('renders one Deployment per agentWorkers entry', () => {
    expect(workers).toMatch(/\{\{- range \$pool := \.Values\.agentWorkers \}\}/);
    expect(workers).toMatch(/^kind: Deployment$/m);
    expect(workers).toMatch(/^apiVersion: apps\/v1$/m);
  });

  it('has balanced block actions', () => {
    const text = workers + helpers + configmap;
    const opens = (text.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
    const ends = (text.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
    expect(ends).toBe(opens);
  });

  it('orders the init containers agent-loader, wait-for-schema, wait-for-packs before the worker', () => {
    const order = ['- name: agent-loader', '- name: wait-for-schema', '- name: wait-for-packs', 'containers:', '- name: worker'].map(
      (s) => workers.indexOf(s),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(workers.indexOf('initContainers:')).toBeLessThan(order[0] as number);
  });

  it('agent-loader installs the bundle from the agent image into the agent-bin volume at /agent-bin', () => {
    const block = containerBlock('agent-loader');
    expect(block).toContain('image: {{ include "attune-agent-workers.agentImage" $ | quote }}');
    expect(block).toContain('{{ printf "%s/attune-agent" $.Values.agentImage.bundleDir | quote }}');
    expect(block).toMatch(/- install\n\s+- --from\n\s+- \{\{ \$\.Values\.agentImage\.bundleDir \| quote \}\}\n\s+- --to\n\s+- \/agent-bin/);
    expect(block).toMatch(/- name: agent-bin\n\s+mountPath: \/agent-bin/);
  });

  for (const what of ['schema', 'packs'] as const) {
    it(`wait-for-${what} runs the installed agent's wait ${what} from the agent image`, () => {
      const block = containerBlock(`wait-for-${what}`);
      expect(block).toContain('image: {{ include "attune-agent-workers.agentImage" $ | quote }}');
      expect(block).toMatch(
        new RegExp(`- /opt/attune/agent/attune-agent\\n\\s+- wait\\n\\s+- ${what}\\n\\s+- --timeout\\n\\s+- \\{\\{ \\$\\.Values\\.agent\\.waitTimeoutSeconds \\| quote \\}\\}`),
      );
      expect(block).toMatch(/- name: agent-bin\n\s+mountPath: \/opt\/attune\/agent\n\s+readOnly: true/);
      expect(block).toContain('{{- include "attune-agent-workers.commonEnv" $ | trim | nindent 12 }}');
      expect(block).not.toContain('/bin/sh');
    });
  }

  it('wait-for-packs mounts the packs volume read-only', () => {
    expect(containerBlock('wait-for-packs')).toMatch(/- name: packs\n\s+mountPath: \/opt\/attune\/packs\n\s+readOnly: true/);
  });

  it('worker runs the pool image with the agent as command and `run` as args', () => {
    const block = containerBlock('worker');
    expect(block).toContain('image: {{ $pool.image | quote }}');
    expect(block).toContain('imagePullPolicy: {{ $pool.imagePullPolicy | default "IfNotPresent" }}');
    expect(block).toContain('command: ["/opt/attune/agent/attune-agent"]');
    expect(block).toContain('args: ["run"]');
  });

  it('worker gets the agent environment', () => {
    const block = containerBlock('worker');
    expect(envNames(block)).toEqual(
      expect.arrayContaining([
        'ATTUNE_WORKER_TYPE',
        'ATTUNE_WORKER_NAME',
        'ATTUNE_API_URL',
        'ATTUNE__LOG__LEVEL',
        'ATTUNE__AGENT__HEALTH_PORT',
        'ATTUNE__WORKER__SHUTDOWN_TIMEOUT',
        'ATTUNE_WORKER_RUNTIMES',
      ]),
    );
    expect(block).toContain('{{- include "attune-agent-workers.commonEnv" $ | trim | nindent 12 }}');
    expect(block).toMatch(/- name: ATTUNE_WORKER_TYPE\n\s+value: container/);
    expect(block).toMatch(/- name: ATTUNE_WORKER_NAME\n\s+valueFrom:\n\s+fieldRef:\n\s+fieldPath: metadata\.name/);
    expect(block).toMatch(/- name: ATTUNE__LOG__LEVEL\n\s+value: \{\{ \$pool\.logLevel \| default "info" \| quote \}\}/);
    // Only rendered when the pool lists runtimes: absent = auto-detect (spec 05 §4.2).
    expect(block).toMatch(/\{\{- if \$pool\.runtimes \}\}[\s\S]*?- name: ATTUNE_WORKER_RUNTIMES\n\s+value: \{\{ join "," \$pool\.runtimes \| quote \}\}[\s\S]*?\{\{- end \}\}/);
    // User env comes last.
    expect(block.indexOf('toYaml . | nindent 12')).toBeGreaterThan(block.indexOf('ATTUNE_WORKER_RUNTIMES'));
  });

  it('common env sets ATTUNE_CONFIG and reads secrets only through secretKeyRef', () => {
    expect(helpers).toMatch(/- name: ATTUNE_CONFIG\n\s+value: \/opt\/attune\/config\/config\.yaml/);
    expect(helpers).toMatch(/- name: ATTUNE__DATABASE__SCHEMA/);
    expect(helpers).toMatch(/range \$var, \$key := \.Values\.attune\.secret\.keys[\s\S]*secretKeyRef:\n\s+name: \{\{ \$\.Values\.attune\.secret\.name \}\}\n\s+key: \{\{ \$key \}\}/);
    const keys = getPath(defaultValues(), ['attune', 'secret', 'keys']) as Values;
    expect(Object.keys(keys).sort()).toEqual([
      'ATTUNE__DATABASE__URL',
      'ATTUNE__MESSAGE_QUEUE__URL',
      'ATTUNE__SECURITY__ENCRYPTION_KEY',
      'ATTUNE__SECURITY__JWT_SECRET',
    ]);
  });

  it('worker has readiness /readyz and liveness /healthz on the health port', () => {
    const block = containerBlock('worker');
    expect(block).toMatch(/- name: health\n\s+containerPort: \{\{ \$healthPort \}\}/);
    expect(block).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \/readyz\n\s+port: health/);
    expect(block).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/healthz\n\s+port: health/);
    expect(workers).toContain('{{- $healthPort := int $.Values.agent.healthPort }}');
    expect(defaultValues()).toMatchObject({ agent: { healthPort: 8090 } });
  });

  it('worker mounts agent-bin read-only and the shared volumes at upstream paths', () => {
    const block = containerBlock('worker');
    expect(block).toMatch(/- name: agent-bin\n\s+mountPath: \/opt\/attune\/agent\n\s+readOnly: true/);
    expect(block).toMatch(/- name: config\n\s+mountPath: \/opt\/attune\/config\n\s+readOnly: true/);
    expect(block).toMatch(/- name: packs\n\s+mountPath: \/opt\/attune\/packs\n\s+readOnly: true/);
    expect(block).toMatch(/- name: runtime-envs\n\s+mountPath: \/opt\/attune\/runtime_envs\n/);
    expect(block).toMatch(/- name: artifacts\n\s+mountPath: \/opt\/attune\/artifacts\n/);
  });

  it('declares the pod volumes: agent-bin emptyDir, config ConfigMap, packs PVC read-only, PVC-or-emptyDir for envs and artifacts', () => {
    const volumes = workers.slice(workers.indexOf('\n      volumes:'));
    expect(volumes).toMatch(/- name: agent-bin\n\s+\{\{- if \$\.Values\.agent\.binVolumeSizeLimit \}\}\n\s+emptyDir:/);
    expect(volumes).toMatch(/- name: config\n\s+configMap:\n\s+name: \{\{ include "attune-agent-workers\.configMapName" \$ \}\}/);
    expect(volumes).toMatch(/- name: packs\n\s+persistentVolumeClaim:\n\s+claimName: \{\{ \$\.Values\.storage\.packs\.claimName \}\}\n\s+readOnly: true/);
    for (const [vol, key] of [
      ['runtime-envs', 'runtimeEnvs'],
      ['artifacts', 'artifacts'],
    ]) {
      expect(volumes).toMatch(
        new RegExp(`- name: ${vol}\\n\\s+\\{\\{- if \\$\\.Values\\.storage\\.${key}\\.claimName \\}\\}\\n\\s+persistentVolumeClaim:[\\s\\S]*?\\{\\{- else \\}\\}\\n\\s+emptyDir: \\{\\}`),
      );
    }
  });

  it('copies runtimeClassName, nodeSelector and tolerations from the pool and maps stopGracePeriod', () => {
    expect(workers).toMatch(/\{\{- with \$pool\.runtimeClassName \}\}\n\s+runtimeClassName: \{\{ \. \}\}/);
    expect(workers).toMatch(/\{\{- with \$pool\.nodeSelector \}\}\n\s+nodeSelector:/);
    expect(workers).toMatch(/\{\{- with \$pool\.tolerations \}\}\n\s+tolerations:/);
    expect(workers).toContain('{{- $grace := int ($pool.stopGracePeriod | default 45) }}');
    expect(workers).toContain('terminationGracePeriodSeconds: {{ $grace }}');
    // Drain budget = grace − 10 unless set, and never at or above the grace period.
    expect(workers).toContain('{{- $shutdown := int ($pool.shutdownTimeout | default (max 1 (sub $grace 10))) }}');
    expect(workers).toMatch(/\{\{- if ge \$shutdown \$grace \}\}\n\{\{- fail /);
    expect(containerBlock('worker')).toMatch(/- name: ATTUNE__WORKER__SHUTDOWN_TIMEOUT\n\s+value: \{\{ \$shutdown \| quote \}\}/);
  });

  it('keeps an explicit replicas: 0 instead of defaulting it to 1', () => {
    expect(workers).toContain('replicas: {{ if hasKey $pool "replicas" }}{{ $pool.replicas }}{{ else }}1{{ end }}');
  });

  it('references only values that exist in values.yaml', () => {
    const text = workers + helpers + configmap + readChartFile('templates/NOTES.txt');
    const paths = new Set([...text.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1] as string));
    const values = defaultValues();
    const missing = [...paths].filter((p) => getPath(values, p.slice(1).split('.')) === undefined);
    expect(missing).toEqual([]);
    expect(paths.size).toBeGreaterThan(10);
  });

  it('reads only pool fields that the schema declares', () => {
    const fields = new Set([...workers.matchAll(/\$pool\.([A-Za-z]+)/g)].map((m) => m[1] as string));
    fields.add('replicas');
    const declared = Object.keys(schema.definitions.agentWorker.properties);
    expect([...fields].filter((f) => !declared.includes(f))).toEqual([]);
    // And every declared field is used somewhere (no dead schema entries).
    expect(declared.filter((f) => !fields.has(f))).toEqual([]);
  });
});

describe('templates/configmap.yaml', () => {
  it('renders config.yaml from config.data and nothing secret', () => {
    expect(configmap).toContain('kind: ConfigMap');
    expect(configmap).toContain('config.yaml: |');
    expect(configmap).toContain('toYaml (.Values.config.data | default dict)');
    expect(configmap).not.toMatch(/\.Values\.attune\.secret|secretKeyRef/);
    const data = getPath(defaultValues(), ['config', 'data']) as Values;
    expect(JSON.stringify(data)).not.toMatch(/url|secret|key|password/i);
  });
});

describe('chart files', () => {
  it('ships README, NOTES and the schema', () => {
    for (const f of ['README.md', 'templates/NOTES.txt', 'values.schema.json', 'Chart.yaml', 'values.yaml']) {
      expect(readFileSync(join(CHART_DIR, f), 'utf8').length).toBeGreaterThan(100);
    }
  });
});
