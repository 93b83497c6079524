{{/*
Names, labels and the facts about each service that values cannot change.
*/}}

{{- define "cloudillo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cloudillo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cloudillo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "cloudillo.labels" -}}
helm.sh/chart: {{ include "cloudillo.chart" . }}
app.kubernetes.io/name: {{ include "cloudillo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cloudillo
{{- range $k, $v := .Values.commonLabels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Selector labels of all pods of this release. */}}
{{- define "cloudillo.releaseSelector" -}}
app.kubernetes.io/name: {{ include "cloudillo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one service's pods: include "cloudillo.selector" (dict "root" $ "svc" "gateway") */}}
{{- define "cloudillo.selector" -}}
{{ include "cloudillo.releaseSelector" .root }}
app.kubernetes.io/component: {{ .svc }}
{{- end -}}

{{- define "cloudillo.componentLabels" -}}
{{ include "cloudillo.labels" .root }}
app.kubernetes.io/component: {{ .svc }}
{{- end -}}

{{/*
What each service is, independent of values: its ports, what it talks to, which secrets
it reads. A service that is not in this table cannot be enabled (see templates), and
tests/deploy fails when a service binary has no row here.
*/}}
{{- define "cloudillo.facts" -}}
gateway:
  opsPort: 9200
  httpPort: 8080
  database: false
  masterKey: false
  objectStorage: false
  internet: false
identity:
  grpcPort: 9101
  adminPort: 9100
  adminHttpPort: 9110
  opsPort: 9201
  database: true
  masterKey: true
  adminToken: true
  objectStorage: false
  internet: false
access:
  grpcPort: 9102
  opsPort: 9202
  database: true
  masterKey: true
  objectStorage: false
  # The PROXY exchange (PROTOCOL §3.4): issuer keys and peers' access-token routes.
  internet: true
action:
  grpcPort: 9103
  opsPort: 9203
  database: true
  masterKey: true
  objectStorage: false
  internet: true
blob:
  grpcPort: 9104
  opsPort: 9204
  database: true
  masterKey: true
  objectStorage: true
  internet: true
collab:
  grpcPort: 9105
  opsPort: 9205
  database: true
  masterKey: true
  objectStorage: false
  internet: false
{{- end -}}

{{/* The enabled services in a stable order, as a list. */}}
{{- define "cloudillo.enabledServices" -}}
{{- $facts := include "cloudillo.facts" . | fromYaml -}}
{{- $out := list -}}
{{- range $name := keys .Values.services | sortAlpha -}}
{{- if not (hasKey $facts $name) -}}
{{- fail (printf "services.%s: unknown service (known: %s)" $name (keys $facts | sortAlpha | join ", ")) -}}
{{- end -}}
{{- if (index $.Values.services $name).enabled -}}
{{- $out = append $out $name -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "cloudillo.image" -}}
{{- $img := .Values.image -}}
{{- $repo := ternary $img.repository (printf "%s/%s" $img.registry $img.repository) (empty $img.registry) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* In-cluster address of a service's gRPC port (a headless Service: clients balance over pods). */}}
{{- define "cloudillo.grpcAddr" -}}
{{- $facts := include "cloudillo.facts" .root | fromYaml -}}
{{- printf "%s-%s.%s.svc.%s:%d" (include "cloudillo.fullname" .root) .svc .root.Release.Namespace .root.Values.clusterDomain (int (index $facts .svc).grpcPort) -}}
{{- end -}}

{{- define "cloudillo.secretName.generated" -}}
{{- printf "%s-generated" (include "cloudillo.fullname" .) -}}
{{- end -}}
{{- define "cloudillo.secretName.credentials" -}}
{{- printf "%s-credentials" (include "cloudillo.fullname" .) -}}
{{- end -}}

{{/* Where a credential lives: {name, key}. Arguments: root, ref (value/existingSecret/key), key (in the chart's credentials Secret). */}}
{{- define "cloudillo.credentialRef" -}}
{{- if .ref.existingSecret -}}
{{- toJson (dict "name" .ref.existingSecret "key" (required (printf "%s.key is required with existingSecret" .what) .ref.key)) -}}
{{- else -}}
{{- toJson (dict "name" (include "cloudillo.secretName.credentials" .root) "key" .key) -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when a credential is set either way. */}}
{{- define "cloudillo.credentialSet" -}}
{{- if or .existingSecret .value }}true{{ end -}}
{{- end -}}

{{/* The secret holding the master keyring and its key. */}}
{{- define "cloudillo.masterKeyRef" -}}
{{- if .Values.masterKey.existingSecret -}}
{{- toJson (dict "name" .Values.masterKey.existingSecret "key" .Values.masterKey.key) -}}
{{- else -}}
{{- toJson (dict "name" (include "cloudillo.secretName.generated" .) "key" "master-key") -}}
{{- end -}}
{{- end -}}

{{- define "cloudillo.adminTokenRef" -}}
{{- if .Values.adminToken.existingSecret -}}
{{- toJson (dict "name" .Values.adminToken.existingSecret "key" .Values.adminToken.key) -}}
{{- else -}}
{{- toJson (dict "name" (include "cloudillo.secretName.generated" .) "key" "admin-token") -}}
{{- end -}}
{{- end -}}

{{/* The Secret with a service's internal TLS material (ca.crt, tls.crt, tls.key). */}}
{{- define "cloudillo.grpcTlsSecret" -}}
{{- if eq .root.Values.internalTls.mode "existingSecret" -}}
{{- $s := index .root.Values.internalTls.existingSecrets .svc -}}
{{- required (printf "internalTls.existingSecrets.%s is required with internalTls.mode=existingSecret" .svc) $s -}}
{{- else -}}
{{- printf "%s-%s-grpc" (include "cloudillo.fullname" .root) .svc -}}
{{- end -}}
{{- end -}}

{{/* PostgreSQL URL without the password (libpq reads PGPASSWORD). */}}
{{- define "cloudillo.databaseUrl" -}}
{{- $db := .Values.database -}}
{{- $q := list (printf "sslmode=%s" $db.sslMode) -}}
{{- range $k, $v := $db.parameters }}{{ $q = append $q (printf "%s=%s" $k (toString $v | urlquery)) }}{{ end -}}
{{- printf "postgresql://%s@%s:%d/%s?%s" (urlquery $db.user) (required "database.host is required" $db.host) (int $db.port) $db.name (join "&" $q) -}}
{{- end -}}

{{/* The container security context every container of the chart runs with. */}}
{{- define "cloudillo.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cloudillo.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}
