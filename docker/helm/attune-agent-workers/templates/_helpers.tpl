{{/* Chart name, truncated to the 63-character DNS label limit. */}}
{{- define "attune-agent-workers.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Base of resource names, as upstream's `attune.fullname` with chart name "attune": the release name
if it contains "attune", else <release>-attune. Deployments are <fullname>-action-worker-<pool>,
the names upstream's agent-workers template uses (spec 07 §8.3).
*/}}
{{- define "attune-agent-workers.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "attune" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-attune" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "attune-agent-workers.selectorLabels" -}}
app.kubernetes.io/name: {{ include "attune-agent-workers.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "attune-agent-workers.labels" -}}
helm.sh/chart: {{ include "attune-agent-workers.chart" . }}
{{ include "attune-agent-workers.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: attune
{{- end }}

{{/*
The agent-init image, composed as upstream's `attune.image`:
<imageRegistry>/<imageNamespace>/<repository>, <imageRegistry>/<repository> or <repository>;
then @digest (ours), else :tag → global.imageTag → the chart's appVersion.
*/}}
{{- define "attune-agent-workers.agentImage" -}}
{{- $img := .Values.images.agent }}
{{- $g := .Values.global | default dict }}
{{- $repo := $img.repository }}
{{- if and $g.imageRegistry $g.imageNamespace }}
{{- $repo = printf "%s/%s/%s" $g.imageRegistry $g.imageNamespace $img.repository }}
{{- else if $g.imageRegistry }}
{{- $repo = printf "%s/%s" $g.imageRegistry $img.repository }}
{{- end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default (default .Chart.AppVersion $g.imageTag) $img.tag) }}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.configMapName" -}}
{{- if .Values.config.existingConfigMap }}
{{- .Values.config.existingConfigMap }}
{{- else }}
{{- printf "%s-agent-workers-config" (include "attune-agent-workers.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.hasConfig" -}}
{{- if or .Values.config.create .Values.config.existingConfigMap }}true{{- end }}
{{- end }}

{{/* The Secret the variables come from: upstream's security.existingSecret, else attune.secret.name. */}}
{{- define "attune-agent-workers.secretName" -}}
{{- default .Values.attune.secret.name .Values.security.existingSecret }}
{{- end }}

{{- define "attune-agent-workers.envFromSecret" -}}
{{- if or .Values.security.existingSecret .Values.attune.secret.envFromAll }}
envFrom:
  - secretRef:
      name: {{ include "attune-agent-workers.secretName" . }}
{{- end }}
{{- end }}

{{/*
Variables every agent container gets (init waits and worker): config file, schema, and the
secret-bearing variables as secretKeyRef from the existing Secret (never copied into the chart).
*/}}
{{- define "attune-agent-workers.commonEnv" -}}
{{- if include "attune-agent-workers.hasConfig" . }}
- name: ATTUNE_CONFIG
  value: /opt/attune/config.yaml
{{- end }}
- name: ATTUNE__DATABASE__SCHEMA
  value: {{ .Values.attune.databaseSchema | quote }}
{{- range $var, $key := .Values.attune.secret.keys }}
{{- if $key }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ include "attune-agent-workers.secretName" $ }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Container securityContext for identity `id` (helper | worker), as upstream's helpers (spec 07
§8.2): workloadSecurity.containerSecurityContext, then the identity's runAsUser/runAsGroup, then
`override` (a pool's containerSecurityContext). Empty when workloadSecurity.enabled is false.
Call with (dict "root" $ "id" "worker" "override" $pool.containerSecurityContext).
*/}}
{{- define "attune-agent-workers.containerSecurityContext" -}}
{{- $ws := .root.Values.workloadSecurity }}
{{- if $ws.enabled }}
{{- $identity := get $ws.identities .id }}
{{- $ctx := mustMergeOverwrite (deepCopy ($ws.containerSecurityContext | default dict)) (deepCopy $identity) (deepCopy (.override | default dict)) }}
{{- toYaml $ctx }}
{{- end }}
{{- end }}

{{/*
Pod securityContext (spec 07 §8.2): workloadSecurity.podSecurityContext; in object mode
storage.local.podSecurityContext; then the pool's podSecurityContext, which in sharedVolume mode
gets fsGroup = identities.worker.runAsGroup and fsGroupChangePolicy OnRootMismatch unless it sets
them (the PVCs must be group-writable for uid 1000).
Call with (dict "root" $ "pool" $pool).
*/}}
{{- define "attune-agent-workers.podSecurityContext" -}}
{{- $ws := .root.Values.workloadSecurity }}
{{- if $ws.enabled }}
{{- $ctx := deepCopy ($ws.podSecurityContext | default dict) }}
{{- $poolCtx := deepCopy (.pool.podSecurityContext | default dict) }}
{{- if eq .root.Values.storage.mode "object" }}
{{- $ctx = mustMergeOverwrite $ctx (deepCopy .root.Values.storage.local.podSecurityContext) }}
{{- else }}
{{- if not (hasKey $poolCtx "fsGroup") }}{{ $_ := set $poolCtx "fsGroup" $ws.identities.worker.runAsGroup }}{{ end }}
{{- if not (hasKey $poolCtx "fsGroupChangePolicy") }}{{ $_ := set $poolCtx "fsGroupChangePolicy" "OnRootMismatch" }}{{ end }}
{{- end }}
{{- toYaml (mustMergeOverwrite $ctx $poolCtx) }}
{{- end }}
{{- end }}

{{/*
The worker's PID 1: the agent, no args (`run` is its default command), as upstream. One place to
change when an init wrapper is put in front of it.
*/}}
{{- define "attune-agent-workers.workerCommand" -}}
- /opt/attune/agent/attune-agent
{{- end }}
