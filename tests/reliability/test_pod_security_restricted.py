"""Pod Security Standard "restricted", asserted field by field on every rendered pod spec.

Covers the defaults and every environment overlay, hooks included (the `helm test` pod).
The fields follow the Kubernetes Pod Security Standards page (restricted profile, which
includes the baseline one).
"""

from __future__ import annotations

import pytest

from ._support.chart import pod_specs, render, values_sets

# Baseline + restricted: volume types a restricted pod may use.
ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def violations(spec: dict, meta: dict) -> tuple[list[str], int]:
    """Every restricted-profile violation of one pod spec, and the number of fields checked."""
    found: list[str] = []
    checked = 0

    def check(ok: bool, what: str) -> None:
        nonlocal checked
        checked += 1
        if not ok:
            found.append(what)

    pod_sc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        check(not spec.get(field, False), f"spec.{field} must be unset or false")
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        check(kinds <= ALLOWED_VOLUMES, f"volume {vol['name']} uses {sorted(kinds)}")
    check(pod_sc.get("runAsUser", 1) != 0, "pod runAsUser must not be 0")
    check(pod_sc.get("runAsNonRoot", None) is not False, "pod runAsNonRoot must not be false")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    check(pod_seccomp in {None, "RuntimeDefault", "Localhost"}, f"pod seccomp {pod_seccomp}")
    pod_selinux = pod_sc.get("seLinuxOptions") or {}
    check(pod_selinux.get("type", "") in SELINUX_TYPES, "pod seLinuxOptions.type")
    check(not {"user", "role"} & set(pod_selinux), "pod seLinuxOptions user/role")
    for sysctl in pod_sc.get("sysctls") or []:
        check(sysctl["name"] in SAFE_SYSCTLS, f"unsafe sysctl {sysctl['name']}")
    check(not (pod_sc.get("windowsOptions") or {}).get("hostProcess", False), "pod hostProcess")
    pod_apparmor = (pod_sc.get("appArmorProfile") or {}).get("type")
    check(pod_apparmor in {None, "RuntimeDefault", "Localhost"}, "pod appArmorProfile")
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            check(value == "runtime/default" or value.startswith("localhost/"), key)

    containers = [
        *(("container", c) for c in spec.get("containers") or []),
        *(("initContainer", c) for c in spec.get("initContainers") or []),
        *(("ephemeralContainer", c) for c in spec.get("ephemeralContainers") or []),
    ]
    check(bool(spec.get("containers")), "pod has no containers")
    for role, c in containers:
        where = f"{role} {c['name']}"
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        check(sc.get("privileged", False) is False, f"{where}: privileged")
        check(sc.get("allowPrivilegeEscalation") is False,
              f"{where}: allowPrivilegeEscalation must be false")  # fmt: skip
        check("ALL" in (caps.get("drop") or []), f"{where}: capabilities.drop must hold ALL")
        check(set(caps.get("add") or []) <= {"NET_BIND_SERVICE"}, f"{where}: capabilities.add")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        check(non_root is True, f"{where}: runAsNonRoot must be true (container or pod)")
        check(sc.get("runAsUser", 1) != 0, f"{where}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        check(seccomp in {"RuntimeDefault", "Localhost"}, f"{where}: seccompProfile {seccomp}")
        check(sc.get("procMount", "Default") == "Default", f"{where}: procMount")
        selinux = sc.get("seLinuxOptions") or {}
        check(selinux.get("type", "") in SELINUX_TYPES, f"{where}: seLinuxOptions.type")
        check(not {"user", "role"} & set(selinux), f"{where}: seLinuxOptions user/role")
        check(
            not (sc.get("windowsOptions") or {}).get("hostProcess", False), f"{where}: hostProcess"
        )
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        check(apparmor in {None, "RuntimeDefault", "Localhost"}, f"{where}: appArmorProfile")
        for port in c.get("ports") or []:
            check(not port.get("hostPort"), f"{where}: hostPort {port.get('hostPort')}")
    return found, checked


@pytest.mark.parametrize("name", sorted(values_sets()))
def test_every_pod_spec_meets_restricted(name, figures):
    docs = render(values_sets()[name])
    specs = list(pod_specs(docs))
    kinds = {obj.split("/")[0] for obj, _, _ in specs}
    assert "Deployment" in kinds
    assert "Pod" in kinds, "the helm test pod was not rendered"
    report = {}
    for obj, spec, meta in specs:
        found, checked = violations(spec, meta)
        report[obj] = {"fields_checked": checked, "violations": found}
    figures.setdefault("pod_security", {})[name] = report
    bad = {obj: r["violations"] for obj, r in report.items() if r["violations"]}
    assert not bad, bad


MUTATIONS = {
    "hostNetwork": lambda s: s.update(hostNetwork=True),
    "hostPath": lambda s: s.setdefault("volumes", []).append({"name": "h", "hostPath": {}}),
    "privileged": lambda s: s["containers"][0]["securityContext"].update(privileged=True),
    "escalation": lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
    "caps-add": lambda s: s["containers"][0]["securityContext"]["capabilities"].update(
        add=["SYS_ADMIN"]
    ),
    "caps-drop": lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=[]),
    "root": lambda s: s["containers"][0]["securityContext"].update(runAsUser=0),
    "non-root-off": lambda s: s["containers"][0]["securityContext"].update(runAsNonRoot=False),
    "seccomp": lambda s: s["containers"][0]["securityContext"].update(
        seccompProfile={"type": "Unconfined"}
    ),
    "procMount": lambda s: s["containers"][0]["securityContext"].update(procMount="Unmasked"),
    "hostPort": lambda s: s["containers"][0].setdefault("ports", []).append({"hostPort": 80}),
    "sysctl": lambda s: s.setdefault("securityContext", {}).update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_checker_catches_each_violation(mutation):
    """The checker itself can fail: each single mutation of the real pod spec is caught."""
    docs = render()
    _, spec, meta = next(p for p in pod_specs(docs) if p[0].startswith("Deployment/"))
    assert violations(spec, meta)[0] == []
    MUTATIONS[mutation](spec)
    assert violations(spec, meta)[0], f"{mutation} went unnoticed"
