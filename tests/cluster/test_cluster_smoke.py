"""The chart on a real three-node Kubernetes cluster: `make cluster-smoke`, for real.
(One module over 250 lines: its tests share one cluster run and must run in file order, the
teardown check last.)

`ci/cluster/up.sh` starts etcd, the control plane, CoreDNS and metrics-server, and on each of
three nodes (a network namespace each) containerd, a kubelet and kube-proxy; the image is
built with podman and pulled by the nodes from the cluster's registry, and `ci/smoke.sh` (the
same script kind users run) installs, tests, upgrades, rolls back and uninstalls the chart with
real pods, real probes and real rollouts, drains a node and loses one under load, and watches
the HPA scale on real CPU. The cluster
is kept (`KEEP_CLUSTER=1`) for the tests after the smoke run: two failing smoke runs, recovery
from a run killed without its teardown, and the teardown itself, which must leave the host as
it was found (sysctls, iptables, links, routes, mounts, cgroups, network namespaces,
directories, processes).

Nothing is mocked. The machine must be able to run the cluster (root, the kernel's overlay
filesystem and bridge, the tools from `ci/install-tools.sh`); when it cannot, these tests fail
with the reason. They are skipped only when told so: `CLUSTER_SMOKE=0` (the GitHub Actions
`test` job, whose runners are not root; its `kind-smoke` job runs the same ci/smoke.sh).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.cluster import (
    CACHE,
    CLUSTER_BIN,
    DAEMONS,
    IMAGE,
    KUBECONFIG,
    NETNS,
    NODES,
    REPO_ROOT,
    STATE,
    SmokeRun,
    _command,
    cluster_env,
    failure_report,
    host_state,
    in_netns,
    kubectl,
    require_machine,
    run,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def smoke() -> Iterator[SmokeRun]:
    """`KEEP_CLUSTER=1 make cluster-smoke`, with the host's state recorded before it."""
    require_machine()
    # The image first: podman's own build networking is not the cluster's to restore.
    build = run(
        [str(REPO_ROOT / "ci" / "build-image.sh")],
        timeout=1500,
        env=cluster_env(IMAGE=IMAGE, LOCAL_BASE="1", CONTAINER_ENGINE="podman"),
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    before = host_state()
    start = time.monotonic()
    proc = run(["make", "cluster-smoke"], timeout=1200, env=cluster_env(KEEP_CLUSTER="1"))
    seconds = time.monotonic() - start
    print(f"\ncluster smoke run: {seconds:.0f}s\n{proc.stderr[-6000:]}")
    try:
        yield SmokeRun(before, proc, seconds)
    finally:
        run([str(REPO_ROOT / "ci" / "cluster" / "down.sh")], timeout=300)


def test_cluster_smoke_passes(smoke: SmokeRun) -> None:
    assert smoke.proc.returncode == 0, failure_report(smoke.output)
    assert "smoke test passed" in smoke.output
    # Every load phase sent requests and none failed, but the one that lost a node.
    loads = re.findall(r"^load (.+): requests=(\d+) failed=(\d+)$", smoke.proc.stdout, re.M)
    phases = [re.sub(r"production-api-\S+|pytest-worker\d?", "X", what) for what, _, _ in loads]
    assert phases == [
        phases[0],
        "while pod X was deleted",
        "during the drain of X",
        "during a rollout restart",
        "while node X was lost",
        "while the HPA scaled out (1 of 2)",
        "while the HPA scaled out (2 of 2)",
        "through the HTTPS edge (Ingress and Gateway) during an upgrade replacing every pod",
        "during Helm 4's upgrade and rollback of a Helm 3 release",
    ], phases
    assert phases[0].startswith("during the upgrades dev -> staging -> prod"), phases[0]
    for what, requests, failed in loads:
        assert int(requests) >= 20, (what, requests)
        if "was lost" not in what:
            assert failed == "0", (what, failed)
    # The kept cluster is named for the user.
    assert f"KUBECONFIG={KUBECONFIG}" in smoke.proc.stdout
    assert f"CLUSTER_NETNS={NETNS}" in smoke.proc.stdout


def test_smoke_proved_each_step(smoke: SmokeRun) -> None:
    """The steps the smoke script claims are in its log, with what they measured."""
    out = smoke.output
    assert "PodSecurity admission refuses a non-restricted pod" in out
    for overlay in ("values-dev", "values-staging", "values-prod", "ci/all-on-values"):
        assert re.search(rf"{re.escape(overlay)}\.yaml: accepted: .*Deployment", out), overlay
    assert "ServiceMonitor" in out
    assert "PrometheusRule" in out
    assert "GET /items/42 -> 200" in out
    assert re.search(r"dependency down: \d+ pods NotReady, 0 ready endpoints", out)
    assert re.search(r"dependency back: \d+ ready endpoints", out)
    assert "helm uninstall leaves nothing behind" in out
    # One request with a traceparent through the Service: its server span, from a pod.
    assert re.search(
        r"tracing: span 'GET /items/\{item_id\}' of trace [0-9a-f]{32} from pod production-api-",
        out,
    )


def test_smoke_found_the_pods_lines_in_the_log_store(smoke: SmokeRun) -> None:
    """Every node's log agent sent its pods' lines to VictoriaLogs: the traced request's access
    line found by its trace id with its fields and pod, exactly one line per request id, a line
    the runtime split (over 16 KiB) and a traceback each as one record, and as many access lines
    stored as the load client received responses while a pod was deleted."""
    out = smoke.output
    traced = re.search(
        r"logs: trace ([0-9a-f]{32}) -> access line 'GET /items/7 200' from pod "
        r"(production-api-\S+) \(namespace production-api-smoke, node pytest-\S+\): level=info"
        r" status=200 duration_ms=[0-9.]+ path=/items/7 route=/items/\{item_id\}"
        r" request_id=([0-9a-f]{32})"
        r" span_id=[0-9a-f]{16}",
        out,
    )
    assert traced, "no access line found by trace id"
    assert re.search(
        rf"tracing: span 'GET /items/\{{item_id\}}' of trace {traced[1]} from pod {traced[2]}", out
    ), "the access line and the span name different pods or traces"
    assert re.search(
        rf"logs: request id {traced[3]} -> exactly one access line, .* of that trace", out
    )
    long_line = re.search(
        r"logs: a (\d+)-byte record \(client field (\d+) bytes\) for request id smoke-long-\w+: "
        r"one record, .*; the runtime wrote it as (\d+) parts \(((?:P )+F)\)",
        out,
    )
    assert long_line, "no record of the line over 16 KiB (or the runtime did not split it)"
    assert int(long_line[2]) >= 20000, long_line[0]
    assert int(long_line[3]) >= 2, long_line[0]
    traceback = re.search(
        r"logs: a traceback of (\d+) lines \((\d+) frames, \d+ bytes\) as one record: "
        r"level=error logger=app.error .*; "
        r"the pod wrote 1 line\(s\), the store holds 1 record\(s\)",
        out,
    )
    assert traceback, "no traceback stored as one record"
    assert int(traceback[2]) >= 3, traceback[0]
    window = re.search(
        r"logs: the client received (\d+) responses, the store holds (\d+) access lines for them "
        r"\(from (\d+) pods; deleted pod (\S+): (\d+), and its last line 'Finished server process",
        out,
    )
    assert window, "no count of the deleted pod's window"
    assert window[1] == window[2], window[0]
    assert int(window[1]) >= 20, window[0]
    # The deleted pod served a share of the load (3 s of it before the deletion).
    assert int(window[5]) >= 5, window[0]


def test_smoke_proved_the_tls_edge(smoke: SmokeRun) -> None:
    """Traefik (built from ci/traefik) served the release over HTTPS through its Ingress and
    its Gateway API HTTPRoute, with the test leaf; plain HTTP, unknown hosts and unrouted paths
    got the controller's answers, not the app's; the upgrade under load through that edge
    failed nothing (test_cluster_smoke_passes)."""
    out = smoke.output
    assert re.search(r"edge: Traefik v3\.6\.\d+ on \S+ at 10\.96\.\d+\.\d+ .*restricted", out)
    assert "GatewayClass traefik Accepted, Gateway edge Programmed" in out
    assert re.search(r"gateway: \S+ and \S+-https-redirect Accepted, ResolvedRefs", out)
    for host in ("ingress.production-api.test", "gateway.production-api.test"):
        for path in ("/", "/health", "/items/42"):
            assert f"GET https://{host}{path} -> 200" in out, (host, path)
        assert f"GET https://{host}/metrics -> 404" in out, host
        assert f"{host}: the test leaf served (verified against the test CA)" in out, host
    assert re.search(
        r"edge: 6 HTTPS requests answered 200 by the app through the Ingress and the Gateway",
        out,
    )
    assert (
        "plain HTTP: gateway.production-api.test -> 301 "
        "https://gateway.production-api.test/items/42 (the chart's redirect route)"
    ) in out
    assert "plain HTTP: ingress.production-api.test -> the controller's 404" in out
    assert "unknown host and unrouted path: the controller's 404, not the app's" in out
    assert re.search(r"edge: every pod replaced \(\d+ before, \d+ after\) behind the edge", out)


def test_smoke_installed_released_charts_by_digest(smoke: SmokeRun) -> None:
    """The previous release, then the new one, from the cluster's OCI registry: the pods ran
    exactly the pushed digests, and the upgrade between them under load failed nothing."""
    out = smoke.output
    previous, _ = run([str(REPO_ROOT / "ci" / "version.sh"), "previous"], 30).stdout.split()
    current = run([str(REPO_ROOT / "ci" / "version.sh"), "current"], 30).stdout.strip()
    assert previous != current
    published = dict(
        re.findall(
            r"published production-api (\S+): oci://10\.88\.0\.1:5000/charts/production-api:\S+, "
            r"10\.88\.0\.1:5000/production-api@(sha256:[0-9a-f]{64})",
            out,
        )
    )
    assert set(published) == {previous, current}, published
    assert published[previous] != published[current]
    for version, digest in published.items():
        assert (
            f"production-api-{version}: every pod runs 10.88.0.1:5000/production-api@{digest}"
            in out
        )
    assert f"helm install (dev overlay), release {previous}" in out
    assert re.search(
        rf"^load during the upgrades .*\(release {re.escape(previous)} -> {re.escape(current)}\): "
        r"requests=\d+ failed=0$",
        smoke.proc.stdout,
        re.M,
    )


def test_smoke_proved_scraping_through_the_real_operator(smoke: SmokeRun) -> None:
    """The Prometheus Operator's own Prometheus scraped the release: targets after every
    install and upgrade, the series, every dashboard/rule query, and a real alert."""
    out = smoke.output
    assert re.search(r"Prometheus Operator v[\d.]+ and Prometheus v[\d.]+ ready", out)
    targets = re.findall(
        r"prometheus: (\d+) targets up, found by Kubernetes service discovery "
        r"\(serviceMonitor/production-api-smoke/production-api/0\), labels (.*);",
        out,
    )
    # dev (1 pod), staging (2), prod (3), prod after the alert test, the kept release (3).
    assert [int(n) for n, _ in targets] == [1, 2, 3, 3, 3], targets
    for _, labels in targets:
        for label in ("'namespace'", "'service'", "'pod'", "'job'"):
            assert label in labels
        assert "'endpoint'" not in labels
    assert re.search(r"http_requests_total\{endpoint='/items/\{item_id\}'\} = [1-9]\d*", out)
    assert re.search(
        r"prometheus: \d+ dashboard and rule queries evaluate; rule groups loaded", out
    )
    states = re.findall(r"alert ProductionApiTargetMissing (firing|inactive) after", out)
    assert states == ["inactive", "firing", "inactive"], states


def test_smoke_proved_what_more_nodes_make_real(smoke: SmokeRun) -> None:
    """Spread, a drain held by the PodDisruptionBudget, a node lost and replaced within the prod
    overlay's toleration seconds, and the HPA scaling out on metrics-server's readings and back
    (its count kept through a helm upgrade)."""
    out = smoke.output
    assert re.search(rf"{len(NODES)} node\(s\): {' '.join(NODES)}; ", out), out[-3000:]
    spread = re.search(r"spread: 3 pods on (\d) nodes", out)
    assert spread, out[-3000:]
    assert int(spread[1]) >= 2, spread[0]
    drain = re.search(
        r"drain of (pytest-worker2?) \((\d) pods\): \d+s; ready endpoints never below (\d+) in "
        r"(\d+) samples \(minAvailable 2\)",
        out,
    )
    assert drain, out[-3000:]
    pods_drained, lowest, samples = (int(drain[i]) for i in (2, 3, 4))
    assert pods_drained >= 1, drain[0]
    assert lowest >= 2, drain[0]
    assert samples >= 5, drain[0]
    lost = re.search(
        r"node lost: (pytest-worker2?) \((\d) pods\) stopped; NotReady after (\d+)s, its pods out "
        r"of the endpoints after (\d+)s, replacements Ready after (\d+)s \(tolerationSeconds 30\)",
        out,
    )
    assert lost, out[-3000:]
    not_ready, out_of_endpoints, replaced = (int(lost[i]) for i in (3, 4, 5))
    assert not_ready <= out_of_endpoints <= replaced, lost.groups()
    # The prod overlay's 30 s, not the cluster's default 300 s, after the node was marked.
    assert replaced <= out_of_endpoints + 30 + 60, lost.groups()
    assert re.search(r"the node rejoined", out)
    hpa = re.search(
        r"hpa: CPU (\d+)% idle \(target 50%\), memory (\d+)% \(target 80%\); under load up to "
        r"(\d+)%, \"New size: \d+; reason: cpu resource utilization \(percentage of request\) "
        r"above target\": 3 -> (\d+) pods on (\d) nodes in \d+s, still (\d+) after a helm "
        r"upgrade; back to 3 \d+s after the load stopped",
        out,
    )
    assert hpa, out[-3000:]
    idle, memory, peak, scaled_to, on_nodes, after_upgrade = (int(g) for g in hpa.groups())
    assert 0 < memory < 80, hpa[0]
    assert peak > idle, hpa[0]
    assert scaled_to > 3, hpa[0]
    assert on_nodes >= 2, hpa[0]
    assert after_upgrade >= scaled_to, hpa[0]


def test_smoke_ran_on_helm_4_and_moved_a_helm_3_release(smoke: SmokeRun) -> None:
    """Helm 4 is the smoke test's `helm`; a release installed and upgraded by Helm 3 was
    upgraded and rolled back by Helm 4 under load (the load phase above: 0 failed), and both
    read the same history."""
    out = smoke.output
    assert re.search(r"^==> helm v4\.\d+\.\d+$", out, re.M), out[:3000]
    assert re.search(r"helm v3\.\d+\.\d+: installed \(dev\) and upgraded \(staging\)", out)
    assert re.search(
        r"helm v4\.\d+\.\d+: upgraded the Helm 3 release \(prod\) and rolled it back \(staging\) "
        r"under load; history 1:superseded 2:superseded 3:superseded 4:deployed in both",
        out,
    ), out[-3000:]


def test_smoke_keeps_its_whole_output_and_step_times(smoke: SmokeRun) -> None:
    """The run's output is in the state directory, whole, with every step's seconds."""
    log = STATE / "smoke.log"
    assert f"cluster-smoke: full log: {log}" not in smoke.output  # printed on failure only
    kept = log.read_text()
    for line in ("==> helm test", "smoke test passed", "cluster smoke test: passed"):
        assert line in kept, line
    steps = [line.split("\t", 1) for line in (STATE / "step-times.tsv").read_text().splitlines()]
    names = [name for _, name in steps]
    for name in ("cluster up (ci/cluster/up.sh)", "helm test", "ci/smoke.sh", "done"):
        assert name in names, names
    assert all(seconds.isdigit() for seconds, _ in steps), steps


def test_kept_cluster_keeps_the_release_running(smoke: SmokeRun) -> None:
    """KEEP_CLUSTER=1: after its uninstall was proven, the release is installed again (prod
    overlay, the released chart) and left Ready, scraped by the kept Prometheus."""
    assert smoke.proc.returncode == 0, "the smoke run failed"
    assert "helm uninstall leaves nothing behind" in smoke.output
    deployment = kubectl(
        "get",
        "deployments",
        "-n",
        "production-api-smoke",
        "-l",
        "app.kubernetes.io/instance=production-api",
        "-o",
        "jsonpath={.items[0].spec.replicas} {.items[0].status.readyReplicas} "
        "{.items[0].metadata.labels.helm\\.sh/chart}",
    )
    assert deployment.returncode == 0, deployment.stderr
    current = run([str(REPO_ROOT / "ci" / "version.sh"), "current"], 30).stdout.strip()
    assert deployment.stdout.split() == ["3", "3", f"production-api-{current}"], deployment.stdout
    env = kubectl(
        "get",
        "deployments",
        "-n",
        "production-api-smoke",
        "-o",
        "jsonpath={.items[0].spec.template.spec.containers[0].env[?(@.name=='APP_ENV')].value}",
    )
    assert env.stdout == "production", env.stdout + env.stderr
    prometheus = kubectl("get", "pods", "-n", "monitoring", "--no-headers")
    assert prometheus.returncode == 0, prometheus.stderr
    assert " Running " in prometheus.stdout, prometheus.stdout


@dataclass
class FailedRun:
    proc: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr


@pytest.fixture(scope="module")
def failed_runs(smoke: SmokeRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, FailedRun]:
    """Two smoke runs that must fail, at the same time on the kept cluster, each with a
    release and namespace of its own (together they take as long as the slower one):

    - `broken`: the checkout's chart with its `helm test` pod broken on purpose (it exits 1);
    - `missing-image`: a release whose image does not exist on the nodes.
    """
    assert smoke.proc.returncode == 0, "the smoke run failed"
    work = tmp_path_factory.mktemp("failed-runs")
    chart = work / "production-api"
    subprocess.run(
        ["cp", "-r", str(REPO_ROOT / "charts" / "production-api"), str(chart)], check=True
    )
    test_pod = chart / "templates" / "tests" / "test-connection.yaml"
    text = test_pod.read_text()
    marker = "          import os, sys, time, urllib.request\n"
    assert marker in text
    test_pod.write_text(
        text.replace(marker, marker + "          sys.exit('broken on purpose')\n", 1)
    )
    current = run([str(REPO_ROOT / "ci" / "version.sh"), "current"], 30).stdout.strip()
    common = {
        "KUBECONFIG": str(KUBECONFIG),
        "PATH": f"{CLUSTER_BIN}:{os.environ['PATH']}",
        "SMOKE_MONITORING": "0",
        "PROM_CRDS": str(next((CACHE / "schemas").glob("prometheus-operator-*"))),
        "GATEWAY_CRDS": str(next((CACHE / "schemas").glob("gateway-api-*"))),
    }
    runs = {
        "broken": cluster_env(
            **common,
            CHART=str(chart),
            RELEASE="broken",
            NAMESPACE="smoke-broken",
            IMAGE_REPOSITORY="10.88.0.1:5000/production-api",
            IMAGE_TAG=current,
            HELM_TIMEOUT="60s",
        ),
        "missing-image": cluster_env(
            **common,
            RELEASE="negative",
            NAMESPACE="smoke-negative",
            IMAGE_REPOSITORY="localhost/production-api",
            IMAGE_TAG="does-not-exist",
            IMAGE_PULL_POLICY="Never",
            HELM_TIMEOUT="20s",
        ),
    }
    smoke_sh = ["nsenter", f"--net=/run/netns/{NETNS}", "--", str(REPO_ROOT / "ci" / "smoke.sh")]
    started = {}
    for name, env in runs.items():
        # Output to files, not pipes: neither run may block on a pipe the other's wait leaves
        # unread.
        out = (work / f"{name}.out").open("w+")
        err = (work / f"{name}.err").open("w+")
        proc = subprocess.Popen(smoke_sh, cwd=REPO_ROOT, env=env, stdout=out, stderr=err, text=True)
        started[name] = (proc, out, err, time.monotonic())
    results = {}
    for name, (proc, out, err, start) in started.items():
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        completed = subprocess.CompletedProcess(smoke_sh, proc.returncode, out.read(), err.read())
        out.close()
        err.close()
        results[name] = FailedRun(completed, seconds)
    return results


def test_a_broken_step_names_itself_first(failed_runs: dict[str, FailedRun]) -> None:
    """A `helm test` pod that exits 1: the failure message's first line names that step, the
    second its error, and the test pod's own output follows."""
    failed = failed_runs["broken"]
    out = failed.output
    assert failed.proc.returncode != 0, out[-5000:]
    message = failure_report(out).splitlines()
    assert message[0] == "smoke: FAILED step: helm test", message[:5]
    assert message[1] == "smoke: error: helm test failed", message[:5]
    assert any("broken on purpose" in line for line in message[2:15]), message[:15]


def test_smoke_fails_fast_with_diagnostics_on_a_missing_image(
    failed_runs: dict[str, FailedRun],
) -> None:
    """A release whose image does not exist: the smoke test fails within its Helm timeout
    and prints what a user needs (events, describe, logs), instead of hanging."""
    failed = failed_runs["missing-image"]
    out = failed.output
    assert failed.proc.returncode != 0, out[-5000:]
    assert failed.seconds < 180, f"took {failed.seconds:.0f}s"
    assert "smoke: failed during: helm install (dev overlay)" in out, out[-5000:]
    assert "diagnostics" in out
    assert "ErrImageNeverPull" in out, out[-8000:]
    # The failed release was cleaned up.
    left = kubectl("get", "namespace", "smoke-negative", "-o", "jsonpath={.status.phase}")
    assert left.returncode != 0 or left.stdout == "Terminating", left.stdout


def test_kept_cluster_has_three_nodes_and_resource_metrics(smoke: SmokeRun) -> None:
    """Three Ready nodes, each at its own address; `kubectl top` reads metrics-server, which
    reads every kubelet over verified TLS, through the API server's aggregation layer."""
    assert smoke.proc.returncode == 0, "the smoke run failed"
    nodes = kubectl(
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.addresses[0].address} "
        "{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
    )
    assert nodes.returncode == 0, nodes.stderr
    assert nodes.stdout.split("\n")[:3] == [
        f"{name} 10.88.{n}.1 True" for n, name in enumerate(NODES)
    ], nodes.stdout
    top_nodes = kubectl("top", "nodes", "--no-headers")
    assert top_nodes.returncode == 0, top_nodes.stderr
    assert sorted(line.split()[0] for line in top_nodes.stdout.splitlines()) == sorted(NODES)

    # The kept release's pods are new: metrics-server has them after its first scrapes.
    def top_pods_of_release() -> str:
        top = kubectl("top", "pods", "-n", "production-api-smoke", "--no-headers")
        return top.stdout if top.returncode == 0 and len(top.stdout.splitlines()) == 3 else ""

    top_pods = wait_for("kubectl top pods of the kept release", top_pods_of_release, 90, 5)
    assert all(line.split()[1].endswith("m") for line in top_pods.splitlines()), top_pods
    apiservice = kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "yaml").stdout
    assert "insecureSkipTLSVerify" not in apiservice
    assert "caBundle" in apiservice
    args = Path(f"/proc/{(STATE / 'pids' / 'metrics-server.pid').read_text().strip()}/cmdline")
    assert b"--kubelet-insecure-tls" not in args.read_bytes()


def test_cluster_lives_in_its_own_network_namespace(smoke: SmokeRun) -> None:
    assert smoke.proc.returncode == 0, "the smoke run failed"
    nodes = kubectl("get", "nodes", "-o", "wide")
    assert nodes.returncode == 0, nodes.stderr
    assert " Ready " in nodes.stdout, nodes.stdout
    assert "10.88.0.1" in nodes.stdout, nodes.stdout
    # The pod bridge kept the MAC address it was given while pods came and went (an unset one
    # follows its ports, and the pods' ARP entries for their gateway then go dead).
    given = re.search(r"pod bridge pa-br0, 10\.88\.0\.1, MAC ([0-9a-f:]{17})", smoke.output)
    assert given, "up.sh did not log the bridge's MAC address"
    bridge = in_netns("ip", "-o", "link", "show", "pa-br0").stdout
    assert f"link/ether {given[1]} " in bridge, bridge
    # The node's address exists only inside the namespace.
    assert "10.88.0.1" not in _command("ip", "-o", "addr", "show")
    assert "10.88.0.1" in in_netns("ip", "-o", "addr", "show").stdout
    # While it runs, the host-state snapshot sees the kubelet's global sysctls and the pods'
    # mounts: the comparison after the teardown is not blind to them.
    running = host_state()
    assert running["sysctls"] != smoke.before["sysctls"]
    assert running["mounts"] != smoke.before["mounts"]
    for netns in (NETNS, f"{NETNS}-n1", f"{NETNS}-n2", f"{NETNS}-links"):
        assert re.search(rf"^{re.escape(netns)}\b", running["netns"], re.M), running["netns"]
    # The user's kubeconfig was not touched.
    assert running["kubeconfig"] == smoke.before["kubeconfig"]


def test_up_clears_a_run_killed_without_teardown(smoke: SmokeRun) -> None:
    """SIGKILL every daemon (a CI job killed outright): the next up.sh still comes up."""
    assert smoke.proc.returncode == 0, "the smoke run failed"
    for name in DAEMONS:
        pid_file = STATE / "pids" / f"{name}.pid"
        assert pid_file.exists(), name
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    time.sleep(1)
    proc = run([str(REPO_ROOT / "ci" / "cluster" / "up.sh")], timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert f"KUBECONFIG={KUBECONFIG}" in proc.stdout
    nodes = kubectl("get", "nodes", "--no-headers")
    assert " Ready " in nodes.stdout, nodes.stdout + nodes.stderr
    # The earlier run's namespaces and pods are gone: it is a new cluster.
    namespaces = kubectl("get", "namespaces", "-o", "name").stdout
    assert "production-api-smoke" not in namespaces


def test_down_restores_the_host(smoke: SmokeRun) -> None:
    down = [str(REPO_ROOT / "ci" / "cluster" / "down.sh")]
    first = run(down, timeout=300)
    assert first.returncode == 0, first.stderr
    second = run(down, timeout=300)
    assert second.returncode == 0, second.stderr
    after = host_state()
    changed = {
        aspect: (smoke.before[aspect], after[aspect])
        for aspect in smoke.before
        if smoke.before[aspect] != after[aspect]
    }
    assert not changed, "\n\n".join(
        f"{aspect} changed:\n--- before\n{b}\n--- after\n{a}" for aspect, (b, a) in changed.items()
    )
