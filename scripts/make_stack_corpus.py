#!/usr/bin/python3
"""Seeds for fuzz/fuzz_stack_rx: realistic frames addressed to a stack at
192.0.2.2 (MAC 02:00:00:00:00:02), framed as [len_hi len_lo time_step frame].
The harness listens on TCP port 80 (echo) with its initial sequence number
fixed at FUZZ_ISN, so a seed can answer the SYN-ACK, and echoes UDP on port 7,
joined to 239.1.2.3. Uses scapy (Debian's python3-scapy): run with
/usr/bin/python3. FUZZ_STACK_RX_SUMMARY=1 build-fuzz/fuzz_stack_rx SEED
prints what a seed reaches."""
import os
import struct
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption_Router_Alert, Raw, fragment
from scapy.utils import checksum

ME, PEER, NEIGHBOUR = "192.0.2.2", "192.0.2.1", "192.0.2.7"
MYMAC, PEERMAC, NEIGHBOURMAC = "02:00:00:00:00:02", "02:00:00:00:00:01", "02:00:00:00:00:07"
FUZZ_ISN = 0xFFFFFC00  # fuzz/fuzz_stack_rx.c
GROUP = "239.1.2.3"  # joined by the harness's UDP socket


def eth(pkt):
    return bytes(Ether(src=PEERMAC, dst=MYMAC) / pkt)


def record(frame, step=0):
    return bytes([len(frame) >> 8, len(frame) & 0xFF, step]) + frame


def arp_request():
    return bytes(Ether(src=PEERMAC, dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=1, hwsrc=PEERMAC, psrc=PEER, pdst=ME))


def idle(seconds):
    """An empty record: the stack drops it, and the clock moves (0.1 s a step)."""
    return (b"", min(255, int(seconds * 10)))


def tcp_handshake_data_close():
    """SYN, the ACK of the stack's SYN-ACK (FUZZ_ISN + 1), three segments the
    harness echoes (1800 bytes: the stack's sequence numbers wrap 2^32), the
    ACKs of the echo, a FIN, and the ACK of the stack's FIN: the stack's end
    goes SYN-RECEIVED, ESTABLISHED, CLOSE-WAIT, LAST-ACK, CLOSED."""
    ip = IP(src=PEER, dst=ME)
    isn, sport = 1000, 40001
    opts = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]
    frames = [arp_request(), eth(ip / TCP(sport=sport, dport=80, flags="S", seq=isn, options=opts))]
    ack = FUZZ_ISN + 1
    seq = isn + 1
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="A", seq=seq, ack=ack, window=502)))
    for i in range(3):
        data = bytes([0x41 + i]) * 600
        frames.append(eth(ip / TCP(sport=sport, dport=80, flags="PA", seq=seq, ack=ack, window=502) /
                          Raw(data)))
        seq += len(data)
    # Nagle holds the second and third echo until the first is acknowledged.
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="A", seq=seq, ack=(ack + 600) & 0xFFFFFFFF,
                               window=502)))
    ack = (ack + 1800) & 0xFFFFFFFF
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="A", seq=seq, ack=ack, window=502)))
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="FA", seq=seq, ack=ack, window=502)))
    seq += 1
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="A", seq=seq, ack=(ack + 1) & 0xFFFFFFFF,
                               window=502)))
    return frames


def tcp_handshake_timestamps():
    """The same handshake with timestamps negotiated, then data, and the peer
    goes silent: the echo is retransmitted until the harness closes."""
    ip = IP(src=PEER, dst=ME)
    isn, sport = 0x7FFFFFF0, 40002
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("WScale", 7)]
    frames = [arp_request(), eth(ip / TCP(sport=sport, dport=80, flags="S", seq=isn, options=syn_opts))]
    ack = FUZZ_ISN + 1
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="A", seq=isn + 1, ack=ack,
                               options=[("NOP", None), ("NOP", None), ("Timestamp", (101, 1))])))
    frames.append(eth(ip / TCP(sport=sport, dport=80, flags="PA", seq=isn + 1, ack=ack,
                               options=[("NOP", None), ("NOP", None), ("Timestamp", (102, 1))]) /
                      Raw(b"GET / HTTP/1.0\r\n\r\n")))
    frames.append(idle(1))
    return frames


def igmp(typ, max_resp, group, dst):
    msg = struct.pack("!BBH4s", typ, max_resp, 0, bytes(map(int, group.split("."))))
    msg = msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]
    return eth_to(IP(src=PEER, dst=dst, ttl=1, tos=0xC0, proto=2, options=[IPOption_Router_Alert()]) /
                  Raw(msg), multicast_mac(dst))


def multicast_mac(group):
    b = list(map(int, group.split(".")))
    return "01:00:5e:%02x:%02x:%02x" % (b[1] & 0x7F, b[2], b[3])


def eth_to(pkt, dst):
    return bytes(Ether(src=PEERMAC, dst=dst) / pkt)


seeds = {
    "arp_then_ping": [arp_request(), eth(IP(src=PEER, dst=ME) / ICMP(id=1, seq=1) / Raw(b"x" * 56))],
    "udp_closed_port": [arp_request(), eth(IP(src=PEER, dst=ME) / UDP(sport=1234, dport=9) / Raw(b"hi"))],
    "tcp_syn": [arp_request(), eth(IP(src=PEER, dst=ME) / TCP(sport=40000, dport=80, flags="S",
                                                             options=[("MSS", 1460), ("SAckOK", b""),
                                                                      ("Timestamp", (1, 0)), ("WScale", 7)]))],
    "fragmented_ping": [arp_request()] + [eth(f) for f in fragment(
        IP(src=PEER, dst=ME, id=77) / ICMP(id=2, seq=1) / Raw(bytes(range(256)) * 12), fragsize=1480)],
    "fragment_timeout": [arp_request(), eth(fragment(IP(src=PEER, dst=ME, id=78) / ICMP() / Raw(b"y" * 3000),
                                                    fragsize=1480)[0])],
    "ttl_forward": [arp_request(), eth(IP(src=PEER, dst="198.51.100.7", ttl=1) / ICMP())],
    "proto_unreach": [arp_request(), eth(IP(src=PEER, dst=ME, proto=253) / Raw(b"z" * 20))],
    "tcp_handshake_data_close": tcp_handshake_data_close(),
    "tcp_handshake_timestamps": tcp_handshake_timestamps(),
    "udp_echo": [arp_request(), eth(IP(src=PEER, dst=ME) / UDP(sport=5353, dport=7) / Raw(b"hello ustack"))],
    # 3000 bytes in fragments, echoed in fragments: the harness reassembles
    # them to check the UDP checksum.
    "udp_fragmented_echo": [arp_request()] + [eth(f) for f in fragment(
        IP(src=PEER, dst=ME, id=79) / UDP(sport=5354, dport=7) / Raw(bytes(range(250)) * 12),
        fragsize=1480)],
    "udp_multicast": [arp_request(), eth_to(IP(src=PEER, dst=GROUP, ttl=1) / UDP(sport=5355, dport=7) /
                                            Raw(b"to the group"), multicast_mac(GROUP))],
    # Queries answered by reports within Max Resp Time (1 s); another
    # member's report suppresses ours (RFC 2236 §3).
    "igmp_general_query": [igmp(0x11, 10, "0.0.0.0", "224.0.0.1"), idle(2)],
    "igmp_group_query": [igmp(0x11, 10, GROUP, GROUP), idle(2)],
    "igmp_v1_query_and_report": [igmp(0x11, 0, "0.0.0.0", "224.0.0.1"), idle(1),
                                 igmp(0x16, 0, GROUP, GROUP), idle(11)],
    # Forwarded to an on-link neighbour with a broken UDP checksum: a router
    # passes it on untouched, and the harness does not check it.
    "forward_onlink": [arp_request(), eth(ARP(op=2, hwsrc=NEIGHBOURMAC, psrc=NEIGHBOUR, hwdst=MYMAC, pdst=ME)),
                       eth(IP(src=PEER, dst=NEIGHBOUR) / UDP(sport=1, dport=2, chksum=0x1234) / Raw(b"fwd"))],
    # Nobody answers for the next hop: after 3 ARP requests the stack owes
    # the sender a host unreachable (RFC 1812 §5.2.7.1), but the sender's
    # entry has been collected by then and it does not answer either. Once
    # left that error's buffer in a queue forever (tests/sim/test_sim_arp_timers.c).
    "forward_unresolved": [arp_request(), eth(IP(src=PEER, dst="192.0.2.77") / UDP(sport=1, dport=2) /
                                              Raw(b"to nobody")), idle(5)],
}

# What each seed must reach, as fuzz_stack_rx's FUZZ_SUMMARY=1 line says it;
# scripts/fuzz.sh checks these before it fuzzes.
expect = [
    ("tcp_handshake_data_close", "accepted 1, tcp echoed 1800 bytes"),
    ("tcp_handshake_timestamps", "accepted 1, tcp echoed 18 bytes"),
    ("udp_echo", "udp echoed 1 datagrams"),
    ("udp_fragmented_echo", "udp echoed 1 datagrams"),
    ("udp_fragmented_echo", "(1 datagrams reassembled)"),
    ("udp_multicast", "udp echoed 1 datagrams"),
    ("fragmented_ping", "(1 datagrams reassembled)"),
    ("igmp_general_query", "igmp 3,"),  # join, answer, leave
    ("igmp_group_query", "igmp 3,"),
    ("forward_onlink", "1 forwarded"),
]

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz",
                                                         "corpus", "fuzz_stack_rx")
os.makedirs(out, exist_ok=True)
for name, frames in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"".join(record(*fr) if isinstance(fr, tuple) else record(fr, 1) for fr in frames))
with open(out.rstrip("/") + ".expect", "w") as f:
    f.write("# seed<TAB>text its FUZZ_SUMMARY=1 run must print; made by scripts/make_stack_corpus.py\n")
    f.writelines(f"{seed}\t{text}\n" for seed, text in expect)
print(f"wrote {len(seeds)} seeds to {out}, and {out}.expect")
