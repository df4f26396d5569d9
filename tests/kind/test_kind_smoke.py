"""`make kind-smoke` for real: the kind binary (v0.33.0, built by ci/install-tools.sh) with its
podman provider creates a cluster from ci/kind-config.yaml on the node image
ci/kind/node-image.sh builds offline, `kind load image-archive` puts the app's image into the
node, and ci/smoke.sh runs its steps there: kubeadm's control plane, kind's kube-proxy and
Service networking, the node's containerd. Then the cluster is deleted, and the host must be
as it was found: no kind container, network or volume, no image of the run (the node image
stays cached), the kubelet's kernel settings back.

Nothing is mocked. The one node reports this machine's two CPUs, of which the control plane
requests 850m: the release's pods request 100m (`SMOKE_CPU_REQUEST`) instead of the prod
overlay's 250m, or a rollout's surge pod waits for a terminating pod's CPU, 10 s a pod. The
monitoring part is off (`SMOKE_MONITORING=0`): it would add minutes to `make test`.
Skipped only when told so: `KIND_SMOKE=0`, or
`CLUSTER_SMOKE=0`, which leaves unbuilt the test cluster's Kubernetes binaries the node image is
made of (the GitHub Actions `test` job: its runners are not root; its `kind-smoke` job runs the
same script with docker and kind's published node image).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster.cluster import CACHE, REPO_ROOT, host_state

pytestmark = pytest.mark.timeout(1200)

KIND_CLUSTER = "pytest-kind"


def podman_state() -> dict[str, str]:
    """What kind and the script could leave in podman: containers, networks, volumes, images."""

    def podman(*args: str) -> str:
        proc = subprocess.run(
            [str(REPO_ROOT / "ci" / "podman.sh"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return "\n".join(sorted(proc.stdout.splitlines()))

    return {
        "containers": podman("ps", "-a", "--format", "{{.Names}}"),
        "networks": podman("network", "ls", "--format", "{{.Name}}"),
        "volumes": podman("volume", "ls", "--format", "{{.Name}}"),
        "images": podman("images", "--format", "{{.Repository}}:{{.Tag}}"),
        "lib-modules": str(Path("/lib/modules").exists()),
    }


def test_kind_smoke_on_podman_offline(tmp_path: Path) -> None:
    for switch in ("KIND_SMOKE", "CLUSTER_SMOKE"):
        if os.environ.get(switch) == "0":
            pytest.skip(f"{switch}=0: the kind smoke test is switched off for this run")
    if os.geteuid() != 0:
        pytest.fail("kind's podman provider runs privileged node containers: root is needed")
    kind = CACHE / "bin" / "kind"
    if not kind.exists():
        pytest.fail(f"{kind} missing: ci/install-tools.sh did not build kind")
    if shutil.which("podman") is None:
        pytest.fail("podman not found: ci/install-tools.sh installs it")
    # The node image first (built once, cached), so that the host's state is recorded around
    # the cluster's run only.
    node_image = subprocess.run(
        [str(REPO_ROOT / "ci" / "kind" / "node-image.sh")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert node_image.returncode == 0, node_image.stderr[-5000:]
    before = {**host_state(), **podman_state()}

    times = tmp_path / "step-times.tsv"
    env = {
        **os.environ,
        "KIND_EXPERIMENTAL_PROVIDER": "podman",
        "KIND_OFFLINE": "1",
        "KIND_NODE_IMAGE": node_image.stdout.strip(),
        "KIND_CLUSTER": KIND_CLUSTER,
        "KIND_STEP_TIMES": str(times),
        "SMOKE_MONITORING": "0",
        "SMOKE_CPU_REQUEST": "100m",
    }
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO_ROOT / "ci" / "kind-smoke.sh")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    seconds = time.monotonic() - start
    out = proc.stdout + proc.stderr
    print(f"\nkind smoke run: {seconds:.0f}s\n" + (times.read_text() if times.exists() else ""))
    assert proc.returncode == 0, out[-8000:]
    assert "smoke test passed" in out
    assert "kind smoke test: passed" in out

    # kind made the cluster: its context, its node, kubeadm's control plane.
    assert f"cluster: context kind-{KIND_CLUSTER}, nodes" in out
    assert f"1 node(s): {KIND_CLUSTER}-control-plane" in out
    assert re.search(r"kind v0\.33\.0 .*provider podman", out)
    assert "kind load image-archive localhost/production-api:smoke" in out
    assert "every install and upgrade with resources.requests.cpu=100m" in out
    # The steps that need what one kind node lacks say so; the others ran.
    assert "PodSecurity admission refuses a non-restricted pod" in out
    assert "GET /items/42 -> 200" in out
    assert re.search(r"dependency down: 3 pods NotReady, 0 ready endpoints", out)
    assert "helm uninstall leaves nothing behind" in out
    loads = re.findall(r"^load (.+): requests=(\d+) failed=(\d+)$", proc.stdout, re.M)
    phases = [what for what, _, _ in loads]
    assert len(phases) == 3, phases
    assert phases[0].startswith("during the upgrades dev -> staging -> prod"), phases
    assert re.fullmatch(r"while pod production-api-\S+ was deleted", phases[1]), phases
    assert phases[2] == "during a rollout restart", phases
    for what, requests, failed in loads:
        assert int(requests) >= 20, (what, requests)
        assert failed == "0", (what, failed)

    after = {**host_state(), **podman_state()}
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, changed
