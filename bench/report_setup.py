"""RESULTS.md's account of how the run was made: the image, the servers with their exact
commands, the machine and software, how to reproduce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import ENDPOINTS, SERVER_SPECS

Write = Callable[[str], None]


def render_image(ctx: dict[str, Any], w: Write) -> None:
    a = ctx["args"]
    w("## Image")
    w("")
    img = ctx["image"]
    if img.get("status") == "found":
        w(
            f"`podman image inspect {img['ref']}`: {img['bytes']:,} bytes "
            f"({img['bytes'] / 1e6:.1f} MB), id {img['id']}, created {img['created']}."
            + (f" ({img['note']}.)" if img.get("note") else "")
        )
    else:
        w(
            f"Image size: {img['status']}. (The harness only reads `podman image inspect "
            f"{a.image}`; `make image` builds it.)"
        )
    w("")


def render_servers(ctx: dict[str, Any], w: Write) -> None:
    names = list(ctx["summary"])
    w("## Servers and exact commands")
    w("")
    w(
        "Each server is one uvicorn worker (uvloop + httptools, as installed by "
        "`uvicorn[standard]`), started with the venv's interpreter directly from the "
        "repository root (the interpreter: see Machine and software):"
    )
    w("")
    for name in names:
        desc = SERVER_SPECS[name][0]
        cmd = " ".join(ctx["commands"][name])
        w(f"- **{name}** — {desc}:  ")
        w(f"  `{cmd}`")
    w("")
    w(
        "production-api runs with no app environment variables other than HOST/PORT, i.e. "
        "its defaults (APP_ENV=development, LOG_FORMAT=json, LOG_LEVEL=info, metrics on). "
        "Its stdout (one JSON access-log line per request except probes and /metrics) "
        f"goes to a regular file, `{ctx['prod_log']}` (filesystem: "
        f"{ctx['machine']['out_fs']}), as a deployment writes logs somewhere; it is "
        "neither discarded nor sent to a terminal. The baselines run with "
        "`--no-access-log`. Every server gets `PYTHONUNBUFFERED=1` (as the image's Dockerfile "
        "sets it) and no other PYTHON* variable; `app/` and `bench/servers/` are "
        "byte-compiled before the first start."
    )
    w("")
    src = "production-api" if "production-api" in ctx["bodies"] else next(iter(ctx["bodies"]))
    w(f"Response bodies as {src} answers them (every server answers every endpoint with 200):")
    w("")
    for label in ENDPOINTS:
        body = ctx["bodies"][src].get(label, "")
        w(f"- `GET {ENDPOINTS[label]}` -> `{body[:200]}`")
    w("")
    w("Load generator, per run:  ")
    w(f"`{' '.join(ctx['wrk_cmd'])}`")
    w("")
    w(
        "How the costs were found and what changed in the service for them: "
        "[bench/PROFILE.md](PROFILE.md)."
    )
    w("")


def render_machine(ctx: dict[str, Any], w: Write) -> None:
    w("## Machine and software")
    w("")
    m, v = ctx["machine"], ctx["versions"]
    w(f"- CPU: {m['cpu_model']}, {m['cores']} cores; memory {m['memory']}")
    w(f"- OS: {m['os']}, kernel {m['kernel']}")
    w(f"- Load average (1/5/15 min) at start: {ctx['load_start']}; at end: {ctx['load_end']}")
    w(
        f"- Python {v['python']} ({v['python_impl']}), run as `{v['interpreter']}`"
        + (f"; {v['interpreter_env']}" if v["interpreter_env"] else "")
    )
    w(f"- wrk: {v['wrk']}" + (f" (Debian package {v['wrk_deb']})" if v["wrk_deb"] else ""))
    w("")
    w("Every package installed in the interpreter's environment:")
    w("")
    w("| package | version |")
    w("|---|---|")
    for pkg, ver in v["packages"]:
        w(f"| {pkg} | {ver} |")
    w("")


def render_reproduce(w: Write) -> None:
    w("## How to reproduce")
    w("")
    w(
        "`make bench` (runs `bench/run.sh`: installs wrk with apt if missing, then "
        "`python bench/bench.py`). Raw per-round numbers: `bench/out/results.json`; "
        "server logs: `bench/out/`. `python bench/bench.py --help` lists the knobs "
        "(rounds, duration, CPUs, paths); `--quick` is the smoke mode used by "
        "`tests/bench/`."
    )
    w("")
