#!/usr/bin/env python3
"""Sends N GET requests on one keep-alive connection to 127.0.0.1:PORT and
checks every answer: one at a time, or DEPTH at once (pipelined, each batch
in one write). Used under valgrind, so it waits generously for the slow
server; bounded in time.

    keepalive_client.py PORT COUNT [PATH] [DEPTH]"""
import socket, sys, time

port, count = int(sys.argv[1]), int(sys.argv[2])
path = sys.argv[3] if len(sys.argv) > 3 else "/hello"
depth = int(sys.argv[4]) if len(sys.argv) > 4 else 1
deadline = time.time() + 30
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("server did not come up")
        time.sleep(0.2)
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
buffered = b""
answered = 0
while answered < count:
    batch = min(depth, count - answered)
    s.sendall(request * batch)
    for _ in range(batch):
        while True:
            end = buffered.find(b"\r\n\r\n")
            if end >= 0:
                head = buffered[:end].decode()
                length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
                if len(buffered) >= end + 4 + length:
                    assert head.startswith("HTTP/1.1 200"), head
                    buffered = buffered[end + 4 + length:]
                    break
            data = s.recv(65536)
            if not data:
                sys.exit(f"connection closed after {answered} responses")
            buffered += data
        answered += 1
s.close()
