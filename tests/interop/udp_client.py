#!/usr/bin/python3
"""Kernel-side UDP checks against ustack's udp-echo (standard library only).
Usage: udp_client.py USTACK_IP. Exits non-zero with a message on failure."""
import os
import socket
import sys

ip = sys.argv[1]
TIMEOUT = 2.0


def sock(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.1", port))
    s.settimeout(TIMEOUT)
    return s


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


# Two clients with different source ports reach the same ustack socket, and
# each gets its own replies, several times over.
a, b = sock(40001), sock(40002)
for i in range(5):
    a.sendto(b"from-a-%d" % i, (ip, 7))
    b.sendto(b"from-b-%d" % i, (ip, 7))
    ra, pa = a.recvfrom(100)
    rb, pb = b.recvfrom(100)
    check(ra == b"from-a-%d" % i and pa == (ip, 7), "client a reply %d" % i)
    check(rb == b"from-b-%d" % i and pb == (ip, 7), "client b reply %d" % i)

# Datagram boundaries: three sends, three replies, each the same bytes as
# its request (one link and one socket: the order is kept too).
sent = [os.urandom(n) for n in (1, 1000, 1472)]
for d in sent:
    a.sendto(d, (ip, 7))
got = [a.recvfrom(2000)[0] for _ in range(3)]
check(got == sent, "boundaries kept, bytes intact (got sizes %s)" % [len(g) for g in got])

# A 60,000-byte datagram crosses fragmented both ways and comes back intact.
big = os.urandom(60000)
a.sendto(big, (ip, 7))
check(a.recvfrom(65535)[0] == big, "60000-byte datagram echoed intact")

# Discard answers nothing.
a.sendto(b"into the void", (ip, 9))
try:
    a.recvfrom(100)
    check(False, "discard replied")
except socket.timeout:
    check(True, "discard stays silent")

# A closed port: ustack's ICMP port unreachable makes a connected kernel
# socket report ECONNREFUSED.
c = sock()
c.connect((ip, 5555))
c.send(b"anyone?")
try:
    c.recv(100)
    check(False, "closed port replied")
except ConnectionRefusedError:
    check(True, "closed port -> ECONNREFUSED")
