{{/* The name of every object: the chart's, so one release per namespace, like the kustomize overlays. */}}
{{- define "app.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/* The selector: only the name, which never changes across upgrades. */}}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
{{- end -}}

{{/* Labels of every object: the kustomize flavor's, with Helm's managed-by and chart. */}}
{{- define "app.labels" -}}
{{ include "app.selectorLabels" . }}
{{ include "app.commonLabels" . }}
{{- end -}}

{{/* Labels of the objects that are the namespace's rather than the service's (default-deny). */}}
{{- define "app.commonLabels" -}}
app.kubernetes.io/part-of: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}-{{ .Values.environment }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
environment: {{ .Values.environment }}
{{- end -}}

{{/* The image: by digest once pinned (the tag is then ignored), else by tag. */}}
{{- define "app.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}
