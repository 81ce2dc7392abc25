/**
 * One rendered pod of docker/helm/attune-agent-workers, ready to run with test/support/podflow.ts:
 * `helm template` (real helm) with the given values, schema-checked; the pod's volumes as host
 * directories with what the kubelet gives them (emptyDirs 0777, configMap items as files, the
 * fsGroup's group ownership on the writable ones); and each rendered container turned into a
 * ContainerSpec exactly as the pod spec says (command/args, env with secretKeyRef / fieldRef,
 * volumeMounts with subPath/readOnly, the restricted securityContext).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { helmTemplate } from './helm';
import { validateK8sObject } from './k8s-schema';
import { applyFsGroup, type ContainerSpec } from './podflow';
import { CONTAINER_PATH } from './sea';

export interface RenderedPod {
  readonly pod: any;
  readonly configYaml: string;
  readonly podName: string;
  /** Host directories backing the pod's volumes, by volume name. */
  readonly vol: Record<string, string>;
  /** The rendered container `name`, run from `image`. */
  container(name: string, image: string, imageMounts?: ContainerSpec['imageMounts']): ContainerSpec;
}

/**
 * `secrets`: what the Secret's keys (secretKeyRef) hold; `workDir`: where the volume dirs and
 * overlays go.
 */
export function renderPod(values: Record<string, unknown>, opts: { workDir: string; volumesDir: string; secrets: Record<string, string> }): RenderedPod {
  const r = helmTemplate([], values);
  expect(r.status, r.out).toBe(0);
  expect(r.objects.flatMap(validateK8sObject)).toEqual([]);
  const dep: any = r.objects.find((o) => o.kind === 'Deployment');
  const cm: any = r.objects.find((o) => o.kind === 'ConfigMap');
  const pod = dep.spec.template.spec;
  const fsGroup = Number(pod.securityContext.fsGroup);
  const vol: Record<string, string> = {};
  for (const v of pod.volumes) {
    const dir = join(opts.volumesDir, v.name);
    mkdirSync(dir, { recursive: true });
    vol[v.name] = dir;
    if (v.configMap) for (const item of v.configMap.items) writeFileSync(join(dir, item.path), cm.data[item.key]);
    if (v.emptyDir) chmodSync(dir, 0o777);
    if (v.emptyDir || v.persistentVolumeClaim) applyFsGroup(dir, fsGroup);
  }
  // A Deployment's pod: <deployment>-<replicaset hash>-<suffix>.
  const podName = `${dep.metadata.name}-${randomBytes(5).toString('hex').slice(0, 9)}-${randomBytes(3).toString('hex').slice(0, 5)}`;

  const valueFrom = (name: string, from: any): string => {
    if (from.fieldRef?.fieldPath === 'metadata.name') return podName;
    const v = from.secretKeyRef ? opts.secrets[from.secretKeyRef.key] : undefined;
    if (v === undefined) throw new Error(`the chart sets ${name} from ${JSON.stringify(from)}, which this test does not supply`);
    return v;
  };

  const container = (name: string, image: string, imageMounts: ContainerSpec['imageMounts'] = []): ContainerSpec => {
    const c = [...pod.initContainers, ...pod.containers].find((x: any) => x.name === name);
    if (!c) throw new Error(`the rendered pod has no container ${name}`);
    expect(c.envFrom, `${name}: envFrom would import a whole Secret this test cannot supply`).toBeUndefined();
    const env: Record<string, string> = { PATH: CONTAINER_PATH, HOSTNAME: podName };
    for (const e of c.env ?? []) env[e.name] = e.value ?? valueFrom(e.name, e.valueFrom);
    const sc = c.securityContext ?? {};
    const psc = pod.securityContext ?? {};
    const uid = sc.runAsUser ?? psc.runAsUser;
    const gid = sc.runAsGroup ?? psc.runAsGroup;
    // runAsNonRoot: the kubelet refuses to start a container that would run as uid 0.
    expect(uid, `${name}: runAsNonRoot needs a non-zero runAsUser`).toBeGreaterThan(0);
    return {
      name,
      image,
      workDir: opts.workDir,
      hostname: podName,
      command: [...c.command, ...(c.args ?? [])],
      env,
      imageMounts,
      volumes: c.volumeMounts.map((m: any) => ({
        source: m.subPath ? join(vol[m.name]!, m.subPath) : vol[m.name]!,
        mountPath: m.mountPath,
        readOnly: m.readOnly === true,
      })),
      readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
      runAs: { uid, gid, groups: [psc.fsGroup, ...(psc.supplementalGroups ?? [])].filter((g) => g !== undefined) },
      noNewPrivs: sc.allowPrivilegeEscalation === false,
    };
  };
  return { pod, configYaml: cm.data['config.yaml'], podName, vol, container };
}
