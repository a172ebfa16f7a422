#!/usr/bin/env bash
# ustack's TCP services with the Linux kernel's tools as clients, over a TAP
# in a private network namespace: 100 concurrent connections to one port,
# curl downloading 50 MiB, wrk keeping 100 connections busy, a bounded SYN
# flood from a spoofed on-link address, and tshark's reading of the capture
# (window scaling on and off).
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

mkdir -p "$WORK/www"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$WORK/www/big.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/www/8m.bin"
printf '<html><body>ustack</body></html>\n' >"$WORK/www/index.html"

# tc PCAP FILTER: how many frames of the capture match (checksums verified).
tc() { tshark -r "$1" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -Y "$2" 2>/dev/null | wc -l; }

interop_start_ustack "$WORK/svc.log" --serve "echo,discard,chargen,http=$WORK/www" \
  --pcap "$WORK/svc.pcap" --nstat

step "100 concurrent connections to the echo port"
/usr/bin/python3 "$HERE/tcp_clients.py" "$USTACK_IP" 7 100 200000 || fail "concurrent echo"

step "curl: 50 MiB, HEAD, 404, 400"
curl -sS --max-time 120 -o "$WORK/big.got" "http://$USTACK_IP/big.bin" || fail "curl download"
cmp -s "$WORK/www/big.bin" "$WORK/big.got" || fail "downloaded file differs"
echo "ok: 50 MiB intact"
curl -sS -I "http://$USTACK_IP/big.bin" | grep -q "Content-Length: 52428800" || fail "HEAD"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$USTACK_IP/nope")" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$USTACK_IP/")" = 200 ] || fail "index"
reply=$(printf 'NONSENSE\r\n\r\n' | timeout 5 socat - "TCP:$USTACK_IP:80")
echo "$reply" | head -1 | grep -q "^HTTP/1.1 400" || fail "bad request got: $reply"
echo "ok: HEAD, 404, 400"

step "chargen and discard"
timeout 5 socat -u "TCP:$USTACK_IP:19" - 2>/dev/null | head -c 148 >"$WORK/chargen" || true
# RFC 864: 72 printable characters from ' ' on, CR LF, then the next line
# starting one character further.
/usr/bin/python3 -c 'import sys
want = b"".join(bytes(32 + (k + i) % 95 for i in range(72)) + b"\r\n" for k in range(2))
sys.exit(open(sys.argv[1], "rb").read() != want)' "$WORK/chargen" || fail "chargen lines: $(cat -A "$WORK/chargen")"
head -c 1000000 /dev/zero | timeout 10 socat -u - "TCP:$USTACK_IP:9" || fail "discard"
echo "ok: chargen, discard"

interop_stop_ustack

# One pass for everything tshark must not find in a loss-free run: malformed
# frames, bad checksums, expert errors, zero-window probes (nothing here needs
# one); one more to see scaled windows above 65535.
step "tshark: nothing malformed, no bad checksum or expert error; window scaling in use"
bad=$(tc "$WORK/svc.pcap" "ip.src==$USTACK_IP && (_ws.malformed || tcp.checksum.status == \"Bad\" || ip.checksum.status == \"Bad\" || _ws.expert.severity >= \"Error\" || tcp.analysis.zero_window_probe)")
[ "$bad" -eq 0 ] || {
  tshark -r "$WORK/svc.pcap" -Y "ip.src==$USTACK_IP && (_ws.malformed || _ws.expert.severity >= \"Error\" || tcp.analysis.zero_window_probe)" | head
  fail "$bad frames from ustack that tshark faults"
}
[ "$(tc "$WORK/svc.pcap" "ip.src==$USTACK_IP && tcp.window_size > 65535")" -gt 0 ] ||
  fail "window scaling on, yet ustack never advertised more than 65535"

# Load without a capture: wrk, then a SYN flood.
interop_start_ustack "$WORK/load.log" --serve "echo,http=$WORK/www" --nstat
step "wrk: 100 connections for 10 s"
wrk -t 2 -c 100 -d 10s --timeout 5s "http://$USTACK_IP/index.html" >"$WORK/wrk.txt" 2>&1 || fail "wrk"
cat "$WORK/wrk.txt"
grep -q "Socket errors" "$WORK/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$WORK/wrk.txt" && fail "wrk saw non-2xx responses"
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.txt")
[ "${requests:-0}" -gt 1000 ] || fail "wrk completed only ${requests:-0} requests"

step "SYN flood from a spoofed on-link address while real clients connect"
timeout 20 hping3 -q -S -p 7 -a 192.0.2.77 -c 20000 -i u50 "$USTACK_IP" >/dev/null 2>&1 &
flood=$!
sleep 0.3
/usr/bin/python3 "$HERE/tcp_clients.py" "$USTACK_IP" 7 5 10000 || fail "a client during the flood"
wait "$flood" || true
interop_stop_ustack
grep -E "^TcpExt(SyncookiesSent|SyncookiesRecv|ListenDrops|ListenOverflows) " "$WORK/load.log" || true
# The half-open flood filled the SYN queue, so cookies answered it.
[ "$(counter "$WORK/load.log" TcpExtSyncookiesSent)" -gt 0 ] || fail "the flood sent no SYN cookies"

step "window scaling off: never more than 65535"
interop_start_ustack "$WORK/nows.log" --serve "http=$WORK/www" --pcap "$WORK/nows.pcap" \
  --sysctl net.ipv4.tcp_window_scaling=0 --nstat
curl -sS --max-time 120 -o "$WORK/8m.got" "http://$USTACK_IP/8m.bin" || fail "curl without wscale"
cmp -s "$WORK/www/8m.bin" "$WORK/8m.got" || fail "download without window scaling differs"
interop_stop_ustack
[ "$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.option_kind == 3")" -eq 0 ] ||
  fail "ustack sent a window scale option with tcp_window_scaling=0"
[ "$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.window_size > 65535")" -eq 0 ] ||
  fail "advertised window above 65535 without window scaling"
echo PASS
