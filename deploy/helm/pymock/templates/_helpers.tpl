{{/* Resource names: <release>-pymock unless fullnameOverride is set (63 characters at most). */}}
{{- define "pymock.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (default .Chart.Name .Values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pymock.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pymock.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "pymock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pymock.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The config.json ConfigMap: the chart's own, or one the user manages (existingConfigMap). */}}
{{- define "pymock.configMapName" -}}
{{- default (printf "%s-config" (include "pymock.fullname" .)) .Values.existingConfigMap -}}
{{- end -}}

{{/* Readiness and liveness: GET /__admin/health, or with an admin token a command that sends it. */}}
{{- define "pymock.probe" -}}
{{- if .Values.adminToken.existingSecret -}}
exec:
  command:
    - python
    - -c
    - "import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:{{ .Values.port }}/__admin/health', headers={'Authorization': 'Bearer ' + os.environ['PYMOCK_ADMIN_TOKEN']}), timeout=3)"
{{- else -}}
httpGet:
  path: /__admin/health
  port: http
{{- end }}
periodSeconds: {{ .Values.probes.periodSeconds }}
timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
failureThreshold: {{ .Values.probes.failureThreshold }}
{{- end -}}
