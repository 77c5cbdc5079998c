#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, sends one GET on each and reads
its response, then holds them all idle for HOLD seconds. Prints 'ready' when
every connection has been answered. Loopback only; bounded in time."""
import resource, selectors, socket, sys, time

host, port, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
assert host.startswith("127.") or host == "::1", "loopback only"

request = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"
sel = selectors.DefaultSelector()
socks = []
answered = 0
deadline = time.time() + 60
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, port))
    socks.append(s)
    sel.register(s, selectors.EVENT_WRITE, "connect")
    # Keep the accept queue from overflowing: drain events every 500 connects.
    if i % 500 == 499:
        for key, ev in sel.select(timeout=0.05):
            if key.data == "connect":
                key.fileobj.send(request)
                sel.modify(key.fileobj, selectors.EVENT_READ, "read")
            else:
                if b"\r\n\r\n" in key.fileobj.recv(4096):
                    answered += 1
                    sel.unregister(key.fileobj)
while answered < count and time.time() < deadline:
    for key, ev in sel.select(timeout=1):
        if key.data == "connect":
            key.fileobj.send(request)
            sel.modify(key.fileobj, selectors.EVENT_READ, "read")
        else:
            data = key.fileobj.recv(4096)
            if b"\r\n\r\n" in data or not data:
                answered += 1
                sel.unregister(key.fileobj)
print("ready" if answered == count else f"only {answered} of {count} answered", flush=True)
time.sleep(hold)
