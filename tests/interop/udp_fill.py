#!/usr/bin/python3
"""Fills a ustack socket that never reads (standard library only).

  udp_fill.py listen PORT SECONDS   binds 192.0.2.1:PORT, waits up to SECONDS
                                    for one datagram and prints its source
                                    port (the ustack socket's port)
  udp_fill.py send IP PORT COUNT SIZE
                                    sends COUNT datagrams of SIZE bytes to
                                    IP:PORT, paced so the TAP's queue never
                                    overflows on the way
"""
import socket
import sys
import time

if sys.argv[1] == "listen":
    port, secs = int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.1", port))
    s.settimeout(secs)
    print("ready", flush=True)
    try:
        _, (_, sport) = s.recvfrom(2000)
    except socket.timeout:
        print("FAIL: no datagram from ustack on port %d within %g s" % (port, secs))
        sys.exit(1)
    print(sport)
elif sys.argv[1] == "send":
    ip, port, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.1", 0))
    for i in range(count):
        s.sendto(b"%08d" % i + b"x" * (size - 8), (ip, port))
        if i % 50 == 49:
            time.sleep(0.002)
else:
    sys.exit("usage: udp_fill.py listen PORT SECONDS | send IP PORT COUNT SIZE")
