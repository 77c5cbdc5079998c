#!/usr/bin/env python3
"""/livez latency while the server is loaded, for bench/modes.

One keep-alive connection to 127.0.0.1:PORT; every --interval-ms it sends one
`GET PATH`, reads the whole response (Content-Length framed) and records the time
from the send to the last byte; until --duration seconds have passed. A reply that
is not 200 counts as an error (and is timed all the same); a closed connection is
reopened and counted.

Prints: probe-summary samples=N errors=N reconnects=N p50_us=N p99_us=N max_us=N first_error=X
"""
import argparse
import socket
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--path", default="/livez")
parser.add_argument("--duration", type=float, required=True)
parser.add_argument("--interval-ms", type=float, default=10.0)
parser.add_argument("--timeout", type=float, default=10.0, help="per request")
args = parser.parse_args()

request = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def connect():
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(sock, buffered):
    """Sends one request, reads one response; returns (status, leftover bytes)."""
    sock.sendall(request)
    while True:
        end = buffered.find(b"\r\n\r\n")
        if end >= 0:
            head = buffered[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buffered) >= end + 4 + length:
                return int(head.split(b" ", 2)[1]), buffered[end + 4 + length:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffered += chunk


samples, errors, reconnects, first_error = [], 0, 0, "-"
sock, buffered = connect(), b""
stop = time.monotonic() + args.duration
next_at = time.monotonic()
while time.monotonic() < stop:
    start = time.perf_counter_ns()
    try:
        status, buffered = exchange(sock, buffered)
        samples.append((time.perf_counter_ns() - start) // 1000)
        if status != 200:
            errors += 1
            first_error = first_error if first_error != "-" else f"status_{status}"
    except OSError as error:  # includes timeouts and ConnectionError
        errors += 1
        first_error = first_error if first_error != "-" else repr(error).replace(" ", "_")
        sock.close()
        sock, buffered = connect(), b""
        reconnects += 1
    next_at += args.interval_ms / 1000
    pause = next_at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    else:
        next_at = time.monotonic()  # late: do not try to catch up with a burst

samples.sort()


def percentile(p):
    return samples[min(len(samples) - 1, max(0, -(-len(samples) * p // 100) - 1))] if samples else 0


print(f"probe-summary samples={len(samples)} errors={errors} reconnects={reconnects} "
      f"p50_us={percentile(50)} p99_us={percentile(99)} max_us={samples[-1] if samples else 0} "
      f"first_error={first_error}", flush=True)
