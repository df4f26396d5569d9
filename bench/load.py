"""The load generator: one wrk run against one server, with the CPU time the server and its
core got during the run (from /proc), so a run that shared the core shows it."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from harness import Server, cpu_prefix, request_headers

CLK_TCK = os.sysconf("SC_CLK_TCK")

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def proc_cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def core_ticks(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            vals = [int(v) for v in line.split()[1:]]
            idle = vals[3] + vals[4]
            return sum(vals) - idle, sum(vals)
    return 0, 0


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def wrk_argv(
    args: argparse.Namespace, url: str, duration: int, headers: dict[str, str] | None = None
) -> list[str]:
    return [
        *cpu_prefix(args.load_cpu),
        args.wrk,
        "--latency",
        f"-c{args.connections}",
        f"-t{args.threads}",
        f"-d{duration}s",
        *(f"-H{name}: {value}" for name, value in (headers or {}).items()),
        url,
    ]


def run_wrk(args: argparse.Namespace, server: Server, path: str, duration: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{server.port}{path}"
    cpu = args.server_cpu if args.server_cpu is not None else 0
    busy0, total0 = core_ticks(cpu)
    mine0 = proc_cpu_ticks(server.pid)
    res = subprocess.run(
        wrk_argv(args, url, duration, request_headers(server.name, args)),
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    )
    busy1, total1 = core_ticks(cpu)
    mine1 = proc_cpu_ticks(server.pid)
    out = parse_wrk(res.stdout)
    # Share of the server core's wall time this server got: < ~0.95 means something else ran
    # on that core (shared machine) or the server was not CPU-bound.
    out["core_share"] = (mine1 - mine0) / (total1 - total0) if total1 > total0 else 0.0
    out["core_busy"] = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    # Requests per CPU-second the server actually got: what the server would do with a
    # core to itself. Robust against neighbours stealing the core; equal to req/s when
    # the core share is 1.
    cpu_s = (mine1 - mine0) / CLK_TCK
    out["rps_cpu"] = out["requests"] / cpu_s if cpu_s > 0 else 0.0
    return out
