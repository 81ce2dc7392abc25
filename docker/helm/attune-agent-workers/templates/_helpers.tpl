{{/* Chart name, truncated to the 63-character DNS label limit. */}}
{{- define "attune-agent-workers.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Base of resource names, as upstream's `attune.fullname` with chart name "attune": the release name
if it contains "attune", else <release>-attune. Deployments are <fullname>-agent-worker-<pool>,
the names upstream's agent-workers template used (spec 05 §4.2, generation A).
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

{{/* The agent-init image: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "attune-agent-workers.agentImage" -}}
{{- $img := .Values.agentImage }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "attune-agent-workers.configMapName" -}}
{{- if .Values.config.existingConfigMap }}
{{- .Values.config.existingConfigMap }}
{{- else }}
{{- printf "%s-agent-workers-config" (include "attune-agent-workers.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Variables every agent container gets (init waits and worker): config file, schema, and the
secret-bearing variables as secretKeyRef from the existing Secret (never copied into the chart).
*/}}
{{- define "attune-agent-workers.hasConfig" -}}
{{- if or .Values.config.create .Values.config.existingConfigMap }}true{{- end }}
{{- end }}

{{- define "attune-agent-workers.commonEnv" -}}
{{- if include "attune-agent-workers.hasConfig" . }}
- name: ATTUNE_CONFIG
  value: /opt/attune/config/config.yaml
{{- end }}
- name: ATTUNE__DATABASE__SCHEMA
  value: {{ .Values.attune.databaseSchema | quote }}
{{- range $var, $key := .Values.attune.secret.keys }}
{{- if $key }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.attune.secret.name }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}
