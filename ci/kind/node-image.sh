#!/usr/bin/env bash
# Builds the offline kind node image: what `kind build node-image` makes, without a registry.
# kind's own command cannot run here (it pulls every image it did not build with
# `ctr content fetch`, runs a `docker` binary, and imports with `ctr images import --label`,
# which Debian's containerd 1.6 lacks), so this script replays its steps
# (sigs.k8s.io/kind pkg/build/nodeimage/buildcontext.go):
#   1. the base image (ci/kind/base-image.sh), started with `sleep infinity` as entrypoint;
#   2. kubeadm, kubelet and kubectl copied to /usr/bin (crictl to /usr/local/bin, which kind's
#      base image has and `kind load` runs), /kind/version written;
#   3. containerd started in it, every image kubeadm v1.34 pulls imported into its k8s.io
#      namespace (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd,
#      CoreDNS, and the containerd config's sandbox image as pause), pinned, containerd stopped;
#   4. committed with ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"].
# The images are built here from Go modules, FROM scratch: the Kubernetes binaries of the test
# cluster (ci/cluster/build.sh, the same v1.34.4), kubeadm and crictl (ci/kind/node), CoreDNS
# v1.12.1 with kubeadm's Corefile plugins (ci/kind/coredns), etcd v3.6.5 (ci/kind/etcd). kube-proxy's image
# also gets iptables (legacy, the mode kind's entrypoint selects on these hosts) from the base
# image's root filesystem.
#
# CNI: a static bridge configuration in the node (/etc/cni/net.d), the pod subnet being kind's
# default 10.244.0.0/16, and a default CNI manifest without a DaemonSet: kindnetd would be one
# more image to build (its v0.33 source is not on the module proxy), and one node needs no
# routes to other nodes. No default-storage manifest: kind then installs its host-path
# StorageClass, which needs no image.
#
# Cached: the binaries under $TOOLS_CACHE/kind/bin-KEY (keyed on the modules and the Go
# version); the node image is localhost/production-api-kind-node:v1.34.4-KEY (keyed on the base
# image, the binaries and this recipe) and built once. Prints the image reference on stdout.
#
# Over 250 lines because it is one recipe, read top-down: the binaries, the images, then kind's
# build steps in order.
#
# Environment:
#   REBUILD=1   rebuild the node image even when it exists (the binaries stay cached)
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

REBUILD="${REBUILD:-0}"
# Bump when the node image recipe below changes.
RECIPE_VERSION=2
IMAGE_NAME=localhost/production-api-kind-node
# What kubeadm v1.34.4 deploys (`kubeadm config images list`), checked against kubeadm below.
ETCD_IMAGE_TAG=3.6.5-0
COREDNS_IMAGE_TAG=v1.12.1
POD_SUBNET=10.244.0.0/16

podman_() { "$REPO_ROOT/ci/podman.sh" "$@"; }
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"

start=$SECONDS
base_image="$("$REPO_ROOT/ci/kind/base-image.sh")"
"$REPO_ROOT/ci/cluster/build.sh"
cluster_bin="$TOOLS_CACHE/cluster/bin"

# ---------------------------------------------------------------------------------------------
# The binaries the test cluster's module does not build.

node_dir="$REPO_ROOT/ci/kind/node"
coredns_dir="$REPO_ROOT/ci/kind/coredns"
etcd_dir="$REPO_ROOT/ci/kind/etcd"
bin_key="$({
  cat "$node_dir/go.mod" "$node_dir/go.sum" "$coredns_dir/go.mod" "$coredns_dir/go.sum" \
    "$coredns_dir/main.go" "$etcd_dir/go.mod" "$etcd_dir/go.sum"
  printf '%s\n' "$KUBERNETES_VERSION" "$(go env GOVERSION)"
} | sha256sum | cut -c1-12)"
kind_bin="$TOOLS_CACHE/kind/bin-$bin_key"
if [[ ! -x "$kind_bin/etcd" ]]; then
  version="$(cd "$node_dir" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  [[ "$version" == "$KUBERNETES_VERSION" ]] ||
    die "kind node image: ci/kind/node/go.mod requires k8s.io/kubernetes $version, ci/versions.env says $KUBERNETES_VERSION"
  [[ "$version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "cannot parse $version"
  # The version stamps of a Kubernetes release build (as ci/cluster/build.sh sets them).
  ldflags=(-s -w)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=(
      "-X $pkg.gitVersion=$version" "-X $pkg.gitMajor=${BASH_REMATCH[1]}"
      "-X $pkg.gitMinor=${BASH_REMATCH[2]}" "-X $pkg.gitTreeState=clean"
      "-X $pkg.buildDate=1970-01-01T00:00:00Z"
    )
  done
  crictl_version="$(cd "$node_dir" && go list -m -f '{{.Version}}' sigs.k8s.io/cri-tools)"
  ldflags+=("-X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_version#v}")
  mkdir -p "$TOOLS_CACHE/kind" "$TOOLS_CACHE/logs"
  staging="$(mktemp -d "$TOOLS_CACHE/kind/bin.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  log_file="$TOOLS_CACHE/logs/kind-node-build.log"
  build_start=$SECONDS
  log "building kubeadm and crictl (ci/kind/node), coredns (ci/kind/coredns), etcd (ci/kind/etcd)"
  if ! { (cd "$node_dir" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags="${ldflags[*]}" -o "$staging/" \
    k8s.io/kubernetes/cmd/kubeadm sigs.k8s.io/cri-tools/cmd/crictl) &&
    (cd "$coredns_dir" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" \
      -o "$staging/coredns" .) &&
    (cd "$etcd_dir" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" \
      -o "$staging/etcd" go.etcd.io/etcd/server/v3); } >"$log_file" 2>&1; then
    tail -n 60 "$log_file" >&2
    die "kind node image: building the binaries failed (full log: $log_file)"
  fi
  for bin in kubeadm crictl coredns etcd; do
    [[ -x "$staging/$bin" ]] || die "kind node image: go build made no $bin"
  done
  rm -rf "$kind_bin"
  mv "$staging" "$kind_bin"
  chmod 0755 "$kind_bin"
  trap - EXIT
  log "kind node binaries built in $((SECONDS - build_start)) s"
fi

# The images kubeadm will ask for must be the ones built here.
expected="$(printf '%s\n' \
  "registry.k8s.io/kube-apiserver:$KUBERNETES_VERSION" \
  "registry.k8s.io/kube-controller-manager:$KUBERNETES_VERSION" \
  "registry.k8s.io/kube-scheduler:$KUBERNETES_VERSION" \
  "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" \
  "registry.k8s.io/coredns/coredns:$COREDNS_IMAGE_TAG" \
  "registry.k8s.io/pause:3.10.1" \
  "registry.k8s.io/etcd:$ETCD_IMAGE_TAG")"
listed="$("$kind_bin/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)"
[[ "$listed" == "$expected" ]] ||
  die "kind node image: kubeadm lists other images than this script builds:"$'\n'"$listed"

cni_conf="$(cat <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kind-static",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "kind-pods",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
)"
# kind applies this manifest as its default CNI; the network itself is the static
# configuration above, so the manifest only says so.
cni_manifest="$(cat <<YAML
# The offline node image's pod network is a static CNI configuration in the node
# (/etc/cni/net.d/10-kind-static.conflist: bridge + host-local $POD_SUBNET + portmap), made by
# production-api's ci/kind/node-image.sh; there is no CNI DaemonSet.
apiVersion: v1
kind: ConfigMap
metadata:
  name: kind-static-cni
  namespace: kube-system
data:
  10-kind-static.conflist: |
    ${cni_conf//$'\n'/$'\n'    }
YAML
)"

key="$({
  printf '%s\n' "$base_image" "$bin_key" "$(<"$cluster_bin/.key")" "$RECIPE_VERSION"
  printf '%s\n' "$cni_conf" "$expected"
} | sha256sum | cut -c1-12)"
image="$IMAGE_NAME:$KUBERNETES_VERSION-$key"
if [[ "$REBUILD" != 1 ]] && podman_ image exists "$image"; then
  log "kind node image $image exists"
  printf '%s\n' "$image"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# The images, as docker archives.

work="$(mktemp -d "$TOOLS_CACHE/kind/node.XXXXXX")"
build_container="production-api-kind-build-$$"
built_images=()
cleanup() {
  podman_ rm -f -t 0 "$build_container" >/dev/null 2>&1 || true
  if ((${#built_images[@]})); then
    podman_ rmi "${built_images[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# image_from_scratch REF ENTRYPOINT FILE...: an image FROM scratch with each FILE in
# /usr/local/bin (a directory FILE is copied as the root of the image), saved to $work.
image_from_scratch() {
  local ref="$1" entrypoint="$2" ctx
  shift 2
  ctx="$(mktemp -d "$work/ctx.XXXXXX")"
  mkdir -p "$ctx/rootfs/usr/local/bin"
  local f
  for f in "$@"; do
    if [[ -d "$f" ]]; then
      cp -a "$f/." "$ctx/rootfs/"
    else
      install -m 0755 "$f" "$ctx/rootfs/usr/local/bin/"
    fi
  done
  {
    echo "FROM scratch"
    echo "COPY rootfs/ /"
    echo "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "ENTRYPOINT $entrypoint"
  } >"$ctx/Containerfile"
  podman_ build --quiet --network none -t "$ref" "$ctx" >/dev/null
  built_images+=("$ref")
  podman_ save --quiet --format docker-archive -o "$work/images/$(basename "$ctx").tar" "$ref"
  rm -rf "$ctx"
}

# iptables (legacy) for kube-proxy's image: xtables-legacy-multi, its extensions and the
# libraries they link, taken from the build container (the base image).
iptables_root() {
  local dest="$work/iptables-root" tool
  mkdir -p "$dest/usr/sbin" "$dest/run"
  # shellcheck disable=SC2016
  in_node bash -ec '
    xt=/usr/lib/x86_64-linux-gnu/xtables
    files=(/usr/sbin/xtables-legacy-multi "$xt"/*.so)
    { printf "%s\n" "${files[@]}"
      for f in "${files[@]}"; do
        ldd "$f" | awk '"'"'$2 == "=>" {print $3} $1 ~ /^\// {print $1}'"'"'
      done; } | sort -u | tar -chf - -T - 2>/dev/null' | tar -C "$dest" -xf -
  [[ -x "$dest/usr/sbin/xtables-legacy-multi" && -e "$dest/lib64/ld-linux-x86-64.so.2" ]] ||
    die "kind node image: no iptables (legacy) from the base image"
  for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s xtables-legacy-multi "$dest/usr/sbin/$tool"
  done
  printf '%s\n' "$dest"
}

mkdir -p "$work/images"
# kind's build container: the base image, kept running with `sleep infinity`.
replay_start=$SECONDS
podman_ run --detach --name "$build_container" --network none --entrypoint sleep \
  --security-opt seccomp=unconfined "$base_image" infinity >/dev/null
in_node() { podman_ exec "$build_container" "$@"; }
# write_in_node PATH: writes stdin to PATH in the build container.
# shellcheck disable=SC2016
write_in_node() { podman_ exec -i "$build_container" sh -c 'cat >"$1" && test -s "$1"' sh "$1"; }

images_start=$SECONDS
v="$KUBERNETES_VERSION"
image_from_scratch "registry.k8s.io/kube-apiserver:$v" '["/usr/local/bin/kube-apiserver"]' "$cluster_bin/kube-apiserver"
image_from_scratch "registry.k8s.io/kube-controller-manager:$v" '["/usr/local/bin/kube-controller-manager"]' "$cluster_bin/kube-controller-manager"
image_from_scratch "registry.k8s.io/kube-scheduler:$v" '["/usr/local/bin/kube-scheduler"]' "$cluster_bin/kube-scheduler"
image_from_scratch "registry.k8s.io/kube-proxy:$v" '["/usr/local/bin/kube-proxy"]' "$cluster_bin/kube-proxy" "$(iptables_root)"
image_from_scratch "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" '["/usr/local/bin/etcd"]' "$kind_bin/etcd"
# CoreDNS's image has its binary at /coredns; kubeadm's Deployment gives only arguments.
coredns_root="$work/coredns-root"
install -D -m 0755 "$kind_bin/coredns" "$coredns_root/coredns"
image_from_scratch "registry.k8s.io/coredns/coredns:$COREDNS_IMAGE_TAG" '["/coredns"]' "$coredns_root"
log "control-plane images built in $((SECONDS - images_start)) s"

# ---------------------------------------------------------------------------------------------
# kind's node image steps in the build container.

for bin in kubeadm kubelet kubectl; do
  src="$cluster_bin/$bin"
  [[ "$bin" == kubeadm ]] && src="$kind_bin/kubeadm"
  podman_ cp "$src" "$build_container:/usr/bin/$bin"
  in_node chmod 0755 "/usr/bin/$bin"
  in_node chown root:root "/usr/bin/$bin"
done
podman_ cp "$kind_bin/crictl" "$build_container:/usr/local/bin/crictl"
printf '%s' "$KUBERNETES_VERSION" | write_in_node /kind/version
in_node mkdir -p /kind/manifests /etc/cni/net.d
printf '%s\n' "$cni_manifest" | write_in_node /kind/manifests/default-cni.yaml
printf '%s\n' "$cni_conf" | write_in_node /etc/cni/net.d/10-kind-static.conflist

# The sandbox image is the one in the containerd config (kind replaces kubeadm's pause by it).
sandbox_image="$(in_node sed -n 's/^[[:space:]]*sandbox_image = "\(.*\)"$/\1/p' /etc/containerd/config.toml)"
[[ "$sandbox_image" == registry.k8s.io/pause:* ]] ||
  die "kind node image: no sandbox_image in the base image's containerd config"
image_from_scratch "$sandbox_image" '["/usr/local/bin/pause"]' "$cluster_bin/pause"

in_node bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
wait_until 30 in_node ctr version >/dev/null 2>&1 ||
  die "kind node image: containerd did not start in the build container"
for tarball in "$work"/images/*.tar; do
  name="$(basename "$tarball")"
  podman_ cp "$tarball" "$build_container:/tmp/$name"
  in_node ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests "/tmp/$name" >/dev/null
  in_node rm -f "/tmp/$name"
done
# What kind's import does with --label (not in containerd 1.6's ctr): pin them, so the
# kubelet's image garbage collection never removes them.
mapfile -t refs < <(in_node ctr --namespace=k8s.io images list -q | grep -v '^sha256:')
for ref in "${refs[@]}"; do
  in_node ctr --namespace=k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
done
mapfile -t wanted < <(grep -v '/pause:' <<<"$expected")
for want in "${wanted[@]}" "$sandbox_image"; do
  printf '%s\n' "${refs[@]}" | grep -qxF "$want" || die "kind node image: $want was not imported"
done
in_node pkill -x containerd
# The build container's PID 1 is sleep, which reaps nothing: a stopped containerd stays a zombie.
containerd_stopped() { ! in_node sh -c 'ps -C containerd -o stat= | grep -qv "^Z"'; }
wait_until 30 containerd_stopped || die "kind node image: containerd did not stop"
in_node rm -rf /tmp/containerd.log /run/containerd

podman_ commit --quiet \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
  "$build_container" "$image" >/dev/null
log "kind node image $image: replay $((SECONDS - replay_start)) s, all $((SECONDS - start)) s"
printf '%s\n' "$image"
