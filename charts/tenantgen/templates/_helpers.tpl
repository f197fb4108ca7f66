{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "tenantgen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: <release>-<chart>, or <release> when it already contains the chart name. */}}
{{- define "tenantgen.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tenantgen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "tenantgen.labels" -}}
helm.sh/chart: {{ include "tenantgen.chart" . }}
{{ include "tenantgen.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: capsule
{{- end }}

{{/* Labels that select the controller pods: never change them in an upgrade. */}}
{{- define "tenantgen.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantgen.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tenantgen.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tenantgen.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller image: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "tenantgen.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The label that aggregates ClusterRoles into the controller's manager ClusterRole. A cluster
admin grants tenantgen more kinds by creating a ClusterRole with this label.
*/}}
{{- define "tenantgen.aggregationLabelKey" -}}
rbac.addons.projectcapsule.dev/aggregate-to-tenantgen
{{- end }}

{{/*
The GlobalTenantResources the release installs, as JSON {"items": [...]}: every document of
files/samples/<name>.yaml and files/generators/<name>.yaml whose <name> is in samples.include /
generators.include ("*" = every file, empty = none; "" is ignored: `--set x={}` makes [""]), samples first, with the chart's labels and
an addons.projectcapsule.dev/chart-file annotation naming the file it comes from. Samples and
catalog entries overlap (a sample bundles catalog entries): a GlobalTenantResource that two
included files define identically is installed once; defined differently, the render fails
and names both files.
*/}}
{{- define "tenantgen.bundledGTRs" -}}
{{- $root := . }}
{{- $items := list }}
{{- $seen := dict }}
{{- range $folder := list "samples" "generators" }}
{{- $values := get $root.Values $folder }}
{{- if $values.enabled }}
{{- $available := list }}
{{- range $path, $_ := $root.Files.Glob (printf "files/%s/*.yaml" $folder) }}
{{- $available = append $available (base $path | trimSuffix ".yaml") }}
{{- end }}
{{- range $values.include }}
{{- if and (ne . "*") (ne . "") (not (has . $available)) }}
{{- fail (printf "%s.include: %q is not in the chart; available: %s" $folder . (join ", " $available | default "none")) }}
{{- end }}
{{- end }}
{{- range $name := $available }}
{{- if or (has "*" $values.include) (has $name $values.include) }}
{{- $file := printf "files/%s/%s.yaml" $folder $name }}
{{- range $i, $doc := regexSplit "(?m)^---[ \t]*$" ($root.Files.Get $file) -1 }}
{{- $obj := fromYaml $doc }}
{{- if hasKey $obj "Error" }}
{{- fail (printf "%s, document %d: %s" $file $i $obj.Error) }}
{{- end }}
{{- if $obj }}
{{- if ne (printf "%s/%s" ($obj.apiVersion | default "") ($obj.kind | default "")) "addons.projectcapsule.dev/v1alpha1/GlobalTenantResource" }}
{{- fail (printf "%s, document %d: only addons.projectcapsule.dev/v1alpha1 GlobalTenantResources can be installed, found %s %s" $file $i ($obj.apiVersion | default "<no apiVersion>") ($obj.kind | default "<no kind>")) }}
{{- end }}
{{- $meta := $obj.metadata | default dict }}
{{- $gtr := $meta.name | default "" }}
{{- $content := toJson $obj }}
{{- with get $seen $gtr }}
{{- if ne .content $content }}
{{- fail (printf "GlobalTenantResource %q is defined differently in %s and %s: include only one of them (samples.include / generators.include)" $gtr .file $file) }}
{{- end }}
{{- else }}
{{- $_ := set $seen $gtr (dict "file" $file "content" $content) }}
{{- $labels := merge (include "tenantgen.labels" $root | fromYaml) (dict "app.kubernetes.io/component" (trimSuffix "s" $folder)) ($meta.labels | default dict) }}
{{- $annotations := merge (dict "addons.projectcapsule.dev/chart-file" $file) ($meta.annotations | default dict) }}
{{- $_ := set $meta "labels" $labels }}
{{- $_ := set $meta "annotations" $annotations }}
{{- $_ := set $obj "metadata" $meta }}
{{- $items = append $items $obj }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (dict "items" $items) }}
{{- end }}

{{/* The GlobalTenantResource API, known to the cluster once the CRD is installed. */}}
{{- define "tenantgen.gtrAPI" -}}
addons.projectcapsule.dev/v1alpha1/GlobalTenantResource
{{- end }}
