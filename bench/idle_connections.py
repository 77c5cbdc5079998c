#!/usr/bin/env python3
"""Memory of idle keep-alive connections, for bench/run.

Opens COUNT connections to 127.0.0.1:PORT, sends one `GET /hello` on each and reads
the response (so each one is a kept-alive HTTP/1.1 connection), then holds them idle
and reads the server's VmRSS from /proc/PID/status before and while they are held.
Then it asks once more on every connection, to show they were still alive, and closes
them. Prints one `rss-summary key=value ...` line; exits 1 if any connection failed.
Bounded: every step has a timeout, the whole run --timeout seconds.
"""
import argparse
import asyncio
import resource
import sys

REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def exchange(reader, writer):
    """One request, one response (Content-Length framed); returns the status."""
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"status {status}")
    return status


async def open_one(port, gate, step_timeout):
    async with gate:
        async def go():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await exchange(reader, writer)
            return reader, writer
        return await asyncio.wait_for(go(), step_timeout)


async def run(args):
    before = vmrss_kb(args.pid)
    gate = asyncio.Semaphore(args.parallel)
    results = await asyncio.gather(
        *(open_one(args.port, gate, args.step_timeout) for _ in range(args.count)),
        return_exceptions=True)
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]

    await asyncio.sleep(args.settle)  # idle: nothing in flight while we look
    held = vmrss_kb(args.pid)

    async def ask_again(conn):
        await asyncio.wait_for(exchange(*conn), args.step_timeout)
    again = await asyncio.gather(*(ask_again(c) for c in conns), return_exceptions=True)
    alive = sum(1 for r in again if not isinstance(r, BaseException))

    for _, writer in conns:
        writer.close()
    first_error = repr(errors[0]).replace(" ", "_") if errors else "-"
    print(f"rss-summary before_kb={before} held_kb={held} count={args.count} "
          f"opened={len(conns)} alive={alive} failed={len(errors)} first_error={first_error}",
          flush=True)
    return len(conns) == args.count and alive == args.count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="server process to read VmRSS of")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--parallel", type=int, default=100, help="connections being opened at once")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds idle before reading VmRSS")
    parser.add_argument("--step-timeout", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.count + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"idle_connections: need {need} file descriptors, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    ok = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
