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

# binutils for `strip`: the wheels' extension modules carry ~15 MB of debug information;
# curl for the warm-up run below.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends binutils curl \
 && rm -rf /var/lib/apt/lists/*

# Binary wheels only (no compiler needed); every file checked against the lock's sha256
# hashes. Then: debug information stripped, files Python never reads at run time (type stubs,
# Cython and C sources, .proto schemas, wheels' own tests) deleted, pip and setuptools removed
# from the virtualenv. No bytecode yet: see below.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile --require-hashes --only-binary=:all: \
      -r requirements.lock \
 && /opt/venv/bin/pip check \
 && find /opt/venv -name '*.so' -exec strip --strip-debug {} + \
 && find /opt/venv/lib \( -name '*.pyi' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \
      -o -name '*.c' -o -name '*.h' -o -name '*.proto' \) -delete \
 && rm -rf /opt/venv/lib/python3*/site-packages/certifi/tests \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && rm -f /opt/venv/bin/activate*

# Bytecode is compiled here because the runtime root filesystem is read-only; at the same
# path as in the final stage, so tracebacks name the real files.
COPY app/ /srv/app/app/
RUN python -m compileall -q --invalidation-mode checked-hash /srv/app/app

# Bytecode for the dependencies' modules that the service imports, and only those: it runs
# here once, tracing on (towards a port where nothing listens), answers each kind of request
# and stops; Python writes the bytecode of every module it loaded. The rest (fallbacks, unused
# subpackages: about a third of the dependencies' code) keeps its source only and would be
# compiled in memory if ever imported. This keeps the image within its 150 MB budget.
# (DL3001: `kill` stops that run, here in the build, not a container's service.)
WORKDIR /srv/app
# hadolint ignore=DL3001
RUN HOST=127.0.0.1 PORT=8080 SHUTDOWN_DRAIN_SECONDS=0 OTEL_BSP_SCHEDULE_DELAY=100 \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 OTEL_EXPORTER_OTLP_TIMEOUT=500 \
      /opt/venv/bin/python -m app >/tmp/warm-up.log 2>&1 & app=$!; \
    for _ in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:8080/health && break; sleep 0.1; done; \
    for path in / /items/1 /items/x /nowhere /readiness /metrics /docs /redoc /openapi.json; do \
      curl -s -o /dev/null -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
        "http://127.0.0.1:8080$path"; \
    done; \
    curl -s -o /dev/null -H 'Accept: application/openmetrics-text' http://127.0.0.1:8080/metrics; \
    sleep 1; kill -TERM "$app"; \
    if ! wait "$app" || ! grep -q '"tracing stopped"' /tmp/warm-up.log; then \
      cat /tmp/warm-up.log; exit 1; \
    fi; \
    rm /tmp/warm-up.log


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
