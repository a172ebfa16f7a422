#!/usr/bin/python3
"""A kernel TCP client for ustack's discard service (standard library only):
sends BYTES, waits until the kernel's tcp_info says ustack acknowledged all
of them, then holds the connection open until the test has read ustack's
socket table, and closes.

  tcp_discard.py HOST PORT BYTES STATE_FILE RELEASE_FILE

Writes its local port to STATE_FILE once every byte is acknowledged; closes
once RELEASE_FILE exists. Every wait is bounded; exits non-zero with a
message on failure.
"""
import os
import socket
import struct
import sys
import time

host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
state_file, release_file = sys.argv[4], sys.argv[5]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def wait_for(cond, seconds, what):
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            fail("timed out after %d s waiting for %s" % (seconds, what))
        time.sleep(0.02)


def bytes_acked(s):
    # struct tcp_info (linux/tcp.h): 8 bytes of u8 fields, 24 u32, then
    # u64 pacing_rate, max_pacing_rate, bytes_acked.
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    return struct.unpack_from("=Q", info, 8 + 24 * 4 + 16)[0]


s = socket.create_connection((host, port), timeout=10)
s.settimeout(30)
data = os.urandom(size)
try:
    s.sendall(data)
except socket.timeout:
    fail("sending %d bytes stalled for 30 s (acked %d): discard stopped reading?"
         % (size, bytes_acked(s) - 1))
# bytes_acked counts the SYN as well (snd_una - ISN).
wait_for(lambda: bytes_acked(s) == size + 1, 30, "ustack to acknowledge %d bytes (acked %d)"
         % (size, bytes_acked(s) - 1))
with open(state_file, "w") as f:
    f.write("%d\n" % s.getsockname()[1])
wait_for(lambda: os.path.exists(release_file), 30, "the test to read ustack's socket table")
s.shutdown(socket.SHUT_WR)
if s.recv(1) != b"":
    fail("discard sent something back")
s.close()
print("discard: %d bytes sent and acknowledged" % size)
