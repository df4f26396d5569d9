"""What the report says about where it ran: the machine, the software (every package of the
interpreter's environment, wrk), the load average, and the service image's size."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import interpreter_command

from tests.support.tools import find_tool


def interpreter_environment() -> str:
    """What `$VENV` stands for in the report (empty outside a venv)."""
    if sys.prefix == sys.base_prefix:
        return ""
    if os.environ.get("PY_VENV") and Path(os.environ["PY_VENV"]).resolve() == Path(sys.prefix):
        return (
            "`$VENV` is the project venv, made from `requirements-dev.lock` by "
            "`ci/install-tools.sh` (`${XDG_CACHE_HOME:-~/.cache}/production-api/venv`)"
        )
    return "`$VENV` is the venv the harness ran in (`BENCH_PYTHON`)"


def machine_info(out_dir: Path) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    fs = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        fs = subprocess.run(
            ["stat", "-f", "-c", "%T", str(out_dir)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "os": os_name,
        "kernel": platform.release(),
        "out_fs": fs,
    }


def versions(wrk: str) -> dict[str, Any]:
    pkgs = sorted(
        {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()},
        key=lambda kv: kv[0].lower(),
    )
    wrk_v = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    wrk_text = (wrk_v.stdout or wrk_v.stderr).strip()
    wrk_line = wrk_text.splitlines()[0] if wrk_text else "?"
    dpkg = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "wrk"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "python": sys.version.split()[0],
        "python_impl": platform.python_implementation(),
        "executable": sys.executable,
        "interpreter": interpreter_command(),
        "interpreter_env": interpreter_environment(),
        "packages": pkgs,
        "wrk": wrk_line.strip(),
        "wrk_deb": dpkg.stdout.strip() if dpkg.returncode == 0 else "",
    }


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _inspect(podman: str, ref: str) -> dict[str, Any] | None:
    res = subprocess.run(
        [podman, "image", "inspect", "--format", "{{.Size}} {{.Id}} {{.Created}}", ref],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if res.returncode != 0 or not res.stdout.strip():
        return None
    size, image_id, created = res.stdout.split(maxsplit=2)
    return {
        "status": "found",
        "ref": ref,
        "bytes": int(size),
        "id": image_id[:12],
        "created": created.strip(),
    }


def image_info(args: argparse.Namespace) -> dict[str, Any]:
    """Size of the service image if one was built here (`make image`, or the image tests).

    Only reads podman's local store; never builds. Falls back from `--image` to the newest
    other tag of the same repository (the image tests build `localhost/production-api:test`
    from the same Dockerfile), skipping build-stage tags.
    """
    podman = find_tool("podman")
    if not podman:
        return {"status": "not built: podman is not installed here"}
    found = _inspect(podman, args.image)
    if found:
        return found
    repo = args.image.rsplit(":", 1)[0]
    res = subprocess.run(
        [podman, "images", "--format", "{{.Repository}}:{{.Tag}}", repo],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    refs = [r for r in res.stdout.split() if r.startswith(repo + ":") and "builder" not in r]
    candidates = [f for f in (_inspect(podman, ref) for ref in refs) if f]
    if candidates:
        found = max(candidates, key=lambda f: f["created"])  # all in UTC: text order works
        found["note"] = f"{args.image} was not built; this is the newest {repo} image"
        return found
    return {"status": f"not built: no image {args.image} in podman's local store"}
