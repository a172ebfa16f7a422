#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/fuzz_<name>/: a handful of valid
packets per parser, built here with an independent checksum implementation.
The udp and tcp targets take src and dst addresses from their first 8 bytes;
the igmp target's seeds are IGMPv1/v2 messages and two IGMPv3 ones.
Standard library only; run from anywhere: /usr/bin/python3 scripts/make_fuzz_corpus.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus")

SRC = bytes([10, 0, 0, 1])
DST = bytes([10, 0, 0, 2])
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
GROUP = bytes([239, 1, 2, 3])


def csum(data):
    """RFC 1071: one's complement of the one's-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(payload, proto, src=SRC, dst=DST, options=b"", ident=1, flags_frag=0x4000, ttl=64, tos=0):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident,
                      flags_frag, ttl, proto, 0, src, dst) + options
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def pseudo(src, dst, proto, length):
    return src + dst + struct.pack("!BBH", 0, proto, length)


def udp(payload, sport=40000, dport=9999, src=SRC, dst=DST):
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = csum(pseudo(src, dst, 17, length) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp(flags, options=b"", payload=b"", seq=0xFFFFF000, ack=0, win=64240, src=SRC, dst=DST,
        sport=52138, dport=80):
    assert len(options) % 4 == 0
    hlen = 20 + len(options)
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hlen // 4) << 4, flags, win, 0,
                      0) + options + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def icmp(typ, code, rest, payload):
    msg = struct.pack("!BBHI", typ, code, 0, rest) + payload
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def igmp(typ, max_resp, group, extra=b""):
    msg = struct.pack("!BBH4s", typ, max_resp, 0, group) + extra
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def eth(dst, src, ethertype, payload, pad=True):
    frame = dst + src + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
OPT_MSS = bytes.fromhex("020405b4")
OPT_SACKPERM_TS = bytes.fromhex("0402080a") + struct.pack("!II", 0xC2971012, 0)
OPT_NOP_TS = bytes.fromhex("0101080a") + struct.pack("!II", 1000, 2000)
OPT_NOP_WS = bytes.fromhex("01030307")


def sack(*blocks):
    body = b"".join(struct.pack("!II", l, r) for l, r in blocks)
    return bytes([1, 1, 5, 2 + len(body)]) + body


def corpus():
    syn = tcp(SYN, OPT_MSS + OPT_SACKPERM_TS + OPT_NOP_WS)
    synack = tcp(SYN | ACK, OPT_MSS + bytes.fromhex("01010402") + OPT_NOP_WS, seq=7, ack=0xFFFFF001,
                 src=DST, dst=SRC, sport=80, dport=52138)
    data = tcp(ACK | PSH, OPT_NOP_TS, b"GET / HTTP/1.1\r\n\r\n", seq=0xFFFFF001, ack=8)
    sack_ack = tcp(ACK, OPT_NOP_TS + sack((100, 200), (300, 400), (500, 600)), ack=100)
    sack4 = tcp(ACK, sack((1, 2), (3, 4), (5, 6), (0xFFFFFFF0, 0x10)), ack=1)
    unknown = tcp(ACK, bytes.fromhex("1e0401020101fe02"), b"x")  # unknown and experimental
    rst = tcp(RST | ACK, seq=1, ack=2)
    fin = tcp(FIN | ACK, payload=b"bye", seq=3, ack=4)

    echo = icmp(8, 0, (0x143C << 16) | 1, bytes(range(11)))
    reply = icmp(0, 0, (0x143C << 16) | 1, bytes(range(56)))
    frag_needed = icmp(3, 4, 1400, ipv4(b"\0" * 8, 17)[:28])
    port_unreach = icmp(3, 3, 0, ipv4(udp(b"hi"), 17)[:28])
    ttl_exceeded = icmp(11, 0, 0, ipv4(tcp(SYN), 6)[:28])

    u_small = udp(b"hello ustack")
    u_empty = udp(b"")
    u_nocsum = struct.pack("!HHHH", 1234, 53, 12, 0) + b"abcd"
    u_mold = udp(b"SESSION001" + struct.pack("!QH", 1, 1) + struct.pack("!H", 5) + b"hello",
                 dport=30001)

    arp_req = arp(1, MAC_A, SRC, b"\0" * 6, DST)
    arp_rep = arp(2, MAC_B, DST, MAC_A, SRC)
    arp_grat = arp(1, MAC_A, SRC, b"\0" * 6, SRC)

    rr = bytes.fromhex("07070400000000") + b"\0"  # record route, EOL
    ra = bytes.fromhex("94040000")  # router alert
    return {
        "fuzz_eth": {
            "arp_request": eth(BCAST, MAC_A, 0x0806, arp_req),
            "ipv4_udp": eth(MAC_B, MAC_A, 0x0800, ipv4(u_small, 17)),
            "ipv4_tcp_syn": eth(MAC_B, MAC_A, 0x0800, ipv4(syn, 6), pad=False),
            "multicast": eth(bytes.fromhex("01005e000001"), MAC_A, 0x0800, ipv4(u_empty, 17)),
            "vlan": eth(MAC_B, MAC_A, 0x8100, b"\x00\x05\x08\x00" + ipv4(u_small, 17)),
            "header_only": eth(MAC_B, MAC_A, 0x86DD, b"", pad=False),
        },
        "fuzz_arp": {
            "request": arp_req,
            "reply": arp_rep,
            "gratuitous": arp_grat,
            "request_padded": arp_req + b"\0" * 18,
        },
        "fuzz_ipv4": {
            "udp": ipv4(u_small, 17),
            "tcp_syn": ipv4(syn, 6),
            "icmp_echo": ipv4(echo, 1),
            "first_fragment": ipv4(b"A" * 1480, 17, flags_frag=0x2000, ident=77),
            "last_fragment": ipv4(b"B" * 100, 17, flags_frag=185, ident=77),
            "max_offset_fragment": ipv4(b"C" * 7, 17, flags_frag=0x1FFF, ident=78, ttl=1),
            "record_route": ipv4(u_small, 17, options=rr),
            "router_alert": ipv4(b"\x11\x64\xee\x9b\0\0\0\0", 2, dst=bytes([224, 0, 0, 1]),
                                 options=ra, ttl=1, tos=0xC0),
            "padded": ipv4(u_empty, 17) + b"\0" * 18,
        },
        "fuzz_icmp": {
            "echo": echo,
            "echo_reply": reply,
            "frag_needed": frag_needed,
            "port_unreach": port_unreach,
            "ttl_exceeded": ttl_exceeded,
            "header_only": icmp(13, 0, 0, b""),
        },
        "fuzz_igmp": {
            "general_query": igmp(0x11, 100, bytes(4)),
            "group_query": igmp(0x11, 10, GROUP),
            "v1_query": igmp(0x11, 0, bytes(4)),
            "v1_report": igmp(0x12, 0, GROUP),
            "v2_report": igmp(0x16, 0, GROUP),
            "leave": igmp(0x17, 0, GROUP),
            # RFC 3376 §4.1: a v3 query is 12 bytes and more (QRV, QQIC, sources).
            "v3_query": igmp(0x11, 100, GROUP, bytes([2, 125]) + struct.pack("!H", 1) + SRC),
            # RFC 3376 §4.2: a v3 report, one record (MODE_IS_EXCLUDE, no sources).
            "v3_report": igmp(0x22, 0, bytes([0, 0, 0, 1]), bytes([2, 0, 0, 0]) + GROUP),
        },
        "fuzz_udp": {
            "small": SRC + DST + u_small,
            "empty": SRC + DST + u_empty,
            "no_checksum": SRC + DST + u_nocsum,
            "moldudp64": SRC + DST + u_mold,
            "trailing_bytes": SRC + DST + u_small + b"\0\0\0\0",
            "broadcast": SRC + b"\xff\xff\xff\xff" + udp(b"x" * 33, dst=b"\xff\xff\xff\xff"),
        },
        "fuzz_tcp": {
            "syn": SRC + DST + syn,
            "synack": DST + SRC + synack,
            "data": SRC + DST + data,
            "sack3_ts": SRC + DST + sack_ack,
            "sack4": SRC + DST + sack4,
            "unknown_options": SRC + DST + unknown,
            "rst": SRC + DST + rst,
            "fin": SRC + DST + fin,
        },
    }


def main():
    for target, seeds in corpus().items():
        d = os.path.join(ROOT, target)
        os.makedirs(d, exist_ok=True)
        for name, blob in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(blob)
        print("%s: %d seeds" % (target, len(seeds)))


if __name__ == "__main__":
    main()
