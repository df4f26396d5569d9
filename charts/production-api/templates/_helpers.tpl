{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "production-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS-1123 label limit). If the release name
already contains the chart name it is used as is.
*/}}
{{- define "production-api.fullname" -}}
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

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "production-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object: selector labels, version, chart, managed-by, then commonLabels.
*/}}
{{- define "production-api.labels" -}}
helm.sh/chart: {{ include "production-api.chart" . }}
{{ include "production-api.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: name + instance only, because selectors are immutable.
*/}}
{{- define "production-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "production-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the `helm test` Pod. Its name label differs from the app's so the Service,
Deployment and PodDisruptionBudget selectors never pick the test Pod up.
*/}}
{{- define "production-api.testLabels" -}}
helm.sh/chart: {{ include "production-api.chart" . }}
app.kubernetes.io/name: {{ include "production-api.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "production-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "production-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository:tag, tag defaulting to appVersion, "@digest" appended when set.
*/}}
{{- define "production-api.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
"true" when more than one pod can exist (fixed replicas > 1, or HPA maxReplicas > 1).
*/}}
{{- define "production-api.multiReplica" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the shutdown budget (preStop sleep + drain + graceful timeout +
margin, rounded up), or the explicit value, which must not be below the budget.
*/}}
{{- define "production-api.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- $budget := int (ceil (addf $s.preStopSleepSeconds $s.drainSeconds $s.timeoutSeconds $s.marginSeconds)) }}
{{- if kindIs "invalid" $s.terminationGracePeriodSeconds }}
{{- $budget }}
{{- else if lt (int $s.terminationGracePeriodSeconds) $budget }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds=%v is below the shutdown budget of %d s (shutdown.preStopSleepSeconds + shutdown.drainSeconds + shutdown.timeoutSeconds + shutdown.marginSeconds)" $s.terminationGracePeriodSeconds $budget) }}
{{- else }}
{{- int $s.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
preStop handler: the native sleep action where the cluster has it (Kubernetes >= 1.30), else
an exec of `sleep` inside the container.
*/}}
{{- define "production-api.preStop" -}}
{{- $s := .Values.shutdown }}
{{- $native := or (eq $s.preStopMode "sleep") (and (eq $s.preStopMode "auto") (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version)) }}
{{- if $native }}
sleep:
  seconds: {{ int $s.preStopSleepSeconds }}
{{- else }}
exec:
  command: ["sleep", {{ $s.preStopSleepSeconds | toString | quote }}]
{{- end }}
{{- end }}

{{/*
Every environment variable the chart manages, written once: its name, the values key that sets
it, and its value or valueFrom. An entry with neither (its value is empty) is not rendered but
stays managed. Feeds the container's env (production-api.env) and the check that extraEnv
repeats none of these names (production-api.validateExtraEnv; Helm 4 server-side apply rejects
duplicate env names). With tracing on, the pod's identity comes from the downward API, and
OTEL_RESOURCE_ATTRIBUTES refers to it (so it is defined before).
*/}}
{{- define "production-api.managedEnv" -}}
{{- $c := .Values.config }}
- {name: APP_ENV, key: config.env, value: {{ $c.env | quote }}}
- {name: APP_VERSION, key: config.version, value: {{ $c.version | default .Chart.AppVersion | toString | quote }}}
- {name: LOG_LEVEL, key: config.logLevel, value: {{ $c.logLevel | quote }}}
- {name: LOG_FORMAT, key: config.logFormat, value: {{ $c.logFormat | quote }}}
- {name: ACCESS_LOG_PROBES, key: config.accessLogProbes, value: {{ $c.accessLogProbes | toString | quote }}}
- {name: DOCS_ENABLED, key: config.docsEnabled, value: {{ $c.docsEnabled | toString | quote }}}
- {name: FASTAPI_TELEMETRY, key: config.fastapiTelemetry, value: {{ $c.fastapiTelemetry | toString | quote }}}
- {name: PORT, key: containerPort, value: {{ .Values.containerPort | toString | quote }}}
- {name: SHUTDOWN_DRAIN_SECONDS, key: shutdown.drainSeconds, value: {{ .Values.shutdown.drainSeconds | toString | quote }}}
- {name: SHUTDOWN_TIMEOUT_SECONDS, key: shutdown.timeoutSeconds, value: {{ .Values.shutdown.timeoutSeconds | toString | quote }}}
- {name: READINESS_TIMEOUT_SECONDS, key: config.readiness.timeoutSeconds, value: {{ $c.readiness.timeoutSeconds | toString | quote }}}
- {name: READINESS_CACHE_SECONDS, key: config.readiness.cacheSeconds, value: {{ $c.readiness.cacheSeconds | toString | quote }}}
- {name: READINESS_DEPENDENCIES, key: config.readiness.dependencies{{ with $c.readiness.dependencies }}, value: {{ join "," . | quote }}{{ end }}}
- {name: CORS_ORIGINS, key: config.corsOrigins{{ with $c.corsOrigins }}, value: {{ join "," . | quote }}{{ end }}}
- {name: FORWARDED_ALLOW_IPS, key: config.forwardedAllowIps{{ with $c.forwardedAllowIps }}, value: {{ . | quote }}{{ end }}}
{{- $t := .Values.tracing }}
{{- if $t.enabled }}
- {name: K8S_POD_NAME, key: tracing.enabled, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
- {name: K8S_NAMESPACE_NAME, key: tracing.enabled, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
- {name: K8S_NODE_NAME, key: tracing.enabled, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
- {name: OTEL_TRACES_EXPORTER, key: tracing.enabled, value: otlp}
- {name: OTEL_EXPORTER_OTLP_ENDPOINT, key: tracing.endpoint, value: {{ $t.endpoint | quote }}}
- {name: OTEL_EXPORTER_OTLP_PROTOCOL, key: tracing.protocol, value: {{ $t.protocol | quote }}}
- {name: OTEL_TRACES_SAMPLER, key: tracing.sampler, value: {{ $t.sampler | quote }}}
- {name: OTEL_TRACES_SAMPLER_ARG, key: tracing.samplerRatio, value: {{ $t.samplerRatio | toString | quote }}}
- {name: OTEL_RESOURCE_ATTRIBUTES, key: tracing.resourceAttributes, value: {{ include "production-api.resourceAttributes" . | quote }}}
- {name: OTEL_EXPORTER_OTLP_HEADERS, key: tracing.headersSecret{{ with $t.headersSecret.name }}, valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: {{ $t.headersSecret.key | quote }}}}{{ end }}}
- {name: TRACING_PROBES, key: tracing.probes, value: {{ $t.probes | toString | quote }}}
{{- end }}
{{- $a := .Values.auth }}
{{- if $a.enabled }}
- {name: AUTH_ISSUER, key: auth.issuer, value: {{ $a.issuer | quote }}}
- {name: AUTH_AUDIENCE, key: auth.audience, value: {{ $a.audience | quote }}}
- {name: AUTH_ALGORITHMS, key: auth.algorithms, value: {{ join "," $a.algorithms | quote }}}
- {name: AUTH_LEEWAY_SECONDS, key: auth.leewaySeconds, value: {{ $a.leewaySeconds | toString | quote }}}
- {name: AUTH_JWKS_CACHE_SECONDS, key: auth.jwksCacheSeconds, value: {{ $a.jwksCacheSeconds | toString | quote }}}
- {name: AUTH_JWKS_MAX_STALE_SECONDS, key: auth.jwksMaxStaleSeconds, value: {{ $a.jwksMaxStaleSeconds | toString | quote }}}
- {name: AUTH_REQUIRED_SCOPES, key: auth.requiredScopes{{ with $a.requiredScopes }}, value: {{ join "," . | quote }}{{ end }}}
{{- end }}
{{- $r := .Values.rateLimit }}
{{- if $r.enabled }}
- {name: RATE_LIMIT, key: rateLimit.limit, value: {{ $r.limit | quote }}}
- {name: RATE_LIMIT_ROUTES, key: rateLimit.routes{{ with $r.routes }}, value: {{ toJson . | quote }}{{ end }}}
- {name: RATE_LIMIT_FAIL_OPEN, key: rateLimit.failOpen, value: {{ $r.failOpen | toString | quote }}}
- {name: RATE_LIMIT_STORAGE, key: rateLimit.redis.existingSecret{{ with $r.redis.existingSecret.name }}, valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: {{ $r.redis.existingSecret.key | quote }}}}{{ end }}}
{{- end }}
{{- end }}

{{/*
The container's env: the managed variables that have a value, as a list of EnvVar.
*/}}
{{- define "production-api.env" -}}
{{- range include "production-api.managedEnv" . | fromYamlArray }}
{{- if hasKey . "value" }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- else if hasKey . "valueFrom" }}
- name: {{ .name }}
  valueFrom:
    {{- toYaml .valueFrom | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES: the pod's identity (downward API), the service version (the image
tag), then tracing.resourceAttributes, values percent-encoded.
*/}}
{{- define "production-api.resourceAttributes" -}}
{{- $attributes := list "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.node.name=$(K8S_NODE_NAME)" }}
{{- $version := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- $attributes = append $attributes (printf "service.version=%s" (include "production-api.percentEncode" $version)) }}
{{- range $key, $value := .Values.tracing.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key (include "production-api.percentEncode" $value)) }}
{{- end }}
{{- join "," $attributes }}
{{- end }}

{{/*
A value percent-encoded for OTEL_RESOURCE_ATTRIBUTES (W3C baggage): `,` `=` `%` spaces and
the like become %XX (urlquery writes a space as "+", which the format does not decode).
*/}}
{{- define "production-api.percentEncode" -}}
{{- toString . | urlquery | replace "+" "%20" }}
{{- end }}

{{/*
Fails when extraEnv repeats a chart-managed name or one of its own names.
*/}}
{{- define "production-api.validateExtraEnv" -}}
{{- $managed := dict }}
{{- range include "production-api.managedEnv" . | fromYamlArray }}
{{- $_ := set $managed .name .key }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $e := .Values.extraEnv }}
{{- if hasKey $managed $e.name }}
{{- fail (printf "extraEnv[%d].name=%s is managed by the chart; set %s instead" $i $e.name (get $managed $e.name)) }}
{{- end }}
{{- if hasKey $seen $e.name }}
{{- fail (printf "extraEnv[%d].name=%s is listed twice in extraEnv" $i $e.name) }}
{{- end }}
{{- $_ := set $seen $e.name true }}
{{- end }}
{{- end }}

{{/*
Cross-field checks of the Deployment's values that the schema cannot express.
*/}}
{{- define "production-api.validate" -}}
{{- include "production-api.validateExtraEnv" . }}
{{- if and .Values.auth.enabled (not .Values.auth.issuer) }}
{{- fail "auth.issuer is empty; auth.enabled needs the OpenID Connect issuer's URL" }}
{{- end }}
{{- if and .Values.auth.enabled (not .Values.auth.audience) }}
{{- fail "auth.audience is empty; auth.enabled needs the audience tokens must carry" }}
{{- end }}
{{- if and .Values.tracing.enabled (not .Values.tracing.endpoint) }}
{{- fail "tracing.endpoint is empty; tracing.enabled needs the collector's OTLP/HTTP URL" }}
{{- end }}
{{- $ru := .Values.rollingUpdate }}
{{- if and (eq (toString $ru.maxSurge) "0") (eq (toString $ru.maxUnavailable) "0") }}
{{- fail "rollingUpdate.maxSurge and rollingUpdate.maxUnavailable are both 0; a rollout could never progress" }}
{{- end }}
{{- range $resource := list "cpu" "memory" "ephemeral-storage" }}
{{- $request := dig "requests" $resource "" $.Values.resources }}
{{- $limit := dig "limits" $resource "" $.Values.resources }}
{{- if and $request $limit (lt (float64 (include "production-api.quantity" $limit)) (float64 (include "production-api.quantity" $request))) }}
{{- fail (printf "resources.limits.%s=%v is below resources.requests.%s=%v" $resource $limit $resource $request) }}
{{- end }}
{{- end }}
{{- $disk := dig "limits" "ephemeral-storage" "" .Values.resources }}
{{- $tmp := .Values.tmpVolume }}
{{- if and $disk $tmp.sizeLimit (ne $tmp.medium "Memory") (lt (float64 (include "production-api.quantity" $disk)) (float64 (include "production-api.quantity" $tmp.sizeLimit))) }}
{{- fail (printf "resources.limits.ephemeral-storage=%v is below tmpVolume.sizeLimit=%v; the kubelet would evict the pod before /tmp is full" $disk $tmp.sizeLimit) }}
{{- end }}
{{- $sm := .Values.serviceMonitor }}
{{- if and $sm.enabled $sm.interval $sm.scrapeTimeout (gt (float64 (include "production-api.durationSeconds" $sm.scrapeTimeout)) (float64 (include "production-api.durationSeconds" $sm.interval))) }}
{{- fail (printf "serviceMonitor.scrapeTimeout=%v exceeds serviceMonitor.interval=%v" $sm.scrapeTimeout $sm.interval) }}
{{- end }}
{{- if and .Values.config.readiness.dependencies .Values.probes.readiness.enabled (le (float64 .Values.probes.readiness.timeoutSeconds) (float64 .Values.config.readiness.timeoutSeconds)) }}
{{- fail (printf "probes.readiness.timeoutSeconds=%v must exceed config.readiness.timeoutSeconds=%v, or dependency checks time the probe out" .Values.probes.readiness.timeoutSeconds .Values.config.readiness.timeoutSeconds) }}
{{- end }}
{{- end }}

{{/*
Cross-field checks of the HPA values.
*/}}
{{- define "production-api.validateAutoscaling" -}}
{{- $a := .Values.autoscaling }}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas=%v is greater than autoscaling.maxReplicas=%v" $a.minReplicas $a.maxReplicas) }}
{{- end }}
{{- if and $a.enabled (kindIs "invalid" $a.targetCPUUtilizationPercentage) (kindIs "invalid" $a.targetMemoryUtilizationPercentage) }}
{{- fail "autoscaling.targetCPUUtilizationPercentage and autoscaling.targetMemoryUtilizationPercentage are both null; the HPA needs at least one metric" }}
{{- end }}
{{- end }}

{{/*
Cross-field checks of the PodDisruptionBudget values.
*/}}
{{- define "production-api.validatePodDisruptionBudget" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable are both set; set only one" }}
{{- end }}
{{- end }}

{{/*
A Kubernetes quantity ("500m", "1.5", "128Mi", "1G") as a plain number, for comparisons.
*/}}
{{- define "production-api.quantity" -}}
{{- $q := toString . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- mulf (float64 $number) (get $units (trimPrefix $number $q)) }}
{{- end }}

{{/*
A Prometheus duration ("30s", "1m30s", "500ms") in seconds, for comparisons.
*/}}
{{- define "production-api.durationSeconds" -}}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 "w" 604800.0 "y" 31536000.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" (toString .) -1 }}
{{- $n := regexFind "^[0-9]+" . }}
{{- $total = addf $total (mulf (float64 $n) (get $units (trimPrefix $n .))) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
The Deployment's replicas. Without an HPA: replicaCount. With one, the HPA owns the count, but
leaving `replicas` out makes a new release start with one pod (below minReplicas and the PDB
until the HPA's next sync) and makes an upgrade from a fixed count drop to one pod. So: the live
count of the release's Deployment, kept within [minReplicas, maxReplicas], and minReplicas when
there is none (a first install, or `helm template` without a cluster).
*/}}
{{- define "production-api.replicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- $min := int .Values.autoscaling.minReplicas }}
{{- $max := int .Values.autoscaling.maxReplicas }}
{{- $live := lookup "apps/v1" "Deployment" .Release.Namespace (include "production-api.fullname" .) }}
{{- $current := int (dig "spec" "replicas" $min ($live | default dict)) }}
{{- max $min (min $max $current) }}
{{- else }}
{{- .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
The Ingress's annotations: ingress.annotations, plus cert-manager's issuer annotation when
ingress.certManager names one (its ingress-shim then issues each tls entry's Secret).
*/}}
{{- define "production-api.ingressAnnotations" -}}
{{- $cm := .Values.ingress.certManager }}
{{- $annotations := deepCopy .Values.ingress.annotations }}
{{- if and $cm.clusterIssuer $cm.issuer }}
{{- fail "ingress.certManager.clusterIssuer and ingress.certManager.issuer are both set; cert-manager takes one issuer" }}
{{- end }}
{{- if and (or $cm.clusterIssuer $cm.issuer) (not .Values.ingress.tls) }}
{{- fail "ingress.certManager names an issuer but ingress.tls is empty; cert-manager issues the Secrets that ingress.tls names" }}
{{- end }}
{{- with $cm.clusterIssuer }}
{{- $_ := set $annotations "cert-manager.io/cluster-issuer" . }}
{{- end }}
{{- with $cm.issuer }}
{{- $_ := set $annotations "cert-manager.io/issuer" . }}
{{- end }}
{{- toYaml $annotations }}
{{- end }}
