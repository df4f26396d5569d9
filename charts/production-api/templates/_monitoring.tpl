{{/*
Value of the `job` label Prometheus gives this release's targets. The Prometheus Operator sets
it to the Service name, or to the value of the Service label named by serviceMonitor.jobLabel;
prometheusRule.job overrides both.
*/}}
{{- define "production-api.monitoring.job" -}}
{{- if .Values.prometheusRule.job }}
{{- .Values.prometheusRule.job }}
{{- else if .Values.serviceMonitor.jobLabel }}
{{- $labels := include "production-api.labels" . | fromYaml }}
{{- $labels = merge (dict) (.Values.service.labels | default dict) $labels }}
{{- get $labels .Values.serviceMonitor.jobLabel | default (include "production-api.fullname" .) }}
{{- else }}
{{- include "production-api.fullname" . }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers selecting this release's scrape targets: namespace and job.
*/}}
{{- define "production-api.monitoring.selector" -}}
namespace="{{ .Release.Namespace }}", job="{{ include "production-api.monitoring.job" . }}"
{{- end }}

{{/*
PromQL label matchers selecting the request series the SLO alerts count: the target selector
plus `endpoint!~` over prometheusRule.ignoredEndpoints (a raw PromQL string, so route
templates with braces need no escaping beyond the regexp quoting).
*/}}
{{- define "production-api.monitoring.requestSelector" -}}
{{- include "production-api.monitoring.selector" . }}
{{- with .Values.prometheusRule.ignoredEndpoints }}
{{- $quoted := list }}
{{- range . }}
{{- $quoted = append $quoted (regexQuoteMeta .) }}
{{- end }}, endpoint!~`{{ join "|" $quoted }}`
{{- end }}
{{- end }}

{{/*
PromQL that keeps only series of this release's Deployment pods: `and on (namespace, pod)` with
kube-state-metrics' kube_pod_owner, whose owner is one of the Deployment's ReplicaSets
(<fullname>-<pod-template-hash>). A name pattern alone would also match other pods of the
release, such as the `helm test` pod <fullname>-test-connection, which no ReplicaSet owns.
*/}}
{{- define "production-api.monitoring.deploymentPods" -}}
and on (namespace, pod)
  kube_pod_owner{namespace="{{ .Release.Namespace }}", owner_kind="ReplicaSet", owner_name=~"{{ include "production-api.fullname" . }}-[a-z0-9]+"}
{{- end }}

{{/*
Annotations of one alert: summary and description (Prometheus templates), the runbook text
from values, runbook_url when prometheusRule.runbookBaseUrl is set, and the shared extra
annotations. Called with (dict "root" $ "name" <alertname> "alert" <values> "summary" ... "description" ...).
*/}}
{{- define "production-api.monitoring.annotations" -}}
summary: {{ .summary | quote }}
description: {{ .description | quote }}
{{- with .alert.runbook }}
runbook: {{ . | quote }}
{{- end }}
{{- with .root.Values.prometheusRule.runbookBaseUrl }}
runbook_url: {{ printf "%s#%s" . ($.name | lower) | quote }}
{{- end }}
{{- with .root.Values.prometheusRule.additionalRuleAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one alert: severity, then the shared extra labels.
*/}}
{{- define "production-api.monitoring.ruleLabels" -}}
severity: {{ .alert.severity }}
{{- with .root.Values.prometheusRule.additionalRuleLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Distinct burn-rate windows (long and short) of every burn-rate alert, sorted.
*/}}
{{- define "production-api.monitoring.burnRateWindows" -}}
{{- $windows := list }}
{{- range .Values.prometheusRule.burnRate.alerts }}
{{- range .windows }}
{{- $windows = append $windows .long }}
{{- $windows = append $windows .short }}
{{- end }}
{{- end }}
{{- $windows | uniq | sortAlpha | toJson }}
{{- end }}

{{/*
Human-readable windows of one burn-rate alert: "1h and 5m above 14.4x, or ...".
*/}}
{{- define "production-api.monitoring.windowText" -}}
{{- $parts := list }}
{{- range .windows }}
{{- $parts = append $parts (printf "%s and %s above %vx" .long .short .factor) }}
{{- end }}
{{- join ", or " $parts }}
{{- end }}

{{/*
The rules of the alerts group (a YAML list, empty when every alert is off).
*/}}
{{- define "production-api.monitoring.alertRules" -}}
{{- $pr := .Values.prometheusRule }}
{{- $a := $pr.alerts }}
{{- $sel := include "production-api.monitoring.selector" . }}
{{- $req := include "production-api.monitoring.requestSelector" . }}
{{- $job := include "production-api.monitoring.job" . }}
{{- $ownedByDeployment := include "production-api.monitoring.deploymentPods" . }}
{{- with $a.targetDown }}
{{- if .enabled }}
- alert: ProductionApiTargetDown
  expr: up{ {{- $sel }}} == 0
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiTargetDown" "alert" .
        "summary" "A production-api target cannot be scraped."
        "description" "Prometheus has failed to scrape {{ $labels.instance }} (pod {{ $labels.pod }}) of job {{ $labels.job }} in namespace {{ $labels.namespace }} for the alert's whole `for` duration.") | nindent 4 }}
{{- end }}
{{- end }}
{{- with $a.targetMissing }}
{{- if .enabled }}
- alert: ProductionApiTargetMissing
  expr: absent(up{ {{- $sel }}} == 1)
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
    namespace: {{ $.Release.Namespace }}
    job: {{ $job }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiTargetMissing" "alert" .
        "summary" "No production-api target is up."
        "description" (printf "Prometheus has no successfully scraped target for job %s in namespace %s: every pod is down, or the ServiceMonitor selects nothing." $job $.Release.Namespace)) | nindent 4 }}
{{- end }}
{{- end }}
{{- with $a.highErrorRatio }}
{{- if .enabled }}
- alert: ProductionApiHighErrorRatio
  expr: |-
    sum by (namespace, job) (rate(http_requests_total{ {{- $req }}, status=~"5.."}[{{ $pr.rateWindow }}]))
    /
    sum by (namespace, job) (rate(http_requests_total{ {{- $req }}}[{{ $pr.rateWindow }}]))
    > {{ .threshold }}
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiHighErrorRatio" "alert" .
        "summary" "production-api answers too many requests with 5xx."
        "description" (printf "{{ $value | humanizePercentage }} of the requests to job {{ $labels.job }} in namespace {{ $labels.namespace }} failed with 5xx over the last %s (threshold %v)." $pr.rateWindow .threshold)) | nindent 4 }}
{{- end }}
{{- end }}
{{- with $a.highLatency }}
{{- if .enabled }}
- alert: ProductionApiHighLatency
  expr: |-
    histogram_quantile({{ .quantile }},
      sum by (namespace, job, le) (rate(http_request_duration_seconds_bucket{ {{- $req }}}[{{ $pr.rateWindow }}]))
    ) > {{ .thresholdSeconds }}
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiHighLatency" "alert" .
        "summary" "production-api responds slowly."
        "description" (printf "The %v quantile of request latency of job {{ $labels.job }} in namespace {{ $labels.namespace }} is {{ $value | humanizeDuration }} over the last %s (threshold %vs)." .quantile $pr.rateWindow .thresholdSeconds)) | nindent 4 }}
{{- end }}
{{- end }}
{{- if $pr.burnRate.enabled }}
{{- range $pr.burnRate.alerts }}
- alert: ProductionApiErrorBudgetBurn
  expr: |-
    {{- range $i, $w := .windows }}
    {{- if $i }}
    or
    {{- end }}
    (
      namespace_job:http_requests_errors:ratio_rate{{ $w.long }}{ {{- $sel }}} > {{ $w.factor }} * (1 - {{ $pr.burnRate.objective }} / 100)
      and
      namespace_job:http_requests_errors:ratio_rate{{ $w.short }}{ {{- $sel }}} > {{ $w.factor }} * (1 - {{ $pr.burnRate.objective }} / 100)
    )
    {{- end }}
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiErrorBudgetBurn" "alert" .
        "summary" (printf "production-api is burning its %v%% availability error budget too fast." $pr.burnRate.objective)
        "description" (printf "Job {{ $labels.job }} in namespace {{ $labels.namespace }} fails requests at a rate that exhausts the %v%% availability objective's error budget too soon (windows: %s)." $pr.burnRate.objective (include "production-api.monitoring.windowText" .))) | nindent 4 }}
{{- end }}
{{- end }}
{{- with $a.podRestarting }}
{{- if .enabled }}
- alert: ProductionApiPodRestarting
  expr: |-
    increase(kube_pod_container_status_restarts_total{namespace="{{ $.Release.Namespace }}", container="{{ $.Chart.Name }}"}[{{ .window }}]) >= {{ .threshold }}
    {{- $ownedByDeployment | nindent 4 }}
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiPodRestarting" "alert" .
        "summary" "A production-api container restarts repeatedly."
        "description" (printf "Container {{ $labels.container }} of pod {{ $labels.pod }} in namespace {{ $labels.namespace }} restarted {{ $value | printf \"%%.0f\" }} times in the last %s." .window)) | nindent 4 }}
{{- end }}
{{- end }}
{{- with $a.podNotReady }}
{{- if .enabled }}
- alert: ProductionApiPodNotReady
  expr: |-
    max by (namespace, pod) (kube_pod_status_ready{namespace="{{ $.Release.Namespace }}", condition=~"false|unknown"}) == 1
    {{- $ownedByDeployment | nindent 4 }}
  for: {{ .for }}
  labels:
    {{- include "production-api.monitoring.ruleLabels" (dict "root" $ "alert" .) | nindent 4 }}
  annotations:
    {{- include "production-api.monitoring.annotations" (dict "root" $ "name" "ProductionApiPodNotReady" "alert" .
        "summary" "A production-api pod is not ready."
        "description" "Pod {{ $labels.pod }} in namespace {{ $labels.namespace }} has not been ready for the alert's whole `for` duration, so it receives no traffic.") | nindent 4 }}
{{- end }}
{{- end }}
{{- with $pr.additionalRules }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
