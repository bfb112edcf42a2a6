{{- define "vcsnap.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 56 | trimSuffix "-" }}{{ else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 56 | trimSuffix "-" }}{{ end }}
{{- end }}

{{- define "vcsnap.labels" -}}
app.kubernetes.io/name: vcsnap
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vcsnap.selector" -}}
app.kubernetes.io/name: vcsnap
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vcsnap.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
The worker's permissions, the one source of truth for RBAC (deploy/ is rendered from this chart by
`npm run render-deploy`). Derived from the calls the code makes; test/integration/rbac.test.ts applies them to a
real kube-apiserver and runs a snapshot with volumes under the ServiceAccount's token.
*/}}
{{- define "vcsnap.namespacedRules" -}}
# get: each cluster's vc-config-<name> (the archive's release entry) and the Secrets a policy references (S3 and OCI
# credentials, etcd TLS). list: discovery of vc-config-* (label app=vcluster). RBAC cannot grant by name prefix, and
# the referenced names are only known at run time. create, delete: the request engine's snapshot-request Secret.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create, delete]
# The request engine's snapshot-request ConfigMap: filed, polled for its phase, deleted when the run is cancelled.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, delete]
# Volume discovery: the vCluster's PVCs (label vcluster.loft.sh/managed-by).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list]
# One VolumeSnapshot per PVC, polled until ready, then released; retention recreates one to delete a pruned handle.
- apiGroups: [snapshot.storage.k8s.io]
  resources: [volumesnapshots]
  verbs: [create, get, delete]
{{- end }}

{{- define "vcsnap.clusterScopedRules" -}}
# Each PVC's bound PV (its CSI driver), the driver's default snapshot class.
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get]
- apiGroups: [snapshot.storage.k8s.io]
  resources: [volumesnapshotclasses]
  verbs: [list]
# The bound content: polled, patched to Retain (or Delete on failure), deleted; retention recreates it from a handle.
- apiGroups: [snapshot.storage.k8s.io]
  resources: [volumesnapshotcontents]
  verbs: [create, get, patch, delete]
{{- end }}

{{/* Temporal connection and the worker settings, shared by the worker and the sync job. */}}
{{- define "vcsnap.temporalEnv" -}}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: VCSNAP_TASK_QUEUE
  value: {{ .Values.worker.taskQueue | quote }}
{{- if .Values.temporal.apiKeySecret }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKeySecret }}
      key: api-key
{{- end }}
{{- if .Values.temporal.tls.enabled }}
- name: TEMPORAL_TLS
  value: "true"
{{- if .Values.temporal.tls.secret }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: /etc/vcsnap/temporal-tls/tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: /etc/vcsnap/temporal-tls/tls.key
{{- end }}
{{- if .Values.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ .Values.temporal.tls.serverName | quote }}
{{- end }}
{{- end }}
{{- if eq .Values.rbac.scope "namespaced" }}
- name: VCSNAP_NAMESPACES
  value: {{ join "," .Values.rbac.namespaces | quote }}
{{- end }}
{{- if .Values.worker.sharedNamespaces }}
- name: VCSNAP_SHARED_NAMESPACES
  value: {{ join "," .Values.worker.sharedNamespaces | quote }}
{{- end }}
- name: VCSNAP_ENGINE
  value: {{ .Values.worker.engine | quote }}
- name: VCSNAP_MIN_SCHEDULE_INTERVAL
  value: {{ .Values.worker.minScheduleInterval | quote }}
- name: VCSNAP_MAX_VOLUME_CONCURRENCY
  value: {{ .Values.worker.maxVolumeConcurrency | quote }}
- name: VCSNAP_OBJECT_LOCK_MODES
  value: {{ .Values.worker.objectLockModes | quote }}
# The sync job applies the drill schedules too.
- name: VCSNAP_DRILL_INTERVAL
  value: {{ .Values.drills.interval | quote }}
{{- end }}

{{/* Restore drills and alerts: the worker's alone (the sync job neither drills nor notifies). */}}
{{- define "vcsnap.drillAndAlertEnv" -}}
- name: VCSNAP_RECOVERY_POINT_CHECK
  value: {{ .Values.alerts.recoveryPointCheck | quote }}
{{- with .Values.drills.etcdBinary }}
- name: VCSNAP_DRILL_ETCD
  value: {{ . | quote }}
{{- end }}
{{- with .Values.drills.etcdEndpoint }}
- name: VCSNAP_DRILL_ETCD_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.drills.kubeApiserver }}
- name: VCSNAP_DRILL_KUBE_APISERVER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.alerts.webhookSecret }}
- name: VCSNAP_ALERT_WEBHOOK_SECRET
  value: "{{ $.Release.Namespace }}/{{ . }}"
{{- end }}
{{- end }}

{{- define "vcsnap.temporalTlsVolume" -}}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.secret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.secret }}
{{- end }}
{{- end }}

{{- define "vcsnap.temporalTlsMount" -}}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.secret }}
- name: temporal-tls
  mountPath: /etc/vcsnap/temporal-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "vcsnap.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "vcsnap.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
