#!/usr/bin/python3
"""Kernel-side multicast peers for test_mcast.sh (standard library only).

  mcast_kernel.py receive GROUP PORT COUNT SECONDS OUTFILE
      join GROUP on 192.0.2.1, receive until COUNT datagrams or SECONDS pass,
      write the payloads (one per line) to OUTFILE
  mcast_kernel.py send GROUP PORT COUNT
      send COUNT datagrams to GROUP:PORT from 192.0.2.1 (TTL 1) and count the
      unicast echoes that come back; exit 1 unless all COUNT return
"""
import socket
import struct
import sys
import time

LOCAL = "192.0.2.1"


def receive(group, port, count, seconds, outfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(LOCAL))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    deadline = time.monotonic() + seconds
    got = []
    print("ready", flush=True)
    while len(got) < count and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = s.recvfrom(2000)
        except socket.timeout:
            break
        got.append(data.decode())
    with open(outfile, "w") as f:
        f.write("".join(g + "\n" for g in got))


def send(group, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOCAL, 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOCAL))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.settimeout(2.0)
    echoed = set()
    for i in range(count):
        s.sendto(b"kernel %d" % i, (group, port))
        time.sleep(0.002)
    try:
        while len(echoed) < count:
            data, _ = s.recvfrom(2000)
            echoed.add(data)
    except socket.timeout:
        pass
    print("echoed %d of %d" % (len(echoed), count))
    sys.exit(0 if echoed == {b"kernel %d" % i for i in range(count)} else 1)


if sys.argv[1] == "receive":
    receive(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
else:
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
