#!/usr/bin/env python3
"""Latency of pipelined batches, measured from one extra connection while wrk
loads the server: write DEPTH requests in one send, wait for all DEPTH
responses, record the time, pause, repeat until DURATION seconds have passed.

wrk cannot give this figure: its coordinated-omission correction assumes one
request per latency sample, and with batches it adds samples below the real
minimum, so its percentiles come out as 0 (see bench/pipeline.lua).

Prints: probe-summary batches=N p50_us=N p99_us=N max_us=N
"""
import argparse, socket, time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--depth", type=int, default=16)
parser.add_argument("--duration", type=float, required=True)
parser.add_argument("--pause-ms", type=float, default=2.0, help="between batches, so the probe adds little load")
parser.add_argument("--path", default="/hello")
args = parser.parse_args()

batch = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode() * args.depth
sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def read_responses(count, buffered):
    """Reads until `count` whole responses (Content-Length framed) have arrived."""
    while True:
        while count:
            end = buffered.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffered[:end]
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"batch_probe: unexpected response {head[:60]!r}")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buffered) < end + 4 + length:
                break
            buffered = buffered[end + 4 + length:]
            count -= 1
        if count == 0:
            return buffered
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("batch_probe: the server closed the connection")
        buffered += chunk

samples = []
buffered = b""
stop = time.monotonic() + args.duration
while time.monotonic() < stop:
    start = time.perf_counter_ns()
    sock.sendall(batch)
    buffered = read_responses(args.depth, buffered)
    samples.append((time.perf_counter_ns() - start) // 1000)
    time.sleep(args.pause_ms / 1000)

samples.sort()
def percentile(p):
    return samples[min(len(samples) - 1, max(0, -(-len(samples) * p // 100) - 1))] if samples else 0
print(f"probe-summary batches={len(samples)} p50_us={percentile(50)} p99_us={percentile(99)} "
      f"max_us={samples[-1] if samples else 0}")
