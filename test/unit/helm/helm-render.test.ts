// Real `helm lint --strict` and `helm template` (helm v4 from the lambda-layer devDependency,
// test/support/helm.ts) of the chart's defaults, every example (upstream-pools.yaml is upstream's
// default pool and example pools, pasted unchanged) and error cases. Every rendered object is
// validated against the Kubernetes API schema of its kind, unknown fields rejected
// (test/support/k8s-schema.ts).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

import { helmLint, helmTemplate } from '../../support/helm';
import { validateK8sObject, type K8sObject } from '../../support/k8s-schema';
import { REPO_ROOT, coalesce, defaultValues, exampleFiles, loadYaml, type Values } from './chart-helpers';

const deployments = (objs: K8sObject[]): any[] => objs.filter((o) => o.kind === 'Deployment');
const envOf = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));

/** Pools the chart renders for these values files (actionWorkers, or agentWorkers when given). */
function poolsOf(files: string[]): Values[] {
  const merged = files.reduce((v, f) => coalesce(v, loadYaml(f)), defaultValues());
  return ((merged.agentWorkers ?? merged.actionWorkers) as Values[]) ?? [];
}

function expectValidObjects(objects: K8sObject[]): void {
  expect(objects.length).toBeGreaterThan(0);
  expect(objects.flatMap(validateK8sObject)).toEqual([]);
}

describe('helm lint --strict / helm template (real helm v4)', () => {
  it('lints the chart with its defaults and renders schema-valid objects', () => {
    const lint = helmLint();
    expect(lint.out).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(lint.status, lint.out).toBe(0);
    const r = helmTemplate();
    expect(r.status, r.out).toBe(0);
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ConfigMap/attune-agent-workers-config', 'Deployment/attune-action-worker-full']);
    expectValidObjects(r.objects);
  });

  for (const file of exampleFiles()) {
    it(`lints and renders examples/${basename(file)}: one valid Deployment per pool, wired as the chart promises`, () => {
      const lint = helmLint([file]);
      expect(lint.status, lint.out).toBe(0);
      const r = helmTemplate([file]);
      expect(r.status, r.out).toBe(0);
      expectValidObjects(r.objects);
      const pools = poolsOf([file]);
      const deps = deployments(r.objects);
      expect(deps).toHaveLength(pools.length);
      const objectMode = loadYaml(file).storage && (loadYaml(file).storage as Values).mode === 'object';

      for (const [i, pool] of pools.entries() as IterableIterator<[number, any]>) {
        const dep = deps[i];
        expect(dep.metadata.name).toBe(`attune-action-worker-${String(pool.name).toLowerCase().replace(/_/g, '-')}`.slice(0, 63));
        expect(dep.spec.replicas).toBe(pool.replicas ?? 1);
        const pod = dep.spec.template.spec;
        expect(pod.initContainers.map((c: any) => c.name)).toEqual(objectMode ? ['agent-loader', 'wait-for-schema'] : ['agent-loader', 'wait-for-schema', 'wait-for-packs']);
        expect(pod.initContainers[0].command).toEqual(['/opt/attune/agent/attune-agent', 'install', '--from', '/opt/attune/agent', '--to', '/agent-bin']);
        expect(pod.initContainers[1].command.slice(1)).toEqual(['wait', 'schema', '--timeout', '600']);
        const worker = pod.containers[0];
        expect(worker.name).toBe('worker');
        expect(worker.image).toBe(pool.image);
        expect(worker.imagePullPolicy).toBe(pool.imagePullPolicy ?? 'IfNotPresent');
        expect(worker.command).toEqual(['/opt/attune/agent/attune-agent']);
        expect(worker.args).toBeUndefined();
        const env = envOf(worker);
        expect(env.ATTUNE_WORKER_TYPE).toBe('container');
        expect(env.ATTUNE_WORKER_NAME).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
        expect(env.RUST_LOG).toBe(pool.logLevel ?? 'info');
        expect(env.ATTUNE__DATABASE__MAX_CONNECTIONS).toBe(String(pool.maxDatabaseConnections ?? 5));
        expect(env.ATTUNE_CONFIG).toBe('/opt/attune/config.yaml');
        expect(env.ATTUNE__AGENT__HEALTH_PORT).toBe('8090');
        const grace = pool.stopGracePeriod ?? 45;
        expect(pod.terminationGracePeriodSeconds).toBe(grace);
        expect(env.ATTUNE__WORKER__SHUTDOWN_TIMEOUT).toBe(String(pool.shutdownTimeout ?? grace - 10));
        if (pool.runtimes?.length) expect(env.ATTUNE_WORKER_RUNTIMES).toBe(pool.runtimes.join(','));
        else expect(env.ATTUNE_WORKER_RUNTIMES).toBeUndefined();
        // The pool's env comes last, values as strings (Kubernetes refuses numbers).
        const poolEnv = (pool.env ?? []) as any[];
        expect(worker.env.slice(worker.env.length - poolEnv.length).map((e: any) => e.name)).toEqual(poolEnv.map((e) => e.name));
        for (const e of poolEnv) expect(env[e.name]).toEqual(e.valueFrom ?? String(e.value));
        expect(worker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
        expect(worker.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'health' }, ...(pool.probes?.liveness ?? {}) });
        expect(worker.volumeMounts).toContainEqual({ name: 'agent-bin', mountPath: '/opt/attune/agent', readOnly: true });
        expect(worker.volumeMounts).toContainEqual({ name: 'config', mountPath: '/opt/attune/config.yaml', subPath: 'config.yaml', readOnly: true });
        expect(worker.resources).toEqual(pool.resources ?? {});
        expect(pod.runtimeClassName).toBe(pool.runtimeClassName);
        expect(pod.nodeSelector).toEqual(pool.nodeSelector);
        expect(pod.tolerations).toEqual(pool.tolerations);
        expect(pod.affinity).toEqual(pool.affinity);
        expect(dep.spec.template.metadata.annotations).toMatchObject({ 'attune.dev/release-revision': '1', ...(pool.podAnnotations ?? {}) });
      }
    });
  }

  it('catches a field Kubernetes does not know in what the chart renders (imagePullPolicyy, a typo inside affinity)', () => {
    const r = helmTemplate();
    const dep = structuredClone(deployments(r.objects)[0]);
    dep.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    expect(validateK8sObject(dep)).toEqual(['Deployment/attune-action-worker-full: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy"']);
    // affinity is passed through verbatim, so only the Kubernetes schema can catch this one.
    const typo = helmTemplate([], { actionWorkers: [{ name: 'x', image: 'busybox:1.36', affinity: { nodeAfinity: {} } }] });
    expect(typo.status, typo.out).toBe(0);
    expect(typo.objects.flatMap(validateK8sObject)).toEqual(['Deployment/attune-action-worker-x: spec.template.spec.affinity.nodeAfinity: unknown field "nodeAfinity"']);
  });

  it('catches wrong types and enum values in rendered objects', () => {
    const dep = structuredClone(deployments(helmTemplate().objects)[0]);
    dep.spec.template.spec.terminationGracePeriodSeconds = '45';
    dep.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    const problems = validateK8sObject(dep).join('\n');
    expect(problems).toContain('terminationGracePeriodSeconds must be integer');
    expect(problems).toContain('containers/0/imagePullPolicy must be equal to one of the allowed values');
  });

  it('refuses values that break the schema and names the field', () => {
    const r = helmTemplate([], { actionWorkers: [{ name: 'x', image: 'busybox:1.36', replicas: -1, runtime: ['ruby'] }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/replicas/);
    expect(r.out).toMatch(/runtime/);
  });

  it('refuses a pool that asks for root or privilege escalation, as upstream\'s schema does', () => {
    const r = helmTemplate([], { actionWorkers: [{ name: 'x', image: 'busybox:1.36', containerSecurityContext: { allowPrivilegeEscalation: true, runAsUser: 0 } }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/allowPrivilegeEscalation/);
    expect(r.out).toMatch(/runAsUser/);
  });

  it('refuses an explicit shutdownTimeout that is not below stopGracePeriod', () => {
    const r = helmTemplate([], { actionWorkers: [{ name: 'x', image: 'busybox:1.36', stopGracePeriod: 30, shutdownTimeout: 30 }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('shutdownTimeout (30) must be lower than stopGracePeriod (30)');
  });

  it('refuses two pools whose names collide after normalisation', () => {
    const r = helmTemplate([], { actionWorkers: [{ name: 'a_b', image: 'busybox:1.36' }, { name: 'A-B', image: 'alpine:3.20' }] });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('two pools are named "a-b"');
  });

  it('renders replicas: 0 as 0 and emptyDirs when the claims are empty', () => {
    const r = helmTemplate([], {
      storage: { runtimeEnvs: { claimName: '' }, artifacts: { claimName: '', sizeLimit: '1Gi' } },
      actionWorkers: [{ name: 'x', image: 'busybox:1.36', replicas: 0 }],
    });
    expect(r.status, r.out).toBe(0);
    expectValidObjects(r.objects);
    const dep = deployments(r.objects)[0];
    expect(dep.spec.replicas).toBe(0);
    const vols = Object.fromEntries(dep.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    expect(vols['runtime-envs']).toEqual({ name: 'runtime-envs', emptyDir: {} });
    expect(vols.artifacts).toEqual({ name: 'artifacts', emptyDir: { sizeLimit: '1Gi' } });
  });

  it('still reads agentWorkers (the older name) instead of actionWorkers, with its securityContext key', () => {
    const r = helmTemplate([], { agentWorkers: [{ name: 'legacy', image: 'ruby:3.3', securityContext: { runAsUser: 2000 } }] });
    expect(r.status, r.out).toBe(0);
    expectValidObjects(r.objects);
    const deps = deployments(r.objects);
    expect(deps.map((d) => d.metadata.name)).toEqual(['attune-action-worker-legacy']);
    expect(deps[0].spec.template.spec.containers[0].securityContext.runAsUser).toBe(2000);
  });

  it('takes a 63-character pool name (upstream\'s limit) and truncates resource names to 63', () => {
    const name = `p${'x'.repeat(62)}`;
    const r = helmTemplate([], { actionWorkers: [{ name, image: 'busybox:1.36' }] });
    expect(r.status, r.out).toBe(0);
    expectValidObjects(r.objects);
    const dep = deployments(r.objects)[0];
    expect(dep.metadata.name).toHaveLength(63);
    expect(dep.spec.template.metadata.labels['app.kubernetes.io/component']).toBe(`action-worker-${name}`.slice(0, 63));
  });
});

describe('upstream values files, unchanged (attune-charts ci/*.yaml @52dd0e6)', () => {
  for (const [file, mode] of [['upstream-ci-shared-volume-values.yaml', 'sharedVolume'], ['upstream-ci-object-values.yaml', 'object']] as const) {
    it(`${file} lints and renders schema-valid objects in storage.mode ${mode}, envFrom security.existingSecret`, () => {
      const path = join(REPO_ROOT, 'test', 'fixtures', 'helm', file);
      const lint = helmLint([path]);
      expect(lint.status, lint.out).toBe(0);
      const r = helmTemplate([path]);
      expect(r.status, r.out).toBe(0);
      expectValidObjects(r.objects);
      const worker = deployments(r.objects)[0].spec.template.spec.containers[0];
      expect(worker.envFrom).toEqual([{ secretRef: { name: 'verify-runtime' } }]);
      const config = parseYaml((r.objects.find((o) => o.kind === 'ConfigMap') as any).data['config.yaml']);
      expect(config.packs.transport).toBe(mode === 'object' ? 'api' : 'volume');
    });
  }
});
