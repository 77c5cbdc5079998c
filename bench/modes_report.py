#!/usr/bin/env python3
"""The Markdown report of bench/modes, from the files it wrote (see bench/modes).

--pinned TSV: round server mode requests duration_us connect read write status timeout
              p50_us p99_us max_us ticks
--cpu TSV:    `idle` + probe fields, or mode requests duration_us connect read write status
              timeout p50_us p99_us max_us ticks + probe fields (key=value, space-separated)
--waiting:    the wait-summary line of bench/waiting_requests.py
--anomalies:  lines of what looked wrong (wrk errors, non-2xx, daemon log lines, noise)
"""
import argparse
import os
import statistics

TARGETS = {"async": 0.90, "thread": 0.85, "process": 0.60}
MODES = ["sync", "async", "thread", "process"]


def latency(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def span(values, fmt):
    """One value, or the range over rounds."""
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def key_values(text):
    return dict(item.split("=", 1) for item in text.split())


def pinned_table(args):
    rows = [line.rstrip("\n").split("\t") for line in open(args.pinned) if line.strip()]
    if not rows:
        return
    runs = {}  # (server, mode) -> list of dicts, one per round
    for r in rows:
        requests, duration_us = int(r[3]), int(r[4])
        runs.setdefault((r[1], r[2]), []).append(dict(
            round=r[0], rps=requests / (duration_us / 1e6), errors=sum(map(int, r[5:10])),
            status=int(r[8]), p50=int(r[10]), p99=int(r[11]),
            cpu_us=int(r[13]) * 1e6 / args.clk_tck / requests if requests else float("nan"),
            busy=100 * int(r[13]) / args.clk_tck / (duration_us / 1e6)))
    servers = [s for s in ("switchyard", "litestar") if any(k[0] == s for k in runs)]
    what = {
        ("switchyard", "sync"): "builtin.cpu `?rounds=1` on the loop",
        ("switchyard", "async"): "builtin.delay `?ms=0` (no await)",
        ("switchyard", "thread"): f"builtin.cpu `?rounds=1`, thread_pool size {args.pinned_threads}",
        ("switchyard", "process"): f"builtin.cpu `?rounds=1`, process_pool size {args.pinned_processes}",
        ("litestar", "sync"): "FNV ×1, `sync_to_thread=False`",
        ("litestar", "async"): "`async def`, no await",
        ("litestar", "thread"): "FNV ×1, `sync_to_thread=True` (anyio, 40 threads)",
        ("litestar", "process"): f"FNV ×1, `anyio.to_process.run_sync`, {args.pinned_processes} process",
    }
    print()
    print("### A trivial handler in each mode, everything on one core")
    print()
    print(f"Server (one event loop, its threads and worker processes) pinned to CPU 1, wrk (1 thread, "
          f"{args.connections} keep-alive connections, {args.duration} s, `--latency`) on CPU 0; "
          f"{args.rounds} round(s), modes and servers interleaved, each after a 2 s warm-up. "
          "CPU µs/req: the server's user+system time, its worker processes included, over the "
          "requests wrk completed. × sync: req/s over the same server's sync mode in the same round."
          + (" Figures are the range over rounds." if args.rounds > 1 else ""))
    print()
    print("| server | mode | handler | req/s | × sync | target | p50 | p99 | CPU µs/req | CPU × sync | server CPU busy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for server in servers:
        sync = {run["round"]: run["rps"] for run in runs.get((server, "sync"), [])}
        sync_cpu = {run["round"]: run["cpu_us"] for run in runs.get((server, "sync"), [])}
        for mode in MODES:
            mode_runs = runs.get((server, mode))
            if not mode_runs:
                continue
            ratios = [run["rps"] / sync[run["round"]] for run in mode_runs if run["round"] in sync]
            cpu_ratios = [run["cpu_us"] / sync_cpu[run["round"]] for run in mode_runs if run["round"] in sync_cpu]
            errors = sum(run["errors"] for run in mode_runs)
            rps = span([run["rps"] for run in mode_runs], lambda v: f"{v / 1000:.1f} k")
            if errors:
                rps += f" ({errors} errors)"
            ratio = span(ratios, lambda v: f"{v:.2f}") if ratios else "–"
            target = "–"
            if server == "switchyard" and mode in TARGETS and ratios:
                ok = statistics.median(ratios) >= TARGETS[mode]
                target = f"≥ {TARGETS[mode]:.2f} {'✅' if ok else '❌'}"
            elif server == "litestar" and mode == "thread":
                target = "(issue: ≈ 0.63)"
            print(f"| {server} | {mode} | {what[(server, mode)]} | {rps} | {ratio} | {target} | "
                  f"{span([r['p50'] for r in mode_runs], latency)} | {span([r['p99'] for r in mode_runs], latency)} | "
                  f"{span([r['cpu_us'] for r in mode_runs], lambda v: f'{v:.2f}')} | "
                  f"{span(cpu_ratios, lambda v: f'{v:.2f}') if cpu_ratios else '–'} | "
                  f"{span([r['busy'] for r in mode_runs], lambda v: f'{v:.0f} %')} |")
    if len(servers) == 2:
        pairs = []
        for mode in MODES:
            s = runs.get(("switchyard", mode), [])
            l = runs.get(("litestar", mode), [])
            if s and l:
                cpu_s = sum(r["cpu_us"] for r in s) / len(s)
                cpu_l = sum(r["cpu_us"] for r in l) / len(l)
                pairs.append(f"{mode} {cpu_l / cpu_s:.1f}×")
        print()
        print("Litestar's CPU per request over Switchyard's, mode by mode: " + ", ".join(pairs) + ".")
    print("CPU × sync: CPU per request over the same server's sync mode in the same round; it moves less "
          "with machine noise than req/s does. "
          "\"server CPU busy\" is the server's CPU time over the run's length (100 % = one core): "
          "below 100 %, the server was waiting for wrk or for a hand-off.")


def cpu_table(args):
    rows = [line.rstrip("\n").split("\t") for line in open(args.cpu) if line.strip()]
    if not rows:
        return
    print()
    print("### builtin.cpu under load, `/livez` probed meanwhile")
    print()
    print(f"`GET /cpu/MODE?rounds={args.cpu_rounds}` ({args.cpu_rounds * 64 / 1e6:.2f} M multiply-xor steps per job), the daemon "
          f"not pinned: one event loop, thread_pool and process_pool {args.cpus} each (one per CPU); wrk with "
          f"{args.cpu_connections} connections, {args.duration} s (1 thread, not pinned). Meanwhile "
          f"bench/livez_probe.py sends `GET /livez` every 10 ms on its own keep-alive connection for "
          f"{args.duration - 2} s, from 1 s after wrk starts, and times each answer (send to last byte). "
          "Server CPU: the daemon and its workers, over the run's length (100 % = one core).")
    print()
    print("| load | jobs/s | job p50 | job p99 | server CPU | /livez p50 | /livez p99 | /livez max | probes | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    label = {
        "idle": "none: the probe alone",
        "thread": f"thread mode, {args.cpus} pool threads",
        "process": f"process mode, {args.cpus} workers",
        "sync": "sync mode (reference: the jobs on the loop)",
    }
    for r in rows:
        if r[0] == "idle":
            p = key_values(r[1])
            jobs = cpu = p50 = p99 = "–"
        else:
            requests, duration_us = int(r[1]), int(r[2])
            errors = sum(map(int, r[3:8]))
            jobs = f"{requests / (duration_us / 1e6):.0f}" + (f" ({errors} errors)" if errors else "")
            p50, p99 = latency(int(r[8])), latency(int(r[9]))
            cpu = f"{100 * int(r[11]) / args.clk_tck / (duration_us / 1e6):.0f} %"
            p = key_values(r[12])
        probe_p99 = int(p["p99_us"])
        target = "–"
        if r[0] in ("thread", "process"):
            target = f"< 5 ms {'✅' if probe_p99 < 5000 else '❌'}"
        probes = p["samples"] + (f" ({p['errors']} errors)" if p["errors"] != "0" else "")
        print(f"| {label[r[0]]} | {jobs} | {p50} | {p99} | {cpu} | {latency(int(p['p50_us']))} | "
              f"{latency(probe_p99)} | {latency(int(p['max_us']))} | {probes} | {target} |")


def waiting_line(args):
    if not os.path.exists(args.waiting):
        return
    line = next((l for l in open(args.waiting) if l.startswith("wait-summary ")), None)
    if line is None:
        return
    w = key_values(line[len("wait-summary "):])
    before, idle, waiting = int(w["before_kb"]), int(w["idle_kb"]), int(w["waiting_kb"])
    n = int(w["count"])
    print()
    print("### Memory per waiting async request")
    print()
    print(f"**{(waiting - before) * 1024 / n:.0f} B per waiting `builtin.delay` request, its connection included** "
          f"({(waiting - idle) * 1024 / n:.0f} B beyond the idle keep-alive connection): the pinned daemon's VmRSS "
          f"{before / 1024:.1f} MB before, {idle / 1024:.1f} MB with {n} idle connections, {waiting / 1024:.1f} MB "
          f"with `GET /delay?ms={args.wait_ms}` waiting on each (peak {int(w['peak_kb']) / 1024:.1f} MB); "
          f"{w['ok']} of {n} answered 200 `waited {args.wait_ms} ms`, "
          f"{float(w['first_s']):.2f}–{float(w['last_s']):.2f} s after the last was sent.")


def anomalies(args):
    lines = [l.rstrip() for l in open(args.anomalies) if l.strip()] if os.path.exists(args.anomalies) else []
    print()
    if lines:
        print("Notes from the run (errors in wrk's output, non-2xx answers, daemon log lines above info, "
              "CPU 1 taken by other work):")
        for l in lines:
            print(f"- {l}")
    else:
        print("No errors in wrk's output, no non-2xx answer, no warning or error in the daemon's log.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--pinned", "--cpu", "--waiting", "--anomalies", "--only"):
        parser.add_argument(name, required=True)
    for name in ("--connections", "--duration", "--rounds", "--pinned-threads", "--pinned-processes",
                 "--cpus", "--cpu-rounds", "--cpu-connections", "--waiting-count", "--wait-ms"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--clk-tck", type=int, required=True)
    args = parser.parse_args()
    pinned_table(args)
    cpu_table(args)
    waiting_line(args)
    anomalies(args)


if __name__ == "__main__":
    main()
