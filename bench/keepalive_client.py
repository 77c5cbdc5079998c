#!/usr/bin/env python3
"""Sends N sequential GET /hello requests on one keep-alive connection to
127.0.0.1:PORT and checks every answer. Used under valgrind, so it waits
generously for the slow server; bounded in time."""
import socket, sys, time

port, count = int(sys.argv[1]), int(sys.argv[2])
path = sys.argv[3] if len(sys.argv) > 3 else "/hello"
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
for i in range(count):
    s.sendall(request)
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
            sys.exit(f"connection closed after {i} responses")
        buffered += data
s.close()
