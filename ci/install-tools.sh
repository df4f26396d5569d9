#!/usr/bin/env bash
# Installs the pinned toolchain the tests use, into the cache outside the repository
# ($TOOLS_CACHE, see ci/lib.sh). Idempotent: a tool whose pinned version is already there is
# left alone, so a second run only checks. Versions live in ci/versions.env.
#
#   1. Debian packages (promtool/prometheus, shellcheck, wrk, podman, runc, debootstrap, ...)
#   2. helm (Helm 4) and helm3 (Helm 3), built from source with the Go module proxy
#   3. the helm-unittest plugin, built from ci/tools/ into $HELM_PLUGINS/unittest
#   4. actionlint, helm-docs, helm-values-schema-json, otelcol-test (the tracing tests'
#      OpenTelemetry Collector, built from ci/otelcol/), dex-test (the authentication tests'
#      OpenID Connect issuer, built from ci/dex/), the test cluster's log aggregation:
#      victoria-logs (the store, ci/victorialogs/) and otelcol-logs (the node agent,
#      ci/logagent/), traefik-test (the cluster smoke test's ingress and Gateway API
#      controller, built from ci/traefik/), and kind (built from ci/kind/tools/)
#   5. the project venv ($PY_VENV) from requirements-dev.lock (hash-checked, ci/venv.sh)
#   6. checkov, in a venv of its own
#   7. the test cluster's binaries (ci/cluster/build.sh) and the CRDs its smoke test installs
#
# Prints one line per tool. Build output goes to $TOOLS_CACHE/logs/ and is shown on failure.
# Over 250 lines because every pinned tool is installed here, each in a few lines, in one order.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

STAMPS="$TOOLS_CACHE/stamps"
LOGS="$TOOLS_CACHE/logs"
mkdir -p "$TOOLS_BIN" "$HELM_PLUGINS" "$HELM_CACHE_HOME" "$HELM_CONFIG_HOME" \
  "$HELM_DATA_HOME" "$STAMPS" "$LOGS"

# One install at a time per cache: parallel runs (several checkouts, make -j) wait here.
exec 9>"$TOOLS_CACHE/install.lock"
flock -w 3600 9

WORK="$(mktemp -d "$TOOLS_CACHE/tmp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# Helpers

# report TOOL VERSION STATUS: the one line printed per tool.
report() { log "$(printf '%-15s %-18s %s' "$1" "$2" "$3")"; }

# run_logged NAME CMD...: runs CMD with its output in $LOGS/NAME.log; on failure shows the tail.
run_logged() {
  local name="$1" log_file="$LOGS/$1.log"
  shift
  if ! "$@" >"$log_file" 2>&1; then
    tail -n 60 "$log_file" >&2
    die "install-tools: $name failed (full log: $log_file)"
  fi
}

# The stamp of a tool records what was installed (version plus build recipe); a tool is
# current when its files exist and its stamp holds the expected key.
stamp_is() { [[ -f "$STAMPS/$1" && "$(<"$STAMPS/$1")" == "$2" ]]; }
stamp_write() { printf '%s\n' "$2" >"$STAMPS/$1"; }

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "install-tools: root is needed for: $*"
  fi
}

# have PROBE: an absolute path that is executable, or a command on PATH (or in an sbin).
have() {
  case "$1" in
    /*) [[ -x "$1" ]] ;;
    *) command -v "$1" >/dev/null || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]] ;;
  esac
}

# The Go module's go.mod, from the module proxy (cached in the module cache).
go_mod_file() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

# ---------------------------------------------------------------------------------------------
# 1. Debian packages

install_apt_packages() {
  local entry pkg probe missing=() present=()
  for entry in "${APT_PACKAGES[@]}"; do
    pkg="${entry%%:*}"
    probe="${entry#*:}"
    if have "$probe"; then
      present+=("$pkg")
    elif [[ " ${missing[*]} " != *" $pkg "* ]]; then
      missing+=("$pkg")
    fi
  done

  if ((${#missing[@]})); then
    local start=$SECONDS
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
    run_logged apt-update as_root "${apt[@]}" update
    run_logged apt-install as_root env DEBIAN_FRONTEND=noninteractive \
      "${apt[@]}" install --no-install-recommends "${missing[@]}"
    for pkg in "${missing[@]}"; do
      report "$pkg" "(apt)" "installed ($((SECONDS - start)) s for all)"
    done
  fi
  for pkg in $(printf '%s\n' "${present[@]}" | sort -u); do
    if [[ " ${missing[*]} " != *" $pkg "* ]]; then
      report "$pkg" "(apt)" "already present"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# 2.-4. Go tools. Static (CGO off), -trimpath, stripped; the default Go build cache is kept,
# so a rebuild after a version bump reuses every unchanged package.

export CGO_ENABLED=0
GO_BUILD_FLAGS=(-trimpath -buildvcs=false)
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="$PATH:/usr/local/go/bin"
fi

# binary_is_current NAME VERSION KEY: $TOOLS_BIN/NAME is there, built from KEY (reported).
binary_is_current() {
  [[ -x "$TOOLS_BIN/$1" ]] && stamp_is "$1" "$3" || return 1
  report "$1" "$2" "already present"
}

# go_install NAME VERSION PACKAGE@VERSION [LDFLAGS]: `go install` into a scratch GOBIN, then
# moves the binary into $TOOLS_BIN/NAME.
go_install() {
  local name="$1" version="$2" pkg="$3" ldflags="${4:-}"
  local key="$pkg ldflags=[$ldflags]"
  binary_is_current "$name" "$version" "$key" && return
  local start=$SECONDS gobin="$WORK/gobin-$name"
  mkdir -p "$gobin"
  run_logged "go-install-$name" env GOBIN="$gobin" \
    go install "${GO_BUILD_FLAGS[@]}" -ldflags="-s -w $ldflags" "$pkg"
  local built=("$gobin"/*)
  mv -f "${built[0]}" "$TOOLS_BIN/$name"
  stamp_write "$name" "$key"
  report "$name" "$version" "installed ($((SECONDS - start)) s)"
}

# Helm's release builds set the version and the default Kubernetes version (from the
# client-go it is built with) by ldflags; a plain `go install` would report v3.22 and
# render with .Capabilities.KubeVersion v1.20.0.
helm3_ldflags() {
  local client_go minor
  client_go="$(awk '$1 == "k8s.io/client-go" {print $2}' "$(go_mod_file "helm.sh/helm/v3@$HELM3_VERSION")")"
  [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "install-tools: cannot read client-go version of helm $HELM3_VERSION"
  minor="${BASH_REMATCH[1]}"
  local v=helm.sh/helm/v3
  printf '%s ' \
    "-X $v/internal/version.version=$HELM3_VERSION" \
    "-X $v/internal/version.gitTreeState=clean" \
    "-X $v/pkg/lint/rules.k8sVersionMajor=1" \
    "-X $v/pkg/lint/rules.k8sVersionMinor=$minor" \
    "-X $v/pkg/chartutil.k8sVersionMajor=1" \
    "-X $v/pkg/chartutil.k8sVersionMinor=$minor"
}

# Helm 4 reads the Kubernetes version from its build info; only the version is set.
helm4_ldflags() {
  printf '%s ' \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "-X helm.sh/helm/v4/internal/version.gitTreeState=clean"
}

# helm-unittest's go.mod has a replace directive, so it is built from ci/tools/ (which
# repeats it) and installed as a Helm plugin: the upstream plugin.yaml without its install
# hooks (they download release binaries), plus the binary its platformCommand names.
install_helm_unittest() {
  local tools_dir="$REPO_ROOT/ci/tools" mod=github.com/helm-unittest/helm-unittest
  local plugin_dir="$HELM_PLUGINS/unittest"
  local key
  key="$(cat "$tools_dir/go.mod" "$tools_dir/go.sum" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$plugin_dir/plugin.yaml" ]] && stamp_is helm-unittest "$key"; then
    report helm-unittest "$HELM_UNITTEST_VERSION" "already present"
    return
  fi
  local start=$SECONDS src version os arch binary
  version="$(cd "$tools_dir" && go list -m -f '{{.Version}}' "$mod")"
  [[ "$version" == "$HELM_UNITTEST_VERSION" ]] ||
    die "install-tools: ci/tools/go.mod requires $mod $version, ci/versions.env says $HELM_UNITTEST_VERSION"
  src="$(cd "$tools_dir" && go mod download -json "$mod" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  os="$(go env GOOS)"
  arch="$(go env GOARCH)"
  [[ "$os" == darwin ]] && os=macos
  binary="untt-$os-$arch"

  local staging="$WORK/unittest"
  mkdir -p "$staging"
  (
    cd "$tools_dir"
    run_logged go-build-helm-unittest go build "${GO_BUILD_FLAGS[@]}" \
      -ldflags="-s -w -X $mod/internal/build.version=${version#v}" \
      -o "$staging/$binary" "$mod/cmd/helm-unittest"
  )
  sed '/^platformHooks:/,$d' "$src/plugin.yaml" >"$staging/plugin.yaml"
  grep -q "\$HELM_PLUGIN_DIR/$binary\"" "$staging/plugin.yaml" ||
    die "install-tools: upstream plugin.yaml of $mod $version has no command for $binary"
  install -m 0644 "$src/LICENSE" "$staging/LICENSE"

  rm -rf "$plugin_dir"
  mv "$staging" "$plugin_dir"
  stamp_write helm-unittest "$key"
  report helm-unittest "$HELM_UNITTEST_VERSION" "installed ($((SECONDS - start)) s)"
}

# go_build_module NAME VERSION MODULE@VERSION [LDFLAGS]: builds the module's main package inside
# the downloaded module, with its own go.mod and go.sum (the versions `go install pkg@version`
# would use). For modules that `go install` cannot fetch: it also asks the proxy for the
# module's version list (the deprecation check), which a proxy may refuse.
go_build_module() {
  local name="$1" version="$2" mod="$3" ldflags="${4:-}"
  local key="$mod ldflags=[$ldflags]"
  binary_is_current "$name" "$version" "$key" && return
  local start=$SECONDS src
  src="$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -f "$src/go.mod" ]] || die "install-tools: cannot download $mod"
  (
    cd "$src"
    run_logged "go-build-$name" go build "${GO_BUILD_FLAGS[@]}" -ldflags="-s -w $ldflags" \
      -o "$WORK/$name" .
  )
  mv -f "$WORK/$name" "$TOOLS_BIN/$name"
  stamp_write "$name" "$key"
  report "$name" "$version" "installed ($((SECONDS - start)) s)"
}

# go_build_tools_module NAME VERSION DIR MODULE MODULE_VERSION PACKAGE [LDFLAGS]: builds PACKAGE
# from the tools module ci/DIR (a go.mod naming the pinned MODULE, its go.sum, perhaps a main
# package of its own) into $TOOLS_BIN/NAME. MODULE's version in that go.mod must be
# MODULE_VERSION (ci/versions.env). Rebuilt when any file of the module changes.
go_build_tools_module() {
  local name="$1" version="$2" dir="$REPO_ROOT/ci/$3" mod="$4" want="$5" pkg="$6" ldflags="${7:-}"
  local key found file files=("$dir/go.mod" "$dir/go.sum")
  for file in "$dir"/*.go; do
    [[ ! -e "$file" ]] || files+=("$file")
  done
  key="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"
  binary_is_current "$name" "$version" "$key" && return
  local start=$SECONDS
  found="$(cd "$dir" && go list -m -f '{{.Version}}' "$mod")"
  [[ "$found" == "$want" ]] ||
    die "install-tools: ci/$3/go.mod requires $mod $found, ci/versions.env says $want"
  (
    cd "$dir"
    run_logged "go-build-$name" go build "${GO_BUILD_FLAGS[@]}" -ldflags="-s -w $ldflags" \
      -o "$WORK/$name" "$pkg"
  )
  mv -f "$WORK/$name" "$TOOLS_BIN/$name"
  stamp_write "$name" "$key"
  report "$name" "$version" "installed ($((SECONDS - start)) s)"
}

install_go_tools() {
  command -v go >/dev/null || die "install-tools: the go command is needed to build helm and the Go tools"
  go_install helm "$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" "$(helm4_ldflags)"
  go_install helm3 "$HELM3_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" "$(helm3_ldflags)"
  install_helm_unittest
  go_install actionlint "$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  go_install helm-docs "$HELM_DOCS_VERSION" \
    "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION" \
    "-X main.version=${HELM_DOCS_VERSION#v}"
  go_build_module helm-values-schema-json "$HELM_SCHEMA_VERSION" \
    "github.com/losisin/helm-values-schema-json/v2@$HELM_SCHEMA_VERSION" \
    "-X main.Version=$HELM_SCHEMA_VERSION"
  go_install crane "$CRANE_VERSION" \
    "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" \
    "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION"
  # The tracing tests' minimal OpenTelemetry Collector: its main package and go.mod are in
  # ci/otelcol/ (the Collector has no importable distribution; ocb generates the same shape).
  go_build_tools_module otelcol-test "$OTELCOL_VERSION" otelcol \
    go.opentelemetry.io/collector/otelcol "$OTELCOL_VERSION" . "-X main.version=$OTELCOL_VERSION"
  # Dex, the authentication tests' OpenID Connect issuer: its go.mod replaces its api/v2 module
  # with a directory, so it is built from ci/dex/ (naming the published api/v2 instead).
  go_build_tools_module dex-test "$DEX_VERSION" dex github.com/dexidp/dex "$DEX_MODULE_VERSION" \
    github.com/dexidp/dex/cmd/dex "-X main.version=$DEX_VERSION"
  # The test cluster's log aggregation: VictoriaLogs (the store) and otelcol-logs (the node
  # agent, the same Collector release with the contrib filelog receiver).
  go_build_tools_module victoria-logs "$VICTORIALOGS_VERSION" victorialogs \
    github.com/VictoriaMetrics/VictoriaLogs "$VICTORIALOGS_VERSION" \
    github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs \
    "-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-$VICTORIALOGS_VERSION"
  go_build_tools_module otelcol-logs "$OTELCOL_VERSION" logagent \
    go.opentelemetry.io/collector/otelcol "$OTELCOL_VERSION" . "-X main.version=$OTELCOL_VERSION"
  # Traefik, the ingress and Gateway API controller of the cluster smoke test's TLS edge: its
  # go.mod's replace and exclude lines rule out `go install`; ci/traefik/ repeats them.
  go_build_tools_module traefik-test "$TRAEFIK_VERSION" traefik \
    github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" github.com/traefik/traefik/v3/cmd/traefik \
    "-X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
  # kind, for the kind smoke test on podman: ci/kind/tools's go.sum pins its dependencies.
  go_build_tools_module kind "$KIND_VERSION" kind/tools sigs.k8s.io/kind "$KIND_VERSION" \
    sigs.k8s.io/kind
}

# ---------------------------------------------------------------------------------------------
# 5.-6. Python. Venvs are made with the real interpreter: not a pyenv shim, and not the
# project venv's python3, which ci/lib.sh puts first on PATH.

PYTHON="$(PATH="${PATH//"$PY_VENV/bin:"/}" python3 -c 'import sys; print(sys.executable)')"
[[ "$PYTHON" != "$TOOLS_CACHE"/* ]] || die "install-tools: python3 on PATH is a venv's ($PYTHON)"

# The project venv: recreated whenever requirements-dev.lock (or the interpreter) changes
# (ci/venv.sh, shared with ci/run.sh's runtime venv).
install_project_venv() {
  "$REPO_ROOT/ci/venv.sh" venv "$REPO_ROOT/requirements-dev.lock" "$PY_VENV"
}

# checkov pins many dependencies of its own, so it gets a venv apart from the project's.
# Installed with uv (from the project venv) for speed.
install_checkov() {
  local venv="$TOOLS_CACHE/checkov-venv" key="checkov==$CHECKOV_VERSION $PYTHON"
  if [[ -x "$TOOLS_BIN/checkov" ]] && "$venv/bin/python" -c '' 2>/dev/null &&
    stamp_is checkov "$key"; then
    report checkov "$CHECKOV_VERSION" "already present"
    return
  fi
  local start=$SECONDS
  rm -f "$STAMPS/checkov"
  run_logged checkov-venv "$PYTHON" -m venv --clear --without-pip "$venv"
  run_logged checkov-install "$PY_VENV/bin/uv" pip install --python "$venv/bin/python" \
    "checkov==$CHECKOV_VERSION"
  ln -sfn "$venv/bin/checkov" "$TOOLS_BIN/checkov"
  stamp_write checkov "$key"
  report checkov "$CHECKOV_VERSION" "installed ($((SECONDS - start)) s)"
}

# The Gateway API CRD manifests, for validating the chart's HTTPRoute offline: the
# sigs.k8s.io/gateway-api Go module carries them under config/crd/.
install_gateway_api_crds() {
  local dest="$TOOLS_CACHE/schemas/gateway-api-$GATEWAY_API_VERSION"
  if [[ -d "$dest" ]] && stamp_is gateway-api "$GATEWAY_API_VERSION"; then
    report gateway-api "$GATEWAY_API_VERSION" "already present"
    return
  fi
  local start=$SECONDS src
  src="$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -d "$src/config/crd/standard" ]] || die "install-tools: no CRDs in sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$src"/config/crd/standard/*.yaml "$dest/"
  stamp_write gateway-api "$GATEWAY_API_VERSION"
  report gateway-api "$GATEWAY_API_VERSION" "installed ($((SECONDS - start)) s)"
}

# The Prometheus Operator CRDs, for the cluster smoke test: the operator's Go module carries
# them under example/prometheus-operator-crd/.
install_prometheus_operator_crds() {
  local dest="$TOOLS_CACHE/schemas/prometheus-operator-$PROM_OPERATOR_VERSION"
  if [[ -d "$dest" ]] && stamp_is prometheus-operator-crds "$PROM_OPERATOR_VERSION"; then
    report prom-op-crds "$PROM_OPERATOR_VERSION" "already present"
    return
  fi
  local start=$SECONDS src
  src="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -d "$src/example/prometheus-operator-crd" ]] ||
    die "install-tools: no CRDs in github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION"
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$src"/example/prometheus-operator-crd/*.yaml "$dest/"
  chmod 0644 "$dest"/*.yaml
  stamp_write prometheus-operator-crds "$PROM_OPERATOR_VERSION"
  report prom-op-crds "$PROM_OPERATOR_VERSION" "installed ($((SECONDS - start)) s)"
}

# ---------------------------------------------------------------------------------------------

install_apt_packages
install_go_tools
install_gateway_api_crds
install_prometheus_operator_crds
# 7. the test cluster's binaries (Kubernetes, CoreDNS, pause), from ci/cluster/tools, unless
# the cluster tests are switched off (CLUSTER_SMOKE=0)
if [[ "${CLUSTER_SMOKE:-1}" == 0 ]]; then
  report kubernetes "-" "skipped (CLUSTER_SMOKE=0)"
else
  "$REPO_ROOT/ci/cluster/build.sh"
  # metrics-server has a module of its own (its go.mod pins other k8s.io versions) without
  # replace lines, so `go install` builds it as released.
  go_install metrics-server "$METRICS_SERVER_VERSION" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" \
    "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
fi
install_project_venv
install_checkov
