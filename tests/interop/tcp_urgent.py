#!/usr/bin/python3
"""TCP urgent data with the kernel as the peer (standard library only).

  tcp_urgent.py echo HOST PORT
      Two kernel connections to an echo service. The first sends "ab",
      "c" with MSG_OOB and "de", then FIN, and must read back exactly
      "abde": the echo server reads normally, and the byte the urgent
      pointer marks is not part of the stream. The second sends 100 KB,
      one urgent byte, 100 KB (the mark in the middle of a bulk transfer,
      both directions at once) and must read back the 200 KB without it.

  tcp_urgent.py server ADDR PORT DATA OOB
      Accepts one connection on ADDR:PORT (prints "listening" first) and
      reads it until FIN, taking the urgent byte with MSG_OOB whenever
      poll() reports POLLPRI; exits 0 if the stream was DATA and the urgent
      byte OOB.
"""
import os
import select
import socket
import sys
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def exchange(host, port, pieces):
    """Sends pieces ((bytes, flags)...) then FIN while reading; returns what came back."""
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    got = bytearray()
    queue = [(bytearray(d), f) for d, f in pieces]
    shut = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        want = select.POLLIN | (select.POLLOUT if not shut else 0)
        p = select.poll()
        p.register(s, want)
        for _, ev in p.poll(1000):
            if ev & select.POLLOUT and queue:
                data, flags = queue[0]
                try:
                    n = s.send(data, flags)
                except BlockingIOError:
                    n = 0
                del data[:n]
                if not data:
                    queue.pop(0)
            if ev & (select.POLLIN | select.POLLHUP):
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    s.close()
                    return bytes(got)
                if chunk:
                    got += chunk
        if not queue and not shut:
            s.shutdown(socket.SHUT_WR)
            shut = True
    fail("echo did not finish in 60 s (got %d bytes)" % len(got))


def echo(host, port):
    got = exchange(host, port, [(b"ab", 0), (b"c", socket.MSG_OOB), (b"de", 0)])
    if got != b"abde":
        fail("echo of 'ab' OOB 'c' 'de' came back as %r, want b'abde'" % got)
    print("ok: 'ab', OOB 'c', 'de' echoed as 'abde'", flush=True)
    a, b = os.urandom(100000), os.urandom(100000)
    got = exchange(host, port, [(a, 0), (b"!", socket.MSG_OOB), (b, 0)])
    if got != a + b:
        fail("bulk echo: %d bytes back, want %d without the urgent byte (equal: %s)"
             % (len(got), len(a + b), got == a + b"!" + b))
    print("ok: 100 KB, OOB byte, 100 KB echoed as the 200 KB without it", flush=True)


def server(addr, port, want_data, want_oob):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    l.settimeout(30)
    print("listening", flush=True)
    c, _ = l.accept()
    c.setblocking(False)
    data, oob = bytearray(), bytearray()
    deadline = time.monotonic() + 30
    p = select.poll()
    p.register(c, select.POLLIN | select.POLLPRI)
    while time.monotonic() < deadline:
        # The urgent byte first: a normal read at the mark would skip it.
        ev = p.poll(1000)
        if not ev:
            continue
        ev = ev[0][1]
        if ev & select.POLLPRI:
            oob += c.recv(1, socket.MSG_OOB)
            continue
        try:
            chunk = c.recv(65536)
        except BlockingIOError:
            continue
        if not chunk:
            break
        data += chunk
    else:
        fail("no FIN in 30 s (data %r, urgent %r)" % (bytes(data), bytes(oob)))
    if bytes(data) != want_data.encode() or bytes(oob) != want_oob.encode():
        fail("kernel read data %r and urgent byte %r, want %r and %r"
             % (bytes(data), bytes(oob), want_data, want_oob))
    print("ok: the kernel read %r and the urgent byte %r with MSG_OOB" % (bytes(data), bytes(oob)),
          flush=True)


if sys.argv[1] == "echo":
    echo(sys.argv[2], int(sys.argv[3]))
elif sys.argv[1] == "server":
    server(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
else:
    fail("unknown mode " + sys.argv[1])
