// `helm lint` and `helm template` of the chart and every example. These need a helm binary on
// PATH; without one they are reported as SKIPPED (never as passed) — templates-structure.test.ts
// covers what can be checked without rendering.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

import { CHART_DIR, exampleFiles, hasHelm, helmPath, loadYaml } from './chart-helpers';

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function helm(args: string[]): { status: number; out: string } {
  const r = spawnSync(helmPath as string, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function render(valueFiles: string[], extra: Record<string, unknown> | null = null): { status: number; out: string; objects: K8sObject[] } {
  const args = ['template', 'attune-workers', CHART_DIR, ...valueFiles.flatMap((f) => ['-f', f])];
  let tmp: string | null = null;
  if (extra) {
    tmp = mkdtempSync(join(tmpdir(), 'attune-helm-'));
    writeFileSync(join(tmp, 'extra.yaml'), stringify(extra));
    args.push('-f', join(tmp, 'extra.yaml'));
  }
  try {
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

const deployments = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'Deployment');

describe('helm (requires a helm binary on PATH)', () => {
  it.skipIf(!hasHelm)('lints the chart with its defaults', () => {
    const r = helm(['lint', '--strict', CHART_DIR]);
    expect(r.out).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  for (const file of exampleFiles()) {
    it.skipIf(!hasHelm)(`lints and renders examples/${basename(file)}`, () => {
      const lint = helm(['lint', '--strict', CHART_DIR, '-f', file]);
      expect(lint.status, lint.out).toBe(0);

      const r = render([file]);
      expect(r.status, r.out).toBe(0);
      const pools = (loadYaml(file).agentWorkers as Array<Record<string, any>>) ?? []; // eslint-disable-line @typescript-eslint/no-explicit-any
      const deps = deployments(r.objects);
      expect(deps).toHaveLength(pools.length);

      for (const [i, pool] of pools.entries()) {
        const pod = deps[i]?.spec.template.spec;
        expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(['agent-loader', 'wait-for-schema', 'wait-for-packs']);
        expect(pod.initContainers[0].command).toEqual(['/opt/attune/agent/attune-agent', 'install', '--from', '/opt/attune/agent', '--to', '/agent-bin']);
        expect(pod.initContainers[1].command.slice(1)).toEqual(['wait', 'schema', '--timeout', '600']);
        expect(pod.initContainers[2].command.slice(1)).toEqual(['wait', 'packs', '--timeout', '600']);
        const worker = pod.containers[0];
        expect(worker.name).toBe('worker');
        expect(worker.image).toBe(pool.image);
        expect(worker.command).toEqual(['/opt/attune/agent/attune-agent']);
        expect(worker.args).toEqual(['run']);
        const env = Object.fromEntries(worker.env.map((e: { name: string; value?: string }) => [e.name, e.value ?? e]));
        expect(env.ATTUNE_WORKER_TYPE).toBe('container');
        expect(env.ATTUNE__LOG__LEVEL).toBe(pool.logLevel ?? 'info');
        expect(env.ATTUNE__AGENT__HEALTH_PORT).toBe('8090');
        const grace = pool.stopGracePeriod ?? 45;
        expect(pod.terminationGracePeriodSeconds).toBe(grace);
        expect(env.ATTUNE__WORKER__SHUTDOWN_TIMEOUT).toBe(String(pool.shutdownTimeout ?? grace - 10));
        if (pool.runtimes?.length) expect(env.ATTUNE_WORKER_RUNTIMES).toBe(pool.runtimes.join(','));
        else expect(env.ATTUNE_WORKER_RUNTIMES).toBeUndefined();
        expect(worker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
        expect(worker.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
        expect(worker.volumeMounts).toContainEqual({ name: 'agent-bin', mountPath: '/opt/attune/agent', readOnly: true });
        expect(pod.runtimeClassName).toBe(pool.runtimeClassName);
        expect(pod.tolerations).toEqual(pool.tolerations);
      }
    });
  }

  it.skipIf(!hasHelm)('refuses values that break the schema and names the field', () => {
    const r = render([], { agentWorkers: [{ name: 'x', image: 'y', replicas: -1, runtime: ['ruby'] }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/replicas/);
    expect(r.out).toMatch(/runtime/);
  });

  it.skipIf(!hasHelm)('refuses a shutdownTimeout that is not below stopGracePeriod', () => {
    const r = render([], { agentWorkers: [{ name: 'x', image: 'y', stopGracePeriod: 30, shutdownTimeout: 30 }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('shutdownTimeout (30) must be lower than stopGracePeriod (30)');
  });

  it.skipIf(!hasHelm)('refuses two pools whose names collide after normalisation', () => {
    const r = render([], { agentWorkers: [{ name: 'a_b', image: 'y' }, { name: 'A-B', image: 'z' }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('two pools are named "a-b"');
  });

  it.skipIf(!hasHelm)('renders replicas: 0 as 0 and emptyDirs when claims are empty', () => {
    const r = render([], {
      storage: { runtimeEnvs: { claimName: '' }, artifacts: { claimName: '', sizeLimit: '1Gi' } },
      agentWorkers: [{ name: 'x', image: 'y', replicas: 0 }],
    });
    expect(r.status, r.out).toBe(0);
    const dep = deployments(r.objects)[0];
    expect(dep?.spec.replicas).toBe(0);
    const vols = Object.fromEntries(dep?.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]));
    expect(vols['runtime-envs']).toEqual({ name: 'runtime-envs', emptyDir: {} });
    expect(vols.artifacts).toEqual({ name: 'artifacts', emptyDir: { sizeLimit: '1Gi' } });
  });
});
