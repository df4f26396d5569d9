#!/usr/bin/env bash
# Builds the base image of the offline kind node image (what kind's images/base/Dockerfile makes,
# without a registry or the internet): a Debian root filesystem (debootstrap) with systemd as
# /sbin/init, Debian's containerd 1.6, runc, CNI plugins, iptables, iproute2, conntrack, ...,
# plus kind's base files (entrypoint, systemd units, containerd config, /kind/bin) read from the
# sigs.k8s.io/kind module at $KIND_VERSION in the Go module cache. Imported into podman with
# kind's ENTRYPOINT, STOPSIGNAL and ENV.
#
# What differs from kind's own base image, and why:
#   - containerd, runc and the CNI plugins are Debian's (1.6.20, 1.1.5, 1.1.1), not kind's
#     builds; kind's unit starts /usr/local/bin/containerd, so that path links to Debian's.
#     /opt/cni/bin links to /usr/lib/cni.
#   - containerd's CRI plugin gets restrict_oom_score_adj = true: root on these hosts lacks
#     CAP_SYS_RESOURCE, and without it every pod sandbox fails to start.
#   - no crictl, fuse-overlayfs, nfs-common or open-iscsi: crictl is added with the Kubernetes
#     binaries by the node image step; the others serve rootless and storage tests.
# The root filesystem tarball is cached under $TOOLS_CACHE/kind, keyed on the recipe below and
# on kind's base files; the podman image is tagged with the same key and created once.
#
# Environment:
#   DEBIAN_SUITE     Debian release           (default bookworm: Kubernetes 1.34 wants a
#                                              containerd of the 1.6/1.7 line on cgroup v1)
#   DEBIAN_MIRROR    mirror for debootstrap   (default http://deb.debian.org/debian)
#   REBUILD=1        rebuild the tarball and the image even when cached
# Prints the image reference on stdout.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REBUILD="${REBUILD:-0}"
# kind's package list (images/base/Dockerfile) less the storage and rootless ones, plus what
# kind builds itself (containerd, runc, CNI plugins) and what systemd needs as PID 1 here.
PACKAGES=(
  systemd systemd-sysv dbus
  conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz e2fsprogs
  bash ca-certificates curl jq procps socat
  containerd runc containernetworking-plugins
)
# Bump when the root filesystem recipe below changes, so cached tarballs are not reused.
RECIPE_VERSION=1
IMAGE_NAME=localhost/production-api-kind-base

podman_() { "$REPO_ROOT/ci/podman.sh" "$@"; }

command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
kind_src="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
files="$kind_src/images/base/files"
[[ -f "$files/usr/local/bin/entrypoint" ]] ||
  die "kind base image: no images/base/files in sigs.k8s.io/kind@$KIND_VERSION"

key="$({
  printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "${PACKAGES[*]}" "$RECIPE_VERSION" "$KIND_VERSION"
  (cd "$files" && find . -type f | LC_ALL=C sort | xargs sha256sum)
} | sha256sum | cut -c1-12)"
image="$IMAGE_NAME:$KIND_VERSION-$key"

if [[ "$REBUILD" != 1 ]] && podman_ image exists "$image"; then
  log "kind base image $image exists"
  printf '%s\n' "$image"
  exit 0
fi

cache_dir="$TOOLS_CACHE/kind"
tarball="$cache_dir/base-rootfs-$DEBIAN_SUITE-$key.tar"

if [[ "$REBUILD" == 1 || ! -s "$tarball" ]]; then
  command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
  mkdir -p "$cache_dir"
  work="$(mktemp -d "$cache_dir/work.XXXXXX")"
  cleanup() {
    # debootstrap may leave proc/sys mounted inside the target when it fails.
    for m in "$work/rootfs/proc" "$work/rootfs/sys"; do
      mountpoint -q "$m" 2>/dev/null && umount -l "$m"
    done
    rm -rf "$work"
  }
  trap cleanup EXIT
  root="$work/rootfs"
  start=$SECONDS
  log "debootstrap $DEBIAN_SUITE (${PACKAGES[*]}) from $DEBIAN_MIRROR"
  include="$(IFS=,; printf '%s' "${PACKAGES[*]}")"
  timeout 1200 debootstrap --variant=minbase --components=main --include="$include" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f "$root/debootstrap/debootstrap.log" ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    exit 1
  }
  log "debootstrap took $((SECONDS - start)) s"

  # As kind's Dockerfile: no units beyond the ones a node needs, no kernel messages in the
  # journal, /sbin/init is systemd (systemd-sysv).
  rm -f "$root"/lib/systemd/system/multi-user.target.wants/* \
    "$root"/etc/systemd/system/*.wants/* \
    "$root"/lib/systemd/system/local-fs.target.wants/* \
    "$root"/lib/systemd/system/sockets.target.wants/*udev* \
    "$root"/lib/systemd/system/sockets.target.wants/*initctl* \
    "$root"/lib/systemd/system/basic.target.wants/*
  find "$root/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  echo "ReadKMsg=no" >>"$root/etc/systemd/journald.conf"
  [[ -e "$root/sbin/init" ]] || die "kind base image: no /sbin/init (systemd-sysv)"

  # kind's base files, with the modes its Dockerfile gives them (scripts 0755, the rest 0644).
  install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
  install -d -m 0755 "$root/kind" "$root/kind/bin" "$root/LICENSES" \
    "$root/etc/systemd/system/kubelet.service.d" "$root/etc/kubernetes/manifests"
  install -m 0644 "$files/kind/README.txt" "$root/kind/"
  install -m 0755 "$files"/kind/bin/* "$root/kind/bin/"
  install -m 0644 "$files"/LICENSES/* "$root/LICENSES/"
  install -m 0644 "$files/etc/crictl.yaml" "$root/etc/"
  install -m 0644 "$files/etc/containerd/config.toml" "$root/etc/containerd/"
  install -m 0644 "$files"/etc/default/* "$root/etc/default/"
  install -m 0644 "$files"/etc/sysctl.d/* "$root/etc/sysctl.d/"
  install -m 0644 "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice \
    "$root/etc/systemd/system/"
  install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* \
    "$root/etc/systemd/system/kubelet.service.d/"

  # Debian's containerd where kind's unit and scripts look for it; CNI plugins where kind's
  # containerd config looks for them.
  for bin in containerd containerd-shim-runc-v2 ctr; do
    ln -sf "/usr/bin/$bin" "$root/usr/local/bin/$bin"
  done
  install -d -m 0755 "$root/opt/cni"
  ln -sfn /usr/lib/cni "$root/opt/cni/bin"
  grep -q 'restrict_oom_score_adj = false' "$root/etc/containerd/config.toml" ||
    die "kind base image: kind's containerd config has no restrict_oom_score_adj line"
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
    "$root/etc/containerd/config.toml"

  # The CRI base runtime spec, made as kind makes it: containerd's default OCI spec plus kind's
  # product-files hook, without rlimits.
  chroot "$root" /bin/sh -ec 'ctr oci spec |
    jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" |
    jq "del(.process.rlimits)" >/etc/containerd/cri-base.json'
  chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
    >/dev/null 2>&1
  chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1

  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/* "$root"/debootstrap \
    "$root"/tmp/* "$root"/var/tmp/*
  printf 'deb %s %s main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE" >"$root/etc/apt/sources.list"

  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
  mv -f "$tarball.tmp" "$tarball"
  log "cached root filesystem: $tarball ($(du -h "$tarball" | cut -f1))"
fi

log "podman import $image"
podman_ import --quiet \
  --change 'ENV container=docker' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --message "kind $KIND_VERSION base: Debian $DEBIAN_SUITE with systemd and containerd" \
  "$tarball" "$image" >/dev/null
printf '%s\n' "$image"
