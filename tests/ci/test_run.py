"""`make run` (ci/run.sh) on a machine where nothing is cached yet.

ci/run.sh runs with PRODUCTION_API_CACHE pointing at an empty directory and without the project
venv on PATH, as on a fresh clone: it must create the runtime venv from requirements.lock
(pip, hash-checked), serve /health on the given port, and stop gracefully on SIGTERM. The
cache must then hold that venv and nothing of the test toolchain (no Helm, no project venv),
and a second run must reuse the venv instead of installing again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO_ROOT / "ci" / "run.sh"
# pip downloads ~20 wheels on the first run; measured at 8-10 s on 2 busy cores.
FIRST_RUN_TIMEOUT = 180.0
SECOND_RUN_TIMEOUT = 30.0


def lock_names(lock: Path) -> set[str]:
    return {
        normalize(m.group(1))
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(), re.M)
    }


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run_environment(cache: Path, port: int) -> dict[str, str]:
    """The caller's environment as a fresh shell would have it: no venv on PATH, none of the
    service's settings except PORT, the tool cache in `cache`."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "HOST"}
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin
    )
    env["PRODUCTION_API_CACHE"] = str(cache)
    env["PORT"] = str(port)
    env["SHUTDOWN_DRAIN_SECONDS"] = "0"
    return env


def serve(cache: Path, port: int, timeout: float) -> tuple[float, int, str]:
    """Runs ci/run.sh until /health answers 200, then SIGTERM by PID.

    Returns (seconds to the first 200, exit status, stderr).
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(RUN_SCRIPT)],
        cwd=REPO_ROOT,
        env=run_environment(cache, port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ci/run.sh exited with {proc.returncode}:\n{proc.stderr.read()}")
            if time.monotonic() - start > timeout:
                pytest.fail(f"ci/run.sh did not answer /health within {timeout:.0f} s")
            try:
                url = f"http://127.0.0.1:{port}/health"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        elapsed = time.monotonic() - start
        # ci/run.sh execs the interpreter, so the PID is the server's.
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        return elapsed, code, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_make_run_installs_only_the_runtime_venv_and_serves(tmp_path: Path, free_port: int) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()

    elapsed, code, stderr = serve(cache, free_port, FIRST_RUN_TIMEOUT)
    assert code == 0, stderr
    assert re.search(r"run-venv\s+requirements\.lock\s+installed", stderr), stderr

    # The cache holds the runtime venv and its bookkeeping, nothing of the test toolchain.
    assert sorted(p.name for p in cache.iterdir()) == [
        "logs",
        "run-venv",
        "run-venv.lock",
        "stamps",
    ]
    assert sorted(p.name for p in (cache / "stamps").iterdir()) == ["run-venv"]

    # Exactly the runtime lock is installed (plus what the venv module itself puts there).
    listed = subprocess.run(
        [
            str(cache / "run-venv" / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in "
            "m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {normalize(name) for name in listed.split()}
    wanted = lock_names(REPO_ROOT / "requirements.lock")
    assert wanted <= installed
    assert installed - wanted <= {"pip", "setuptools"}
    assert "pytest" not in installed

    second, code, stderr = serve(cache, free_port, SECOND_RUN_TIMEOUT)
    assert code == 0, stderr
    assert re.search(r"run-venv\s+requirements\.lock\s+already present", stderr), stderr
    assert second < elapsed
