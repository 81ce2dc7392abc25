{{/*
The packs, runtime-envs and artifacts volumes per storage.mode (spec 07 §8.5, spec 06 §1):
  sharedVolume  the installation's PVCs (packs read-only); runtimeEnvs / artifacts with
                claimName "" fall back to a per-pod emptyDir (of sizeLimit, when set);
  object        per-pod caches: packs and runtime envs as bounded emptyDirs, or with
                storage.local.mode genericEphemeralVolume as ephemeral ReadWriteOnce claims;
                artifacts as a bounded emptyDir staging area.
*/}}
{{- define "attune-agent-workers.emptyDirOrClaim" -}}
{{- if .claimName }}
persistentVolumeClaim:
  claimName: {{ .claimName }}
{{- else if .sizeLimit }}
emptyDir:
  sizeLimit: {{ .sizeLimit }}
{{- else }}
emptyDir: {}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.localCache" -}}
{{- if eq .mode "genericEphemeralVolume" }}
ephemeral:
  volumeClaimTemplate:
    spec:
      accessModes: ["ReadWriteOnce"]
      {{- with .volume.storageClassName }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ .volume.sizeLimit }}
{{- else }}
emptyDir:
  sizeLimit: {{ .volume.sizeLimit }}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.storageVolumes" -}}
{{- $s := .Values.storage }}
{{- if eq $s.mode "object" }}
- name: packs
  {{- include "attune-agent-workers.localCache" (dict "mode" $s.local.mode "volume" $s.local.packs) | trim | nindent 2 }}
- name: runtime-envs
  {{- include "attune-agent-workers.localCache" (dict "mode" $s.local.mode "volume" $s.local.runtimeEnvs) | trim | nindent 2 }}
- name: artifacts
  emptyDir:
    sizeLimit: {{ $s.local.artifactStaging.sizeLimit }}
{{- else }}
- name: packs
  persistentVolumeClaim:
    claimName: {{ $s.packs.claimName }}
    readOnly: true
- name: runtime-envs
  {{- include "attune-agent-workers.emptyDirOrClaim" $s.runtimeEnvs | trim | nindent 2 }}
- name: artifacts
  {{- include "attune-agent-workers.emptyDirOrClaim" $s.artifacts | trim | nindent 2 }}
{{- end }}
{{- end }}
