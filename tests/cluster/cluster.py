"""The test cluster as the cluster tests see it: its paths, commands run in its network
namespace, the host's state that it may change, and the smoke run's failure report."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("PRODUCTION_API_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "production-api"
)
# A cluster of its own, so that a developer's `KEEP_CLUSTER=1 make cluster-smoke` survives.
CLUSTER_NAME = "pytest"
STATE = CACHE / "cluster" / f"state-{CLUSTER_NAME}"
NETNS = f"pa-{CLUSTER_NAME}"
KUBECONFIG = STATE / "admin.kubeconfig"
CLUSTER_BIN = CACHE / "cluster" / "bin"
IMAGE = "production-api:dev"
NODES = ("pytest-control-plane", "pytest-worker", "pytest-worker2")
DAEMONS = (
    "etcd",
    "registry",
    "collector",
    "log-store",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    *(
        f"{d}-n{n}"
        for n in range(len(NODES))
        for d in ("logagent", "containerd", "kubelet", "kube-proxy")
    ),
    "coredns",
    "metrics-server",
)


def cluster_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CLUSTER_NAME": CLUSTER_NAME,
        "CLUSTER_NODES": str(len(NODES)),
        "CI": os.environ.get("CI", ""),
    }
    env.update(extra)
    return env


def run(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=REPO_ROOT,
        env=env or cluster_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def in_netns(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run(["nsenter", f"--net=/run/netns/{NETNS}", "--", *args], timeout=timeout)


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return in_netns(str(CLUSTER_BIN / "kubectl"), "--kubeconfig", str(KUBECONFIG), *args)


def cluster_processes() -> list[str]:
    """`pid cmdline` of every process whose command line names the cluster's state or binaries."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(STATE) in cmdline or str(CLUSTER_BIN) in cmdline:
            found.append(f"{proc.name} {cmdline.strip()}")
    return found


def _command(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)
    return proc.stdout + (f"\n(exit {proc.returncode}: {proc.stderr})" if proc.returncode else "")


def host_state() -> dict[str, str]:
    """What the cluster could change on the host, as comparable text per aspect."""
    sysctls = {}
    for key in (
        "kernel/panic",
        "kernel/panic_on_oops",
        "vm/overcommit_memory",
        "fs/inotify/max_user_instances",
        "net/ipv4/ip_forward",
        "net/ipv4/conf/all/route_localnet",
        "net/bridge/bridge-nf-call-iptables",
        "net/netfilter/nf_conntrack_max",
        "net/netfilter/nf_conntrack_tcp_timeout_established",
    ):
        path = Path("/proc/sys") / key
        sysctls[key] = path.read_text().strip() if path.exists() else "(absent)"

    def rules(text: str) -> str:
        # Without comments (timestamps) and packet counters.
        lines = (re.sub(r"\[\d+:\d+\]", "", line) for line in text.splitlines())
        return "\n".join(line for line in lines if not line.startswith("#"))

    cgroups = sorted(
        f"{hierarchy.name}/{child.name}"
        for hierarchy in Path("/sys/fs/cgroup").iterdir()
        if hierarchy.is_dir()
        for child in hierarchy.iterdir()
        if child.is_dir()
    )
    return {
        "sysctls": "\n".join(f"{k}={v}" for k, v in sysctls.items()),
        "iptables": rules(_command("iptables-save")),
        "ip6tables": rules(_command("ip6tables-save")),
        "links": re.sub(r"\s+link/.*", "", _command("ip", "-o", "link", "show")),
        "addresses": _command("ip", "-o", "addr", "show"),
        "routes": _command("ip", "route", "show", "table", "all"),
        "mounts": _command("findmnt", "-rn", "-o", "TARGET,FSTYPE"),
        "netns": _command("ip", "netns", "list"),
        "cgroups": "\n".join(cgroups),
        "dirs": "\n".join(
            f"{d} {Path(d).exists()}"
            for d in ("/run/netns", "/run/containerd", "/var/lib/cni", "/opt/containerd")
        ),
        "kubeconfig": _command("ls", "-la", str(Path.home() / ".kube")),
        "processes": "\n".join(cluster_processes()),
    }


def failure_report(output: str) -> str:
    """A failed smoke run's message, read top-down: the step that failed and its error (the
    run's own report block), the full log's path, then the end of the output (diagnostics)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"[a-z-]+: FAILED step: ", line)]
    report: list[str] = []
    if starts:
        for line in lines[starts[-1] :]:
            if not re.match(r"([a-z-]+: |    \| )", line):
                break
            report.append(line)
    else:
        report.append("(the run printed no failure report)")
    report += [line for line in lines if line.startswith("cluster-smoke: full log: ")][-1:]
    return "\n".join([*report, "--- the end of the output ---", output[-8000:]])


@dataclass
class SmokeRun:
    before: dict[str, str]
    proc: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr


def require_machine() -> None:
    """Fail (not skip) with the reason when this machine cannot run the cluster."""
    if os.environ.get("CLUSTER_SMOKE") == "0":
        pytest.skip("CLUSTER_SMOKE=0: the cluster smoke test is switched off for this run")
    if os.geteuid() != 0:
        pytest.fail("the test cluster needs root (network namespace, mounts, cgroups)")
    missing = [
        b for b in ("kubelet", "kube-apiserver", "kubectl") if not (CLUSTER_BIN / b).exists()
    ]
    if missing:
        pytest.fail(f"{missing} not in {CLUSTER_BIN}: ci/install-tools.sh did not build them")
    if "overlay" not in Path("/proc/filesystems").read_text():
        pytest.fail("the kernel has no overlay filesystem: containerd cannot run pods")
