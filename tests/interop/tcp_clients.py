#!/usr/bin/python3
"""Many concurrent kernel TCP connections to one ustack port (standard
library only). Each connection sends its own data and must read back exactly
that data (the echo service).

  tcp_clients.py HOST PORT CONNECTIONS BYTES_EACH
"""
import os
import selectors
import socket
import sys
import time

host, port, nconn, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sel = selectors.DefaultSelector()
conns = []
for i in range(nconn):
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    data = os.urandom(size)
    c = {"i": i, "sock": s, "data": data, "sent": 0, "got": bytearray(), "local": s.getsockname()}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

deadline = time.monotonic() + 120
done = 0
while done < nconn and time.monotonic() < deadline:
    for key, ev in sel.select(timeout=1):
        c = key.data
        s = c["sock"]
        if ev & selectors.EVENT_WRITE and c["sent"] < size:
            try:
                c["sent"] += s.send(c["data"][c["sent"]:c["sent"] + 65536])
            except BlockingIOError:
                pass
            if c["sent"] == size:
                s.shutdown(socket.SHUT_WR)
                sel.modify(s, selectors.EVENT_READ, c)
        if ev & selectors.EVENT_READ:
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            if chunk:
                c["got"] += chunk
            else:
                sel.unregister(s)
                s.close()
                done += 1

bad = [c["i"] for c in conns if bytes(c["got"]) != c["data"]]
ports = {c["local"][1] for c in conns}
print("%d connections, %d complete, %d with wrong data, %d distinct client ports"
      % (nconn, done, len(bad), len(ports)))
sys.exit(0 if done == nconn and not bad and len(ports) == nconn else 1)
