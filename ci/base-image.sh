#!/usr/bin/env bash
# Builds a local stand-in for the python:3.11-slim base image on hosts that cannot pull from
# a container registry: a minimal Debian root filesystem (debootstrap) with Debian's Python 3.11
# and venv support, plus /usr/local/bin/python{,3} links so the Dockerfile's commands behave as
# on the official image. The root filesystem tarball is cached under $TOOLS_CACHE; the podman
# image is created once (skipped when it already exists).
#
# Environment:
#   BASE_IMAGE_REF   image to create          (default localhost/production-api-base:py3.11-bookworm)
#   DEBIAN_SUITE     Debian release           (default bookworm; its python3 is 3.11)
#   DEBIAN_MIRROR    mirror for debootstrap   (default http://deb.debian.org/debian)
#   REBUILD=1        rebuild the tarball and the image even when cached
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_IMAGE_REF="${BASE_IMAGE_REF:-localhost/production-api-base:py3.11-bookworm}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REBUILD="${REBUILD:-0}"
PACKAGES="python3,python3-venv,ca-certificates,netbase,tzdata"
# Bump when the root filesystem recipe below changes, so cached tarballs are not reused.
RECIPE_VERSION=1

podman_() { "$REPO_ROOT/ci/podman.sh" "$@"; }

if [[ "$REBUILD" != 1 ]] && podman_ image exists "$BASE_IMAGE_REF"; then
  log "base image $BASE_IMAGE_REF exists"
  exit 0
fi

cache_dir="$TOOLS_CACHE/base-image"
key="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$PACKAGES" "$RECIPE_VERSION" \
  | sha256sum | cut -c1-12)"
tarball="$cache_dir/rootfs-$DEBIAN_SUITE-$key.tar"

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
  log "debootstrap $DEBIAN_SUITE ($PACKAGES) from $DEBIAN_MIRROR"
  timeout 900 debootstrap --variant=minbase --components=main --include="$PACKAGES" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f "$root/debootstrap/debootstrap.log" ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    exit 1
  }

  # What python:3.11-slim offers on PATH: python and python3 in /usr/local/bin.
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
  chroot "$root" /usr/local/bin/python -c 'import ensurepip, venv, ssl, sys; print(sys.version)' >&2

  # Trim what a runtime image does not need (as the official slim images do).
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/* "$root"/debootstrap \
    "$root"/tmp/* "$root"/var/tmp/*
  find "$root/usr/lib/python3" "$root/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
  # Same APT sources as the host's mirror, so the image can be updated the usual way.
  printf 'deb %s %s main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE" >"$root/etc/apt/sources.list"

  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
  mv -f "$tarball.tmp" "$tarball"
  log "cached root filesystem: $tarball ($(du -h "$tarball" | cut -f1))"
fi

log "podman import $BASE_IMAGE_REF"
podman_ import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "Debian $DEBIAN_SUITE minbase with python3 (local stand-in for python:3.11-slim)" \
  "$tarball" "$BASE_IMAGE_REF" >/dev/null
podman_ image inspect --format '{{.Id}} {{.Size}}' "$BASE_IMAGE_REF" >&2
