#!/usr/bin/env bash
# Builds the container image from the repository's Dockerfile, with the OCI label build args
# (version from app/__init__.py, revision and date from git).
#
# Environment:
#   IMAGE             name:tag to build                 (default production-api:dev)
#   CONTAINER_ENGINE  docker | podman                   (default: docker if its daemon answers,
#                                                        else podman)
#   BASE_IMAGE        base image build arg              (default: the Dockerfile's pinned one)
#   LOCAL_BASE=1      build and use the local Debian base image from ci/base-image.sh
#                     (for hosts that cannot pull from a registry; implies podman)
#   BUILD_CA_BUNDLE   CA bundle pip must trust during the build, e.g. behind a TLS-inspecting
#                     proxy (podman only; default: the host pip's: $PIP_CERT or `cert` in its
#                     config; set it empty for none). Mounted for the builder stage's RUN
#                     steps only; nothing of it is stored in the image.
#   SOURCE_URL        org.opencontainers.image.source   (default: git remote "origin", if any)
#   BUILD_TIMEOUT     seconds                           (default 1200)
# Extra arguments are passed to the engine's build command.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

IMAGE="${IMAGE:-production-api:dev}"
LOCAL_BASE="${LOCAL_BASE:-0}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1200}"
# pip's own CA setting on this host, if any: $PIP_CERT, else `cert` from pip's config files.
host_pip_cert() {
  if [[ -n "${PIP_CERT:-}" ]]; then
    printf '%s\n' "$PIP_CERT"
  elif command -v python3 >/dev/null; then
    python3 -m pip config list 2>/dev/null | sed -n "s/^global\.cert='\(.*\)'\$/\1/p" | tail -n 1
  fi
}
BUILD_CA_BUNDLE="${BUILD_CA_BUNDLE-$(host_pip_cert)}"

engine="${CONTAINER_ENGINE:-}"
if [[ "$LOCAL_BASE" == 1 ]]; then
  engine=podman
elif [[ -z "$engine" ]]; then
  if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null 2>&1; then
    engine=podman
  else
    die "no container engine: install docker or podman"
  fi
fi

version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown ]] && [[ -n "$(git status --porcelain -- app requirements.lock Dockerfile 2>/dev/null)" ]]; then
  revision="$revision-dirty"
fi
# The commit time, not the wall clock, so that rebuilding a commit gives the same labels.
created="$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null \
  || TZ=UTC date +%Y-%m-%dT%H:%M:%SZ)"
source_url="${SOURCE_URL:-$(git remote get-url origin 2>/dev/null || true)}"

args=(
  --tag "$IMAGE"
  --file Dockerfile
  --build-arg "VERSION=$version"
  --build-arg "REVISION=$revision"
  --build-arg "CREATED=$created"
  --build-arg "SOURCE=$source_url"
)

build_volumes=()
if [[ "$engine" == podman ]]; then
  engine_cmd=("$REPO_ROOT/ci/podman.sh")
  if [[ "$LOCAL_BASE" == 1 ]]; then
    BASE_IMAGE="${BASE_IMAGE:-localhost/production-api-base:py3.11-bookworm}"
    BASE_IMAGE_REF="$BASE_IMAGE" "$REPO_ROOT/ci/base-image.sh"
  fi
  # Docker image format: the OCI format has no HEALTHCHECK.
  args+=(--format docker --layers)
  if [[ -n "$BUILD_CA_BUNDLE" ]]; then
    [[ -r "$BUILD_CA_BUNDLE" ]] || die "BUILD_CA_BUNDLE $BUILD_CA_BUNDLE is not readable"
    pip_conf="$TOOLS_CACHE/podman/build-pip.conf"
    mkdir -p "$(dirname "$pip_conf")"
    printf '[global]\ncert = /run/build-ca/ca-bundle.crt\n' >"$pip_conf"
    build_volumes=(--volume "$BUILD_CA_BUNDLE:/run/build-ca/ca-bundle.crt:ro"
      --volume "$pip_conf:/etc/pip.conf:ro")
  fi
else
  engine_cmd=(docker)
fi
[[ -n "${BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")

log "$engine build $IMAGE (version $version, revision $revision${BASE_IMAGE:+, base $BASE_IMAGE})"
start=$SECONDS
if ((${#build_volumes[@]})); then
  # The volumes are needed by the builder stage only; mounting them into the runtime stage's
  # RUN would leave empty mount-point files in the image. So build the builder stage with
  # them first, then the image without them, reusing the cached builder layers. The helper
  # tag is unique per build, so concurrent builds of one image do not remove each other's.
  builder_tag="$IMAGE-builder-$$"
  timeout "$BUILD_TIMEOUT" "${engine_cmd[@]}" build "${args[@]}" "${build_volumes[@]}" \
    --target builder --tag "$builder_tag" "$@" .
fi
timeout "$BUILD_TIMEOUT" "${engine_cmd[@]}" build "${args[@]}" "$@" .
if ((${#build_volumes[@]})); then
  # The layers stay in the build cache; only the helper tag goes.
  "${engine_cmd[@]}" untag "$builder_tag" >/dev/null
fi
log "built $IMAGE in $((SECONDS - start))s"
