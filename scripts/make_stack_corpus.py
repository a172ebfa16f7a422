#!/usr/bin/python3
"""Seeds for fuzz/fuzz_stack_rx: realistic frames addressed to a stack at
192.0.2.2 (MAC 02:00:00:00:00:02), framed as [len_hi len_lo time_step frame].
Uses scapy (Debian's python3-scapy): run with /usr/bin/python3."""
import os
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, fragment

ME, PEER = "192.0.2.2", "192.0.2.1"
MYMAC, PEERMAC = "02:00:00:00:00:02", "02:00:00:00:00:01"


def eth(pkt):
    return bytes(Ether(src=PEERMAC, dst=MYMAC) / pkt)


def record(frame, step=0):
    return bytes([len(frame) >> 8, len(frame) & 0xFF, step]) + frame


def arp_request():
    return bytes(Ether(src=PEERMAC, dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=1, hwsrc=PEERMAC, psrc=PEER, pdst=ME))


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
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz",
                                                         "corpus", "fuzz_stack_rx")
os.makedirs(out, exist_ok=True)
for name, frames in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"".join(record(fr, 1) for fr in frames))
print(f"wrote {len(seeds)} seeds to {out}")
