{{/* Names, labels and the derived settings every template shares. */}}

{{- define "hpo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hpo-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hpo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hpo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hpo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hpo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hpo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hpo-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hpo-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces a namespace-scoped install watches, one per line. */}}
{{- define "hpo-operator.watchNamespaces" -}}
{{- if eq .Values.installScope "cluster" -}}
{{- if .Values.watchNamespaces -}}
{{- fail "watchNamespaces is for installScope=namespace; a cluster install watches every namespace" -}}
{{- end -}}
{{- else -}}
{{- $namespaces := .Values.watchNamespaces | default (list .Release.Namespace) -}}
{{- join "\n" (uniq $namespaces) -}}
{{- end -}}
{{- end -}}

{{/* "true" when kopf peering is on: explicitly, or by default with more than one replica and
leader election off. */}}
{{- define "hpo-operator.peering" -}}
{{- if kindIs "bool" .Values.peering.enabled -}}
{{- .Values.peering.enabled -}}
{{- else -}}
{{- and (gt (int .Values.replicaCount) 1) (ne (include "hpo-operator.leaderElection" .) "true") -}}
{{- end -}}
{{- end -}}

{{/* "true" when Lease leader election is on: explicitly, or by default with more than one
replica. */}}
{{- define "hpo-operator.leaderElection" -}}
{{- if kindIs "bool" .Values.leaderElection.enabled -}}
{{- .Values.leaderElection.enabled -}}
{{- else -}}
{{- gt (int .Values.replicaCount) 1 -}}
{{- end -}}
{{- end -}}

{{/* The leader-election Lease's name. */}}
{{- define "hpo-operator.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (printf "%s-leader" (include "hpo-operator.fullname" .)) -}}
{{- end -}}

{{/* RBAC on the job resources, granted cluster-wide or per watched namespace.
tests/ship/test_chart_rbac.py holds these rules to hpo_operator.shell.rbac.USES. */}}
{{- define "hpo-operator.namespacedRules" -}}
- apiGroups: ["sagemaker.services.k8s.aws"]
  resources: ["hyperparametertuningjobs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["sagemaker.services.k8s.aws"]
  resources: ["hyperparametertuningjobs/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.fieldExport.enabled }}
- apiGroups: ["services.k8s.aws"]
  resources: ["fieldexports"]
  verbs: ["list", "watch"]
- apiGroups: ["services.k8s.aws"]
  resources: ["fieldexports/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["configmaps", "secrets"]
  verbs: ["get", "create", "patch"]
{{- end }}
{{- end -}}

{{/* Read-only RBAC on cluster-scoped resources, which every install needs: the namespace index
(services.k8s.aws/* namespace annotations) and kopf's CRD observer. */}}
{{- define "hpo-operator.clusterReadRules" -}}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end -}}
