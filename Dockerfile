# production-api container image.
#
#   docker build -t production-api:dev .          (or: make image)
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp production-api:dev
#
# Two stages: "builder" installs the hash-pinned runtime lock into a virtualenv; the final
# stage holds only that virtualenv and app/, runs as UID/GID 1001 and has no pip.

# Pinned to a patch release, fully qualified so that podman/buildah resolve it like docker.
# Override with --build-arg BASE_IMAGE=... (e.g. a mirror or a digest-pinned reference).
ARG BASE_IMAGE=docker.io/library/python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /build

# binutils for `strip`: the wheels' extension modules carry ~15 MB of debug information.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*

# Binary wheels only (no compiler needed); every file checked against the lock's sha256
# hashes. Then: debug information stripped, pip and setuptools removed from the virtualenv.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r requirements.lock \
 && /opt/venv/bin/pip check \
 && find /opt/venv -name '*.so' -exec strip --strip-debug {} + \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && rm -f /opt/venv/bin/activate*

# Bytecode is compiled here because the runtime root filesystem is read-only; at the same
# path as in the final stage, so tracebacks name the real files.
COPY app/ /srv/app/app/
RUN python -m compileall -q --invalidation-mode checked-hash /srv/app/app


FROM ${BASE_IMAGE} AS runtime

ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
ARG CREATED=""

LABEL org.opencontainers.image.title="production-api" \
      org.opencontainers.image.description="A production-grade FastAPI service with the Helm chart that deploys it." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# The runtime needs no package installer: drop the base image's pip, setuptools and wheel
# (when the base image has them).
RUN if python -m pip --version >/dev/null 2>&1; then \
      python -m pip uninstall --yes --disable-pip-version-check pip setuptools wheel; \
    fi \
 && rm -rf /root/.cache

ENV PATH="/opt/venv/bin:${PATH}" \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv/app /srv/app

WORKDIR /srv/app

# Numeric so that Kubernetes runAsNonRoot can verify it; files stay owned by root (read-only).
USER 1001:1001

EXPOSE 8080

# uvicorn drains and exits 0 on SIGTERM (see SHUTDOWN_DRAIN_SECONDS / SHUTDOWN_TIMEOUT_SECONDS).
STOPSIGNAL SIGTERM

# No curl in the image: the standard library checks /health on $PORT (non-2xx -> exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/health', timeout=4)"]

# Exec form: Python is PID 1 and receives SIGTERM directly.
ENTRYPOINT ["/opt/venv/bin/python", "-m", "app"]
