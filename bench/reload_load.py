#!/usr/bin/env python3
"""Keep-alive load for bench/reload: CONNECTIONS connections to 127.0.0.1:PORT,
each sending requests back to back (one at a time), alternating GET /gen and
POST /post with a body of 1 byte to BODY_MAX bytes (head and body in one
write), from one thread driven by selectors, for DURATION seconds.

Every request is accounted for:
  ok            200 with a body in --expect (the configs' answers)
  wrong         an answer that is not 200 or not an expected body
  read_eof      the server closed the connection while a request waited for its answer
  resets        ECONNRESET (or EPIPE) while sending or waiting
  timeouts      no answer within --timeout seconds
  connect_errs  a new connection was refused or failed
A request that ends in wrong/read_eof/resets/timeouts is a failed request
(failed_posts counts the POSTs among them). A connection the server closes
after an answer that said `Connection: close` is reopened without counting an
error (that is how HTTP asks a client to reconnect). After any failure the
connection is reopened and the load goes on, as a client pool would.

Prints one line: `reload-load key=value ...`.
"""
import argparse
import errno
import random
import selectors
import socket
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--connections", type=int, default=8)
parser.add_argument("--duration", type=float, default=14.0)
parser.add_argument("--body-max", type=int, default=16384)
parser.add_argument("--timeout", type=float, default=5.0)
parser.add_argument("--expect", default="A,B", help="comma-separated bodies (stripped) that count as right")
args = parser.parse_args()

expected = set(args.expect.split(","))
stats = dict(requests=0, ok=0, gets=0, posts=0, wrong=0, read_eof=0, resets=0, timeouts=0,
             connect_errs=0, failed=0, failed_posts=0, closes_asked=0)
examples = []
rng = random.Random(1)
ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


BODIES = [bytes(rng.choice(ALPHABET) for _ in range(rng.randint(1, args.body_max))) for _ in range(32)]


class Conn:
    def __init__(self, index):
        self.index = index
        self.turn = index
        self.sock = None
        self.out = b""
        self.inbuf = b""
        self.kind = None
        self.sent_at = 0.0
        self.retry_at = 0.0

    def open(self, sel):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        try:
            self.sock.connect(("127.0.0.1", args.port))
        except BlockingIOError:
            pass
        except OSError as e:
            self.fail_connect(sel, e)
            return
        self.inbuf = b""
        self.next_request()
        sel.register(self.sock, selectors.EVENT_WRITE, self)

    def fail_connect(self, sel, e):
        stats["connect_errs"] += 1
        note(f"connect: {e}")
        self.drop(sel)
        self.retry_at = time.monotonic() + 0.01

    def next_request(self):
        self.turn += 1
        if self.turn % 2 == 0:
            self.kind = "GET"
            self.out = b"GET /gen HTTP/1.1\r\nHost: bench\r\n\r\n"
        else:
            self.kind = "POST"
            b = BODIES[self.turn % len(BODIES)]
            self.out = b"POST /post HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(b) + b
        self.sent_at = time.monotonic()
        stats["requests"] += 1
        stats["gets" if self.kind == "GET" else "posts"] += 1

    def drop(self, sel):
        if self.sock is not None:
            try:
                sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None

    def failed(self, sel, what, detail):
        stats[what] += 1
        stats["failed"] += 1
        if self.kind == "POST":
            stats["failed_posts"] += 1
        note(f"{self.kind} {what}: {detail}")
        self.drop(sel)
        self.retry_at = time.monotonic()


def note(text):
    if len(examples) < 5:
        examples.append(text.replace(" ", "_"))


def parse(buf):
    """(status, body, close, consumed) for one complete response at buf's start, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        pos, out = start, b""
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(buf[pos:line_end].split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n", pos)
                if trailer_end < 0:
                    return None
                consumed = trailer_end + 2
                break
            if len(buf) < pos + size + 2:
                return None
            out += buf[pos:pos + size]
            pos += size + 2
        body_bytes = out
    else:
        length = int(headers.get("content-length", "0"))
        if len(buf) < start + length:
            return None
        body_bytes = buf[start:start + length]
        consumed = start + length
    close = "close" in headers.get("connection", "").lower()
    return status, body_bytes, close, consumed


def main():
    sel = selectors.DefaultSelector()
    conns = [Conn(i) for i in range(args.connections)]
    for c in conns:
        c.open(sel)
    deadline = time.monotonic() + args.duration
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        for c in conns:
            if c.sock is None and now >= c.retry_at:
                c.open(sel)
            elif c.sock is not None and c.kind is not None and now - c.sent_at > args.timeout:
                c.failed(sel, "timeouts", f"no answer in {args.timeout} s")
        for key, events in sel.select(timeout=0.02):
            c = key.data
            if c.sock is None:
                continue
            if events & selectors.EVENT_WRITE:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err and c.sock is not None:
                    # a connect that failed (the request was never sent)
                    stats["requests"] -= 1
                    stats["gets" if c.kind == "GET" else "posts"] -= 1
                    c.fail_connect(sel, OSError(err, errno.errorcode.get(err, str(err))))
                    continue
                try:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                except BlockingIOError:
                    continue
                except OSError as e:
                    c.failed(sel, "resets", f"send: {e}")
                    continue
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if events & selectors.EVENT_READ and c.sock is not None:
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    c.failed(sel, "resets", f"recv: {e}")
                    continue
                if not data:
                    c.failed(sel, "read_eof", "closed before the answer")
                    continue
                c.inbuf += data
                parsed = parse(c.inbuf)
                if parsed is None:
                    continue
                status, body_bytes, close, consumed = parsed
                c.inbuf = c.inbuf[consumed:]
                if status == 200 and body_bytes.strip().decode("latin-1") in expected:
                    stats["ok"] += 1
                else:
                    stats["wrong"] += 1
                    stats["failed"] += 1
                    if c.kind == "POST":
                        stats["failed_posts"] += 1
                    note(f"{c.kind} wrong: {status} {body_bytes[:60]!r}")
                if close:
                    stats["closes_asked"] += 1
                    c.kind = None
                    c.drop(sel)
                    c.retry_at = time.monotonic()
                    continue
                c.next_request()
                sel.modify(c.sock, selectors.EVENT_WRITE, c)
    # Requests still waiting at the end are neither ok nor failed: not counted.
    waiting = sum(1 for c in conns if c.sock is not None and c.kind is not None)
    stats["requests"] -= waiting
    fields = " ".join(f"{k}={v}" for k, v in stats.items())
    print(f"reload-load {fields} examples={'|'.join(examples) or '-'}", flush=True)


main()
