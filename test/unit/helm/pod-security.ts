// Pod Security Admission "restricted" (Kubernetes v1.35 Pod Security Standards, baseline +
// restricted controls that a pod template can violate), checked on a rendered pod spec. Returns
// one line per violation, naming the container and field, like the admission controller's
// "violates PodSecurity restricted:latest" message.
/* eslint-disable @typescript-eslint/no-explicit-any */

const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

export function restrictedViolations(pod: any): string[] {
  const out: string[] = [];
  const podCtx = pod.securityContext ?? {};
  for (const flag of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (pod[flag]) out.push(`pod: ${flag} is true`);
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUME_TYPES.includes(type)) out.push(`volume ${v.name}: type ${type} is not allowed`);
  }
  if (podCtx.runAsUser === 0) out.push('pod: runAsUser is 0');
  if (podCtx.seccompProfile?.type === 'Unconfined') out.push('pod: seccompProfile Unconfined');
  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  for (const c of containers) {
    const ctx = c.securityContext ?? {};
    const who = `container ${c.name}`;
    if (ctx.privileged) out.push(`${who}: privileged`);
    if (ctx.allowPrivilegeEscalation !== false) out.push(`${who}: allowPrivilegeEscalation != false`);
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) out.push(`${who}: runAsNonRoot != true`);
    if ((ctx.runAsUser ?? podCtx.runAsUser) === 0) out.push(`${who}: runAsUser is 0`);
    const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${who}: seccompProfile.type is ${seccomp ?? 'unset'}`);
    if (!(ctx.capabilities?.drop ?? []).includes('ALL')) out.push(`${who}: capabilities.drop lacks ALL`);
    for (const cap of ctx.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') out.push(`${who}: capabilities.add ${cap}`);
    if (ctx.procMount && ctx.procMount !== 'Default') out.push(`${who}: procMount ${ctx.procMount}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${who}: hostPort ${p.hostPort}`);
  }
  return out;
}
