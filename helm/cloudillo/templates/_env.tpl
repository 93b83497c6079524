{{/*
The environment of one service's container (and of its migration step):
include "cloudillo.env" (dict "root" $ "svc" "identity").
Names follow the services' configuration (README "Configuration").
*/}}
{{- define "cloudillo.env" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $facts := index (include "cloudillo.facts" $root | fromYaml) $svc -}}
{{- $v := $root.Values -}}
- name: CLOUDILLO_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: CLOUDILLO_OPS_ADDR
  value: "0.0.0.0:{{ $facts.opsPort }}"
- name: CLOUDILLO_DRAIN_DELAY_SECONDS
  value: {{ $v.shutdown.drainDelaySeconds | quote }}
- name: CLOUDILLO_SHUTDOWN_GRACE_SECONDS
  value: {{ $v.shutdown.graceSeconds | quote }}
{{- range $other := include "cloudillo.enabledServices" $root | fromJsonArray }}
{{- if (index (include "cloudillo.facts" $root | fromYaml) $other).grpcPort }}
- name: CLOUDILLO_{{ upper $other }}_ADDR
  value: {{ include "cloudillo.grpcAddr" (dict "root" $root "svc" $other) | quote }}
{{- end }}
{{- end }}
{{- if $facts.grpcPort }}
- name: CLOUDILLO_GRPC_LISTEN
  value: "0.0.0.0:{{ $facts.grpcPort }}"
{{- end }}
{{- if not .migrate }}
- name: CLOUDILLO_GRPC_CA
  value: /etc/cloudillo/grpc/ca.crt
- name: CLOUDILLO_GRPC_CERT
  value: /etc/cloudillo/grpc/tls.crt
- name: CLOUDILLO_GRPC_KEY
  value: /etc/cloudillo/grpc/tls.key
{{- end }}
{{- /* Redis */}}
{{- $r := $v.redis }}
{{- if $r.sentinel.enabled }}
- name: CLOUDILLO_REDIS_SENTINELS
  value: {{ required "redis.sentinel.addrs is required with redis.sentinel.enabled" $r.sentinel.addrs | join "," | quote }}
- name: CLOUDILLO_REDIS_MASTER_NAME
  value: {{ required "redis.sentinel.masterName is required with redis.sentinel.enabled" $r.sentinel.masterName | quote }}
{{- if $r.sentinel.username }}
- name: CLOUDILLO_REDIS_SENTINEL_USERNAME
  value: {{ $r.sentinel.username | quote }}
{{- end }}
{{- if include "cloudillo.credentialSet" $r.sentinel.password }}
{{- $ref := include "cloudillo.credentialRef" (dict "root" $root "ref" $r.sentinel.password "key" "redis-sentinel-password" "what" "redis.sentinel.password") | fromJson }}
- name: CLOUDILLO_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- end }}
{{- else }}
- name: CLOUDILLO_REDIS_ADDR
  value: {{ required "redis.addr is required" $r.addr | quote }}
{{- end }}
{{- if $r.username }}
- name: CLOUDILLO_REDIS_USERNAME
  value: {{ $r.username | quote }}
{{- end }}
{{- if include "cloudillo.credentialSet" $r.password }}
{{- $ref := include "cloudillo.credentialRef" (dict "root" $root "ref" $r.password "key" "redis-password" "what" "redis.password") | fromJson }}
- name: CLOUDILLO_REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- end }}
- name: CLOUDILLO_REDIS_DB
  value: {{ $r.db | quote }}
{{- if $r.tls.enabled }}
- name: CLOUDILLO_REDIS_TLS
  value: "true"
{{- if $r.tls.existingSecret }}
- name: CLOUDILLO_REDIS_TLS_CA
  value: /etc/cloudillo/redis-tls/ca.crt
{{- if $r.tls.clientCertificate }}
- name: CLOUDILLO_REDIS_TLS_CERT
  value: /etc/cloudillo/redis-tls/tls.crt
- name: CLOUDILLO_REDIS_TLS_KEY
  value: /etc/cloudillo/redis-tls/tls.key
{{- end }}
{{- end }}
{{- if $r.tls.serverName }}
- name: CLOUDILLO_REDIS_TLS_SERVER_NAME
  value: {{ $r.tls.serverName | quote }}
{{- end }}
{{- end }}
{{- /* PostgreSQL */}}
{{- if $facts.database }}
- name: CLOUDILLO_DATABASE_URL
  value: {{ include "cloudillo.databaseUrl" $root | quote }}
{{- if include "cloudillo.credentialSet" $v.database.password }}
{{- $ref := include "cloudillo.credentialRef" (dict "root" $root "ref" $v.database.password "key" "database-password" "what" "database.password") | fromJson }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- end }}
- name: CLOUDILLO_DB_POOL_SIZE
  value: {{ $v.database.poolSize | quote }}
{{- end }}
{{- if $facts.masterKey }}
- name: CLOUDILLO_MASTER_KEY_FILE
  value: /etc/cloudillo/secrets/master-key
{{- end }}
{{- if $facts.adminToken }}
- name: CLOUDILLO_ADMIN_TOKEN_FILE
  value: /etc/cloudillo/secrets/admin-token
- name: CLOUDILLO_ADMIN_ADDR
  value: "0.0.0.0:{{ $facts.adminPort }}"
{{- if and $facts.adminHttpPort $root.Values.adminHttp.enabled }}
- name: CLOUDILLO_ADMIN_HTTP_ADDR
  value: "0.0.0.0:{{ $facts.adminHttpPort }}"
{{- end }}
{{- end }}
{{- /* Object storage (blob) */}}
{{- if $facts.objectStorage }}
{{- $o := $v.objectStorage }}
- name: CLOUDILLO_BLOB_STORE
  value: {{ ternary "s3" "local" (eq $o.type "s3") | quote }}
{{- if eq $o.type "s3" }}
- name: CLOUDILLO_S3_ENDPOINT
  value: {{ required "objectStorage.s3.endpoint is required with objectStorage.type=s3" $o.s3.endpoint | quote }}
- name: CLOUDILLO_S3_REGION
  value: {{ $o.s3.region | quote }}
- name: CLOUDILLO_S3_BUCKET
  value: {{ required "objectStorage.s3.bucket is required with objectStorage.type=s3" $o.s3.bucket | quote }}
{{- $ref := include "cloudillo.credentialRef" (dict "root" $root "ref" $o.s3.accessKeyId "key" "s3-access-key-id" "what" "objectStorage.s3.accessKeyId") | fromJson }}
- name: CLOUDILLO_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- $ref := include "cloudillo.credentialRef" (dict "root" $root "ref" $o.s3.secretAccessKey "key" "s3-secret-access-key" "what" "objectStorage.s3.secretAccessKey") | fromJson }}
- name: CLOUDILLO_S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- else }}
- name: CLOUDILLO_BLOB_DIR
  value: /var/lib/cloudillo/blobs
{{- end }}
{{- end }}
{{- /* The gateway's edge */}}
{{- if eq $svc "gateway" }}
- name: CLOUDILLO_LISTEN_ADDRESS
  value: "0.0.0.0"
- name: CLOUDILLO_HTTP_PORT
  value: "{{ $facts.httpPort }}"
{{- if $v.gateway.trustedProxies }}
- name: CLOUDILLO_TRUSTED_PROXIES
  value: {{ $v.gateway.trustedProxies | join "," | quote }}
{{- end }}
{{- end }}
{{- range $k, $val := (index $v.services $svc).env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* Volumes a service's pod needs (and the mounts below). */}}
{{- define "cloudillo.volumes" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $facts := index (include "cloudillo.facts" $root | fromYaml) $svc -}}
{{- $v := $root.Values -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if not .migrate }}
- name: grpc-tls
  secret:
    secretName: {{ include "cloudillo.grpcTlsSecret" (dict "root" $root "svc" $svc) }}
    defaultMode: 0440
{{- end }}
{{- if or $facts.masterKey $facts.adminToken }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
{{- if $facts.masterKey }}
{{- $mk := include "cloudillo.masterKeyRef" $root | fromJson }}
      - secret:
          name: {{ $mk.name }}
          items: [{key: {{ $mk.key | quote }}, path: master-key}]
{{- end }}
{{- if or $facts.adminToken .migrate }}
{{- $at := include "cloudillo.adminTokenRef" $root | fromJson }}
      - secret:
          name: {{ $at.name }}
          items: [{key: {{ $at.key | quote }}, path: admin-token}]
{{- end }}
{{- end }}
{{- if and $v.redis.tls.enabled $v.redis.tls.existingSecret }}
- name: redis-tls
  secret:
    secretName: {{ $v.redis.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if and $facts.objectStorage (eq $v.objectStorage.type "filesystem") (not .migrate) }}
- name: blobs
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-blobs" (include "cloudillo.fullname" $root)) $v.objectStorage.filesystem.existingClaim }}
{{- end }}
{{- end -}}

{{- define "cloudillo.volumeMounts" -}}
{{- $root := .root -}}
{{- $facts := index (include "cloudillo.facts" $root | fromYaml) .svc -}}
{{- $v := $root.Values -}}
- name: tmp
  mountPath: /tmp
{{- if not .migrate }}
- name: grpc-tls
  mountPath: /etc/cloudillo/grpc
  readOnly: true
{{- end }}
{{- if or $facts.masterKey $facts.adminToken }}
- name: secrets
  mountPath: /etc/cloudillo/secrets
  readOnly: true
{{- end }}
{{- if and $v.redis.tls.enabled $v.redis.tls.existingSecret }}
- name: redis-tls
  mountPath: /etc/cloudillo/redis-tls
  readOnly: true
{{- end }}
{{- if and $facts.objectStorage (eq $v.objectStorage.type "filesystem") (not .migrate) }}
- name: blobs
  mountPath: /var/lib/cloudillo/blobs
{{- end }}
{{- end -}}

{{/* One migration step (the Job in migrate-job.yaml). */}}
{{- define "cloudillo.migrateContainer" }}
        - name: migrate-{{ .svc }}
          image: {{ include "cloudillo.image" .root }}
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          command: ["/usr/local/bin/cloudillo-{{ .svc }}", "migrate"]
          env:
            {{- include "cloudillo.env" (dict "root" .root "svc" .svc "migrate" true) | nindent 12 }}
          resources:
            {{- toYaml .root.Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- include "cloudillo.containerSecurityContext" .root | nindent 12 }}
          volumeMounts:
            {{- include "cloudillo.volumeMounts" (dict "root" .root "svc" .svc "migrate" true) | nindent 12 }}
{{- end }}
