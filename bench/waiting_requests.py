#!/usr/bin/env python3
"""Memory per waiting async request, for bench/modes.

Opens COUNT keep-alive connections to 127.0.0.1:PORT (no request yet), reads the
server's VmRSS (/proc/PID/status) before and with them open, then sends one
`GET PATH?ms=MS` on every connection at once and, while those requests wait on the
server, reads VmRSS again (SETTLE seconds after the last send, and the peak of
readings every 100 ms until the first answer). Then it reads every answer and checks
it: 200 and the body `waited MS ms`.

Prints: wait-summary before_kb=N idle_kb=N waiting_kb=N peak_kb=N count=N opened=N sent=N
        answered=N ok=N first_s=X last_s=X failed=N first_error=X
(first_s/last_s: when the first and last answers arrived, seconds after the last send.)
Exits 1 if any connection or answer failed. Bounded: every step has a timeout.
"""
import argparse
import asyncio
import resource
import sys
import time


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def read_answer(reader, expected):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"status_{status}")
    if body != expected:
        raise RuntimeError(f"body_{body[:40]!r}")


async def run(args):
    before = vmrss_kb(args.pid)
    gate = asyncio.Semaphore(args.parallel)

    async def open_one():
        async with gate:
            return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), args.step_timeout)

    opened = await asyncio.gather(*(open_one() for _ in range(args.count)), return_exceptions=True)
    conns = [c for c in opened if not isinstance(c, BaseException)]
    errors = [c for c in opened if isinstance(c, BaseException)]
    await asyncio.sleep(args.settle)
    idle = vmrss_kb(args.pid)

    request = f"GET {args.path}?ms={args.ms} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    expected = f"waited {args.ms} ms\n".encode()
    for _, writer in conns:
        writer.write(request)
    await asyncio.gather(*(w.drain() for _, w in conns), return_exceptions=True)
    sent_at = time.monotonic()
    arrivals = []

    async def answer(reader):
        await asyncio.wait_for(read_answer(reader, expected), args.ms / 1000 + args.step_timeout)
        arrivals.append(time.monotonic() - sent_at)

    answers = asyncio.gather(*(answer(r) for r, _ in conns), return_exceptions=True)
    # Readings while the requests wait: one SETTLE s after the send, and the peak.
    peak, waiting = 0, None
    while not arrivals and not answers.done() and time.monotonic() - sent_at < args.ms / 1000:
        rss = vmrss_kb(args.pid)
        peak = max(peak, rss)
        if waiting is None and time.monotonic() - sent_at >= args.settle:
            waiting = rss
        await asyncio.sleep(0.1)
    if waiting is None:
        waiting = peak
    results = await answers
    failed = [r for r in results if isinstance(r, BaseException)]
    errors += failed
    for _, writer in conns:
        writer.close()
    arrivals.sort()
    first_error = repr(errors[0]).replace(" ", "_") if errors else "-"
    print(f"wait-summary before_kb={before} idle_kb={idle} waiting_kb={waiting} peak_kb={peak} "
          f"count={args.count} opened={len(conns)} sent={len(conns)} answered={len(arrivals)} "
          f"ok={len(conns) - len(failed)} first_s={arrivals[0] if arrivals else 0:.3f} "
          f"last_s={arrivals[-1] if arrivals else 0:.3f} failed={len(errors)} first_error={first_error}",
          flush=True)
    return not errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="server process to read VmRSS of")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--path", default="/delay")
    parser.add_argument("--ms", type=int, default=5000)
    parser.add_argument("--parallel", type=int, default=200, help="connections being opened at once")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--step-timeout", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.count + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"waiting_requests: need {need} file descriptors, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    ok = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
