// What the chart renders for security and storage, with real helm: the Pod Security "restricted"
// profile for every container, upstream's merge order of security contexts (spec 07 §8.2), the
// volumes and transports of each storage.mode (§8.5, spec 06 §1) and upstream's image naming.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { helmTemplate } from '../../support/helm';
import { validateK8sObject } from '../../support/k8s-schema';
import { exampleFiles } from './chart-helpers';
import { restrictedViolations } from './pod-security';

function render(extra: Record<string, unknown> | null = null, files: string[] = []): { pod: any; worker: any; config: any; objects: any[] } {
  const r = helmTemplate(files, extra);
  expect(r.status, r.out).toBe(0);
  expect(r.objects.flatMap(validateK8sObject)).toEqual([]);
  const dep: any = r.objects.find((o) => o.kind === 'Deployment');
  const cm: any = r.objects.find((o) => o.kind === 'ConfigMap');
  const pod = dep.spec.template.spec;
  return { pod, worker: pod.containers[0], config: cm ? parseYaml(cm.data['config.yaml']) : null, objects: r.objects };
}

const byName = (list: any[]): Record<string, any> => Object.fromEntries(list.map((v) => [v.name, v]));

describe('restricted by default', () => {
  it('every container of the default pod runs as uid/gid 1000, non-root, RuntimeDefault seccomp, no escalation, no capabilities, read-only root', () => {
    const { pod } = render();
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, fsGroup: 1000, fsGroupChangePolicy: 'OnRootMismatch' });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext, c.name).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        runAsUser: 1000,
        runAsGroup: 1000,
      });
    }
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  for (const file of exampleFiles()) {
    it(`${file.split('/').pop()} stays within the restricted profile`, () => {
      const r = helmTemplate([file]);
      expect(r.status, r.out).toBe(0);
      for (const dep of r.objects.filter((o) => o.kind === 'Deployment') as any[]) expect(restrictedViolations(dep.spec.template.spec), dep.metadata.name).toEqual([]);
    });
  }

  it('gives the read-only root a writable /tmp emptyDir and points HOME there', () => {
    const { pod, worker } = render();
    expect(worker.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(byName(pod.volumes).tmp).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } });
    expect(byName(worker.env).HOME).toEqual({ name: 'HOME', value: '/tmp' });
  });

  it('merges a pool\'s containerSecurityContext and podSecurityContext over the defaults, key by key', () => {
    const { pod, worker } = render({
      actionWorkers: [{ name: 'x', image: 'busybox:1.36', containerSecurityContext: { runAsUser: 10001, readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }, podSecurityContext: { fsGroup: 3000, supplementalGroups: [4000] } }],
    });
    expect(worker.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] }, readOnlyRootFilesystem: false, runAsUser: 10001, runAsGroup: 1000 });
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, fsGroup: 3000, fsGroupChangePolicy: 'OnRootMismatch', supplementalGroups: [4000] });
    // Init containers keep the helper identity.
    expect(pod.initContainers[0].securityContext.runAsUser).toBe(1000);
    expect(restrictedViolations(pod)).toEqual([]);
  });

  it('renders no securityContext at all with workloadSecurity.enabled false (as upstream)', () => {
    const { pod } = render({ workloadSecurity: { enabled: false } });
    expect(pod.securityContext).toBeUndefined();
    expect([...pod.initContainers, ...pod.containers].map((c: any) => c.securityContext)).toEqual([undefined, undefined, undefined, undefined]);
    expect(restrictedViolations(pod)).toContain('container worker: runAsNonRoot != true');
  });
});

describe('storage.mode', () => {
  it('sharedVolume (default): the PVCs, packs read-only, both transports volume, wait-for-packs', () => {
    const { pod, worker, config } = render();
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['agent-loader', 'wait-for-schema', 'wait-for-packs']);
    const vols = byName(pod.volumes);
    expect(vols.packs).toEqual({ name: 'packs', persistentVolumeClaim: { claimName: 'attune-packs', readOnly: true } });
    expect(vols['runtime-envs']).toEqual({ name: 'runtime-envs', persistentVolumeClaim: { claimName: 'attune-runtime-envs' } });
    expect(vols.artifacts).toEqual({ name: 'artifacts', persistentVolumeClaim: { claimName: 'attune-artifacts' } });
    expect(byName(worker.volumeMounts).packs).toEqual({ name: 'packs', mountPath: '/opt/attune/packs', readOnly: true });
    expect(config.packs).toEqual({ transport: 'volume' });
    expect(config.artifacts).toEqual({ transport: 'volume', log_segment_max_bytes: 65536, flush_interval_ms: 500 });
    expect(byName(worker.env).ATTUNE_API_URL.value).toBe('http://attune-api:8080');
  });

  it('object: bounded emptyDir caches (packs writable), artifacts staging, both transports api, ATTUNE_API_URL, no wait-for-packs', () => {
    const { pod, worker, config } = render({ storage: { mode: 'object' } });
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['agent-loader', 'wait-for-schema']);
    const vols = byName(pod.volumes);
    expect(vols.packs).toEqual({ name: 'packs', emptyDir: { sizeLimit: '2Gi' } });
    expect(vols['runtime-envs']).toEqual({ name: 'runtime-envs', emptyDir: { sizeLimit: '10Gi' } });
    expect(vols.artifacts).toEqual({ name: 'artifacts', emptyDir: { sizeLimit: '20Gi' } });
    expect(byName(worker.volumeMounts).packs).toEqual({ name: 'packs', mountPath: '/opt/attune/packs' });
    expect(config.packs.transport).toBe('api');
    expect(config.artifacts.transport).toBe('api');
    expect(byName(worker.env).ATTUNE_API_URL.value).toBe('http://attune-api:8080');
    // storage.local.podSecurityContext (fsGroup for the writable caches).
    expect(pod.securityContext).toMatchObject({ fsGroup: 1000, fsGroupChangePolicy: 'OnRootMismatch' });
  });

  it('object with genericEphemeralVolume: per-pod ReadWriteOnce claims of the cache sizes', () => {
    const { pod } = render({ storage: { mode: 'object', local: { mode: 'genericEphemeralVolume', packs: { sizeLimit: '3Gi', storageClassName: 'fast' } } } });
    expect(byName(pod.volumes).packs.ephemeral.volumeClaimTemplate.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '3Gi' } } });
    expect(byName(pod.volumes)['runtime-envs'].ephemeral.volumeClaimTemplate.spec.resources.requests.storage).toBe('10Gi');
  });

  it('refuses genericEphemeralVolume without object mode, and a transport set by hand', () => {
    const a = helmTemplate([], { storage: { local: { mode: 'genericEphemeralVolume' } } });
    expect(a.status).not.toBe(0);
    expect(a.out).toMatch(/storage/);
    const b = helmTemplate([], { config: { data: { packs: { transport: 'api' } } } });
    expect(b.status).not.toBe(0);
    expect(b.out).toMatch(/packs\/transport/);
  });
});

describe('upstream keys', () => {
  it('composes images.agent with global.imageRegistry / imageNamespace / imageTag as upstream', () => {
    const image = (extra: Record<string, unknown>): string => render(extra).pod.initContainers[0].image;
    expect(image({})).toBe('attune/agent:0.6.0');
    expect(image({ global: { imageTag: '0.7.4' } })).toBe('attune/agent:0.7.4');
    expect(image({ global: { imageRegistry: 'ghcr.io', imageTag: '0.7.4' } })).toBe('ghcr.io/attune/agent:0.7.4');
    expect(image({ global: { imageRegistry: 'ghcr.io', imageNamespace: 'attune-system', imageTag: '0.7.4' } })).toBe('ghcr.io/attune-system/attune/agent:0.7.4');
    expect(image({ global: { imageRegistry: 'ghcr.io', imageTag: '0.7.4' }, images: { agent: { tag: '1.0.0' } } })).toBe('ghcr.io/attune/agent:1.0.0');
    expect(image({ images: { agent: { digest: `sha256:${'a'.repeat(64)}` } } })).toBe(`attune/agent@sha256:${'a'.repeat(64)}`);
  });

  it('security.existingSecret: envFrom the whole Secret (upstream) and the secretKeyRefs read it too', () => {
    const { pod, worker } = render({ security: { existingSecret: 'attune-secret' } });
    expect(worker.envFrom).toEqual([{ secretRef: { name: 'attune-secret' } }]);
    expect(byName(worker.env).ATTUNE__DATABASE__URL.valueFrom.secretKeyRef.name).toBe('attune-secret');
    expect(pod.initContainers[1].envFrom).toEqual([{ secretRef: { name: 'attune-secret' } }]);
  });

  it('env values of upstream\'s types render as strings; valueFrom of every upstream source passes through', () => {
    const { worker } = render({
      actionWorkers: [{
        name: 'x', image: 'busybox:1.36', logLevel: 'debug,sqlx=warn', maxDatabaseConnections: 12,
        resources: { limits: { 'nvidia.com/gpu': 1, cpu: 2 }, claims: [{ name: 'gpu', request: 'a100' }] },
        env: [
          { name: 'A_STR', value: 'x' }, { name: 'A_INT', value: 4 }, { name: 'A_FLOAT', value: 1.5 }, { name: 'A_BOOL', value: true },
          { name: 'F', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'R', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          { name: 'C', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
          { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } },
        ],
      }],
    });
    const env = byName(worker.env);
    expect([env.A_STR.value, env.A_INT.value, env.A_FLOAT.value, env.A_BOOL.value]).toEqual(['x', '4', '1.5', 'true']);
    expect(env.R.valueFrom).toEqual({ resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } });
    expect(env.S.valueFrom).toEqual({ secretKeyRef: { name: 's', key: 'k', optional: true } });
    expect(env.RUST_LOG.value).toBe('debug,sqlx=warn');
    expect(env.ATTUNE__DATABASE__MAX_CONNECTIONS.value).toBe('12');
    expect(worker.resources).toEqual({ limits: { 'nvidia.com/gpu': 1, cpu: 2 }, claims: [{ name: 'gpu', request: 'a100' }] });
  });

  it('probes can be tuned or turned off per pool (ours)', () => {
    const tuned = render({ actionWorkers: [{ name: 'x', image: 'busybox:1.36', probes: { readiness: { periodSeconds: 3 } } }] }).worker;
    expect(tuned.readinessProbe).toMatchObject({ periodSeconds: 3, timeoutSeconds: 3, httpGet: { path: '/readyz' } });
    const off = render({ actionWorkers: [{ name: 'x', image: 'busybox:1.36', probes: { enabled: false } }] }).worker;
    expect(off.readinessProbe).toBeUndefined();
    expect(off.livenessProbe).toBeUndefined();
  });
});
