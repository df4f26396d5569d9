"""The container image, built from the repository's unchanged Dockerfile and run with podman.

No container registry is reachable where these tests run, so the base image is made locally
by `ci/base-image.sh` (Debian's Python 3.11 in a debootstrap root filesystem, cached) and
passed as the `BASE_IMAGE` build arg; set `IMAGE_TEST_BASE=registry` to build on the
Dockerfile's pinned `python:*-slim` base instead. Containers run the way the chart runs the
pod: read-only root filesystem, a tmpfs at /tmp, all capabilities dropped, no new privileges.

The image's size and build time are printed and written to `bench/out/image.json`.
A test is skipped only when podman itself cannot start any container on the host.

Over 250 lines because its tests share one image build (a module fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.appproc import free_port
from tests.support.tools import tool

REPO_ROOT = Path(__file__).resolve().parents[2]
PODMAN = str(REPO_ROOT / "ci" / "podman.sh")
IMAGE = os.environ.get("IMAGE_TEST_REF", "localhost/production-api:test")
LOCAL_BASE_REF = "localhost/production-api-base:py3.11-bookworm"
REPORT = REPO_ROOT / "bench" / "out" / "image.json"

# The image's size budget (bytes, as `podman image inspect` reports them): 150 MB until the
# authentication and rate-limiting libraries (cryptography 14.6 MB, redis 2 MB; docs/image.md).
SIZE_BUDGET_BYTES = 170_000_000
# Drain budget used by the SIGTERM test (the image's defaults are 5 s + 15 s).
DRAIN_SECONDS = 2.0
SHUTDOWN_TIMEOUT_SECONDS = 3.0
STOP_MARGIN_SECONDS = 10

pytestmark = pytest.mark.timeout(1800)


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run `ci/podman.sh ARGS` (podman with the host-compatible configuration)."""
    proc = subprocess.run(
        [PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} -> exit {proc.returncode}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        )
    return proc


def http_get(url: str, timeout: float = 5) -> tuple[int, str, dict[str, str]]:
    """GET url -> (status, body, headers); HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback URL)
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@dataclass
class Container:
    name: str
    base_url: str

    def logs(self) -> str:
        proc = podman("logs", self.name, timeout=30, check=False)
        return proc.stdout + proc.stderr

    def state(self) -> dict:
        out = podman("inspect", "--format", "{{json .State}}", self.name, timeout=30).stdout
        return json.loads(out)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                status, body, _ = http_get(self.base_url + "/health", timeout=2)
                if status == 200:
                    return
                last = f"{status} {body}"
            except OSError as exc:
                last = repr(exc)
            if not self.state().get("Running"):
                break
            time.sleep(0.3)
        raise AssertionError(f"/health did not answer 200 ({last}); logs:\n{self.logs()[-4000:]}")


def run_container(image: str, *, host_network: bool = False, **env: str) -> Container:
    """Start the image detached, as the chart runs it, published on a free loopback port (or,
    with `host_network`, listening on it in the host's network, to reach its loopback)."""
    name = f"production-api-test-{uuid.uuid4().hex[:10]}"
    port = free_port()
    network = (
        ["--network", "host", "--env", "HOST=127.0.0.1", "--env", f"PORT={port}"]
        if host_network
        else ["--publish", f"127.0.0.1:{port}:8080"]
    )
    args = [
        "run", "--detach", "--name", name,
        "--label", "production-api.test=1",
        "--read-only", "--read-only-tmpfs=false",
        "--tmpfs", "/tmp:rw,nosuid,nodev,size=16m,mode=1777",  # noqa: S108 (in the container)
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        # Keep the image's HEALTHCHECK, without the systemd timer podman would schedule.
        "--health-interval", "disable",
        *network,
    ]  # fmt: skip
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    podman(*args, image, timeout=120)
    return Container(name=name, base_url=f"http://127.0.0.1:{port}")


def remove_container(name: str) -> None:
    podman("rm", "--force", "--time", "0", name, timeout=60, check=False)


@pytest.fixture(scope="module")
def podman_ready() -> None:
    """podman is installed (else fail) and can start a container here (else skip)."""
    tool("podman")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60, check=False)
    if info.returncode != 0:
        reason = f"podman cannot run on this host: {info.stderr.strip()[-500:]}"
        print(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def image(podman_ready: None) -> str:
    """Build the image (base image cached across runs) and report its size."""
    env = dict(os.environ, IMAGE=IMAGE)
    timings: dict[str, float] = {}
    if os.environ.get("IMAGE_TEST_BASE", "local") == "local":
        env["BASE_IMAGE"] = LOCAL_BASE_REF
        start = time.monotonic()
        subprocess.run(
            [str(REPO_ROOT / "ci" / "base-image.sh")],
            env=dict(env, BASE_IMAGE_REF=LOCAL_BASE_REF),
            check=True,
            timeout=1200,
        )
        timings["base_image_seconds"] = round(time.monotonic() - start, 1)
    start = time.monotonic()
    subprocess.run(
        [str(REPO_ROOT / "ci" / "build-image.sh")],
        env=dict(env, CONTAINER_ENGINE="podman"),
        check=True,
        timeout=1500,
    )
    timings["build_seconds"] = round(time.monotonic() - start, 1)

    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    report = {
        "image": IMAGE,
        "base_image": env.get("BASE_IMAGE", "(Dockerfile default)"),
        "size_bytes": size,
        "size_mb": round(size / 1e6, 1),
        **timings,
    }
    print(f"\nimage {IMAGE}: {size / 1e6:.1f} MB; {timings}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    return IMAGE


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    """One running container shared by the read-only checks below."""
    ctr = run_container(image, APP_ENV="production", LOG_LEVEL="info")
    try:
        ctr.wait_healthy()
        yield ctr
    finally:
        remove_container(ctr.name)


def inspect_image(image: str) -> dict:
    return json.loads(podman("image", "inspect", image).stdout)[0]


def inspect_config(image: str) -> dict:
    return inspect_image(image)["Config"]


def healthcheck_test(image: str) -> list[str]:
    return inspect_image(image)["Healthcheck"]["Test"]


def test_image_metadata(image: str) -> None:
    config = inspect_config(image)
    assert config["User"] == "1001:1001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["/opt/venv/bin/python", "-m", "app"]
    assert config.get("StopSignal") in ("SIGTERM", "15")
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")

    labels = config["Labels"]
    version = (REPO_ROOT / "app" / "__init__.py").read_text().split('__version__ = "')[1]
    assert labels["org.opencontainers.image.version"] == version.split('"')[0]
    assert len(labels["org.opencontainers.image.revision"]) >= 7
    assert labels["org.opencontainers.image.created"]
    assert "org.opencontainers.image.source" in labels
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"

    test = healthcheck_test(image)
    assert test[0] == "CMD"
    assert "/health" in " ".join(test)
    assert "curl" not in " ".join(test)


def test_image_is_within_its_size_budget(image: str) -> None:
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    assert size <= SIZE_BUDGET_BYTES, f"{size / 1e6:.1f} MB"


# Start-up as `python -m app` does it, up to the point of serving, printing `python -v`'s
# record of where each module's code came from.
START_UP = """
from app.settings import load_settings
from app.main import create_app
from app.server import build_server
settings = load_settings()
build_server(create_app(settings), settings).config.load()
"""


@pytest.mark.parametrize("tracing", [False, True], ids=["tracing-off", "tracing-on"])
def test_start_up_loads_only_bytecode(image: str, tracing: bool) -> None:
    """The Dockerfile keeps bytecode only for what the service imports (see its warm-up run):
    nothing the service loads at start-up is compiled from source in the read-only image."""
    env = ["--env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9"] if tracing else []
    proc = podman(
        "run", "--rm", "--read-only", "--tmpfs", "/tmp", *env,  # noqa: S108 (in the container)
        "--entrypoint", "/opt/venv/bin/python", image, "-v", "-c", START_UP,
        timeout=120,
    )  # fmt: skip
    loaded = [
        line.split("code object from ", 1)[1]
        for line in proc.stderr.splitlines()
        if line.startswith("# code object from ") and ("/opt/venv/" in line or "/srv/app/" in line)
    ]
    assert len(loaded) > 200
    assert [path for path in loaded if "/__pycache__/" not in path] == []
    if tracing:
        assert any("/opentelemetry/sdk/" in path for path in loaded)


def test_exports_spans_from_the_container(image: str, collector: Any) -> None:
    ctr = run_container(
        image,
        host_network=True,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_RESOURCE_ATTRIBUTES="k8s.pod.name=api-0",
    )
    try:
        ctr.wait_healthy()
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        request = urllib.request.Request(  # noqa: S310 (loopback URL)
            ctr.base_url + "/items/3",
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 (loopback URL)
            assert resp.status == 200
        spans = collector.wait_for_spans(lambda span: span["traceId"] == trace_id)
        assert [span["name"] for span in spans] == ["GET /items/{item_id}"]
        assert spans[0]["resource"]["k8s.pod.name"] == "api-0"
        assert f'"trace_id":"{trace_id}"' in ctr.logs()
    finally:
        remove_container(ctr.name)


def test_image_holds_only_the_venv_and_app(container: Container) -> None:
    script = (
        "import importlib.util as u, os, json; print(json.dumps({"
        "'pip': u.find_spec('pip') is not None,"
        "'setuptools': u.find_spec('setuptools') is not None,"
        "'srv': sorted(os.listdir('/srv/app')),"
        "'bins': sorted(os.listdir('/opt/venv/bin')),"
        "'gcc': any(os.path.exists(p + '/gcc') for p in os.environ['PATH'].split(':'))}))"
    )
    out = json.loads(podman("exec", container.name, "python", "-c", script).stdout)
    assert out["pip"] is False, "pip is importable in the runtime image"
    assert out["setuptools"] is False
    assert out["srv"] == ["app"], "only app/ is copied into /srv/app (.dockerignore)"
    assert not any(b.startswith("pip") for b in out["bins"])
    assert out["gcc"] is False


def test_runs_as_uid_1001(container: Container) -> None:
    ids = podman("exec", container.name, "id", "-u").stdout.strip()
    gid = podman("exec", container.name, "id", "-g").stdout.strip()
    assert (ids, gid) == ("1001", "1001")
    # PID 1 is the service itself (exec-form entrypoint), not a shell.
    status = podman("exec", container.name, "cat", "/proc/1/status").stdout
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["1001"] * 4
    cmdline = podman("exec", container.name, "cat", "/proc/1/cmdline").stdout
    assert cmdline.split("\0")[:3] == ["/opt/venv/bin/python", "-m", "app"]


def test_root_filesystem_is_read_only_and_tmp_writable(container: Container) -> None:
    denied = podman("exec", container.name, "touch", "/srv/app/x", check=False)
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    podman("exec", container.name, "touch", "/tmp/x")  # noqa: S108 (in the container)


def test_serves_probes_and_metrics_read_only(container: Container) -> None:
    status, body, _ = http_get(container.base_url + "/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}

    status, body, _ = http_get(container.base_url + "/readiness")
    assert status == 200, body
    assert json.loads(body)["status"] == "ready"

    status, body, headers = http_get(container.base_url + "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert "http_requests_total" in body
    assert 'app_info{env="production"' in body
    assert 'endpoint="/health"' in body

    # Nothing in the logs complains about the read-only filesystem.
    logs = container.logs()
    assert "Read-only file system" not in logs
    assert "Traceback" not in logs


def test_healthcheck_command_succeeds(container: Container) -> None:
    proc = podman("healthcheck", "run", container.name, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_healthcheck_command_fails_when_nothing_listens(image: str, container: Container) -> None:
    """The same command exits non-zero when /health is not served (the check can fail)."""
    test = healthcheck_test(image)
    assert test[0] == "CMD"
    closed = podman("exec", "--env", "PORT=1", container.name, *test[1:], timeout=60, check=False)
    assert closed.returncode != 0
    ok = podman("exec", container.name, *test[1:], timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr


def test_sigterm_drains_then_exits_zero(image: str) -> None:
    ctr = run_container(
        image,
        SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
        SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_TIMEOUT_SECONDS),
    )
    try:
        ctr.wait_healthy()
        assert http_get(ctr.base_url + "/readiness")[0] == 200

        podman("kill", "--signal", "TERM", ctr.name, timeout=30)
        sent = time.monotonic()
        # During the drain the service still answers, readiness with 503.
        status, body, _ = http_get(ctr.base_url + "/readiness")
        assert status == 503, body
        assert json.loads(body)["reason"] == "shutting down"

        budget = DRAIN_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + STOP_MARGIN_SECONDS
        podman("wait", ctr.name, timeout=budget + 30)
        elapsed = time.monotonic() - sent
        state = ctr.state()
        print(f"\nexit {state['ExitCode']} {elapsed:.1f}s after SIGTERM (budget {budget:.0f}s)")
        assert state["ExitCode"] == 0, ctr.logs()[-4000:]
        assert not state.get("OOMKilled")
        assert elapsed < budget, "the process outlived its shutdown budget"
        assert "Traceback" not in ctr.logs()
    finally:
        remove_container(ctr.name)
