#!/usr/bin/env bash
# ustack's TCP services with the Linux kernel's tools as clients, over a TAP
# in a private network namespace: 100 concurrent connections to one port,
# curl downloading 50 MiB, wrk keeping 100 connections busy, a bounded SYN
# flood from a spoofed on-link address, and tshark's reading of the capture
# (window scaling on and off). ustack runs with the TAP's offloads (the
# default), except for the window-scaling-off run (--no-offload), whose
# capture has ustack's own TCP checksums to verify.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

mkdir -p "$WORK/www"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$WORK/www/big.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/www/8m.bin"
printf '<html><body>ustack</body></html>\n' >"$WORK/www/index.html"

# tc PCAP FILTER: how many frames of the capture match (checksums
# verified; TCP's only if TCP_CSUM is TRUE: with offloads, ustack leaves
# them to the TAP and the capture holds them partial, as tcpdump on a TAP
# shows the kernel's). tshark must succeed (a filter it cannot parse, or a
# capture cut short, is a failure, not a count of 0); use as n=$(tc ...) so
# that set -e stops the test.
TCP_CSUM=TRUE
tc() {
  local out
  out=$(tshark -r "$1" -o tcp.check_checksum:$TCP_CSUM -o ip.check_checksum:TRUE -Y "$2" 2>"$WORK/tshark.err") || {
    echo "FAIL: tshark -r $1 -Y '$2' exited $?: $(grep -v '^Running as user' "$WORK/tshark.err")" >&2
    exit 1
  }
  [ -z "$out" ] && echo 0 || echo "$out" | wc -l
}

interop_start_ustack "$WORK/svc.log" --serve "echo,discard,chargen,http=$WORK/www" \
  --pcap "$WORK/svc.pcap" --nstat
grep -q "offloads: tx-csum tso rx-csum gro" "$WORK/svc.log" || fail "offloads not on: $(grep offloads "$WORK/svc.log")"

step "100 concurrent connections to the echo port"
/usr/bin/python3 "$HERE/tcp_clients.py" "$USTACK_IP" 7 100 200000 || fail "concurrent echo"

step "curl: 50 MiB, HEAD, 404, 400"
curl -sS --max-time 120 -o "$WORK/big.got" "http://$USTACK_IP/big.bin" || fail "curl download"
cmp -s "$WORK/www/big.bin" "$WORK/big.got" || fail "downloaded file differs"
echo "ok: 50 MiB intact"
head_reply=$(curl -sS --max-time 30 -I "http://$USTACK_IP/big.bin")
grep -q "Content-Length: 52428800" <<<"$head_reply" || fail "HEAD got: $head_reply"
[ "$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "http://$USTACK_IP/nope")" = 404 ] || fail "404"
[ "$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' "http://$USTACK_IP/")" = 200 ] || fail "index"
reply=$(printf 'NONSENSE\r\n\r\n' | timeout 5 socat - "TCP:$USTACK_IP:80")
# A here-string, not `echo | head | grep -q`: under pipefail the early exit of
# head or grep -q can kill echo with SIGPIPE and fail a good reply.
[[ ${reply%%$'\r'*} == "HTTP/1.1 400"* ]] || fail "bad request got: $reply"
echo "ok: HEAD, 404, 400"

step "chargen and discard"
timeout 5 socat -u "TCP:$USTACK_IP:19" - 2>/dev/null | head -c 148 >"$WORK/chargen" || true
# RFC 864: 72 printable characters from ' ' on, CR LF, then the next line
# starting one character further.
/usr/bin/python3 -c 'import sys
want = b"".join(bytes(32 + (k + i) % 95 for i in range(72)) + b"\r\n" for k in range(2))
sys.exit(open(sys.argv[1], "rb").read() != want)' "$WORK/chargen" || fail "chargen lines: $(cat -A "$WORK/chargen")"
# Discard must read every byte, not just let them in: 16 MiB, more than any
# receive buffer holds (tcp_rmem's 6 MiB), so a discard that stopped
# reading would stall the sender. Once the kernel's tcp_info says all are
# acknowledged, ustack's socket table must show the connection with nothing
# left to read and bytes_received equal to what was sent.
discard_bytes=$((16 * 1024 * 1024))
/usr/bin/python3 "$HERE/tcp_discard.py" "$USTACK_IP" 9 "$discard_bytes" "$WORK/discard.port" \
  "$WORK/discard.release" >"$WORK/discard.out" 2>&1 &
dpid=$!
acked_or_gone() { test -s "$WORK/discard.port" || ! kill -0 "$dpid"; }
wait_until 90 "the kernel's discard client" acked_or_gone || true
test -s "$WORK/discard.port" || fail "discard: $(cat "$WORK/discard.out")"
dport=$(cat "$WORK/discard.port")
usr1_report "$WORK/svc.log"
# conn_row LOG PEER: the last table's row and info line for the connection
# to PEER, as "STATE RECVQ BYTES_RECEIVED".
conn_row() {
  awk -v p="$2" '$1 == "State" { row = "" }
    $5 == p && $1 != "State" { take = 1; st = $1; rq = $2; next }
    take { take = 0; if (match($0, / bytes_received:[0-9]+ /)) row = st " " rq " " substr($0, RSTART + 16, RLENGTH - 17) }
    END { print row }' "$1"
}
conn_complete() { [ "$(conn_row "$1" "$2" | wc -w)" -eq 3 ]; }
wait_until 10 "the discard connection's row" conn_complete "$WORK/svc.log" "$KERNEL_IP:$dport" ||
  fail "no row for $KERNEL_IP:$dport in the SIGUSR1 table"
read -r dstate drecvq dreceived <<<"$(conn_row "$WORK/svc.log" "$KERNEL_IP:$dport")"
touch "$WORK/discard.release"
wait "$dpid" || fail "discard client: $(cat "$WORK/discard.out")"
echo "discard connection: $dstate, Recv-Q $drecvq, bytes_received $dreceived"
[ "$dstate" = ESTAB ] && [ "$drecvq" = 0 ] && [ "$dreceived" = "$discard_bytes" ] ||
  fail "discard: $dstate, Recv-Q $drecvq, bytes_received $dreceived of $discard_bytes sent"
echo "ok: chargen, discard read all $discard_bytes bytes"

interop_stop_ustack

# One pass for everything tshark must not find in a loss-free run: malformed
# frames, bad checksums, expert errors, zero-window probes (nothing here needs
# one); one more to see scaled windows above 65535.
step "tshark: nothing malformed, no bad IP checksum or expert error; window scaling in use"
TCP_CSUM=FALSE # partial: see tc
bad=$(tc "$WORK/svc.pcap" "ip.src==$USTACK_IP && (_ws.malformed || tcp.checksum.status == \"Bad\" || ip.checksum.status == \"Bad\" || _ws.expert.severity >= \"Error\" || tcp.analysis.zero_window_probe)")
[ "$bad" -eq 0 ] || {
  tshark -r "$WORK/svc.pcap" -Y "ip.src==$USTACK_IP && (_ws.malformed || _ws.expert.severity >= \"Error\" || tcp.analysis.zero_window_probe)" | head
  fail "$bad frames from ustack that tshark faults"
}
big=$(tc "$WORK/svc.pcap" "ip.src==$USTACK_IP && tcp.window_size > 65535")
[ "$big" -gt 0 ] || fail "window scaling on, yet ustack never advertised more than 65535"
TCP_CSUM=TRUE

# Load without a capture: wrk, then a SYN flood.
interop_start_ustack "$WORK/load.log" --serve "echo,http=$WORK/www" --nstat
step "wrk: 100 connections for 10 s"
# A request counts as a timeout error only after 30 s, far above any
# latency an ASan build shows; wrk itself must end within 60 s.
timeout 60 wrk -t 2 -c 100 -d 10s --timeout 30s "http://$USTACK_IP/index.html" >"$WORK/wrk.txt" 2>&1 ||
  fail "wrk exited $? (124: still running after 60 s): $(cat "$WORK/wrk.txt")"
cat "$WORK/wrk.txt"
grep -q "Socket errors" "$WORK/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$WORK/wrk.txt" && fail "wrk saw non-2xx responses"
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.txt")
[ "${requests:-0}" -gt 1000 ] || fail "wrk completed only ${requests:-0} requests"

step "SYN flood from a spoofed on-link address while real clients connect"
# The flood runs until we stop it (at most 120 s). The clients start only
# once ustack answers it with SYN cookies (its SYN queue is full); the
# kernel-side capture of SYNs and FINs on port 7 then shows the flood's
# SYNs before the first client's SYN and after the last client's FIN.
dumpcap -q -i "$TAP" -P -f "tcp port 7 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0" \
  -w "$WORK/flood.pcap" >"$WORK/dumpcap.log" 2>&1 &
cap=$!
wait_until 10 "dumpcap on $TAP" test -s "$WORK/flood.pcap" || fail "dumpcap: $(cat "$WORK/dumpcap.log")"
timeout 120 hping3 -q -S -p 7 -a 192.0.2.77 -c 10000000 -i u100 "$USTACK_IP" >/dev/null 2>&1 &
flood=$!
# read_cookies: COOKIES = TcpExtSyncookiesSent in a fresh SIGUSR1 report.
read_cookies() {
  usr1_report "$WORK/load.log"
  COOKIES=$(counter "$WORK/load.log" TcpExtSyncookiesSent)
}
cookies_flowing() { read_cookies && [ "$COOKIES" -gt 0 ]; }
wait_until 30 "ustack to answer the flood with SYN cookies" cookies_flowing ||
  fail "no SYN cookies 30 s into the flood"
/usr/bin/python3 "$HERE/tcp_clients.py" "$USTACK_IP" 7 5 10000 || fail "a client during the flood"
sleep 0.5 # flood SYNs after the clients' FINs, if it still runs
kill -0 "$flood" 2>/dev/null || fail "the flood ended before the clients did"
kill -TERM "$flood" 2>/dev/null || true
wait "$flood" || true
kill -INT "$cap"
wait_until 10 "dumpcap to finish" gone "$cap" || fail "dumpcap did not stop"
wait "$cap" || true
interop_stop_ustack
grep -E "^TcpExt(SyncookiesSent|SyncookiesRecv|ListenDrops|ListenOverflows) " "$WORK/load.log" | tail -4
tshark -r "$WORK/flood.pcap" -T fields -e frame.time_epoch -e ip.src -e tcp.flags.syn -e tcp.flags.ack \
  -e tcp.flags.fin >"$WORK/flood.txt" 2>"$WORK/tshark.err" || fail "tshark: $(cat "$WORK/tshark.err")"
# "FLOOD_FIRST FLOOD_LAST CLIENT_FIRST_SYN CLIENT_LAST_FIN FLOOD_SYNS" (seconds)
read -r f0 f1 c0 c1 nflood <<<"$(awk -v k="$KERNEL_IP" '
  $2 == "192.0.2.77" && $3 == 1 { if (!n++) f0 = $1; f1 = $1 }
  $2 == k && $3 == 1 && $4 == 0 && c0 == "" { c0 = $1 }
  $2 == k && $5 == 1 { c1 = $1 }
  END { print f0, f1, c0, c1, n + 0 }' "$WORK/flood.txt")"
[ -n "$c0" ] && [ -n "$c1" ] || fail "no client SYN or FIN in the capture"
echo "flood: $nflood SYNs from ${f0:-?} to ${f1:-?}; clients from their first SYN at $c0 to their last FIN at $c1"
awk -v f0="$f0" -v f1="$f1" -v c0="$c0" -v c1="$c1" 'BEGIN { exit !(f0 != "" && f0 < c0 && f1 > c1) }' ||
  fail "the flood's SYNs did not span the clients' connections"
# Every client's handshake was completed from a cookie: the SYN queue was
# full, of the flood's half-open connections, each time a client connected.
[ "$(counter "$WORK/load.log" TcpExtSyncookiesRecv)" -eq 5 ] ||
  fail "TcpExtSyncookiesRecv != 5: not every client connected through a cookie"

step "window scaling off: never more than 65535 (plain frames: TCP checksums verified)"
interop_start_ustack "$WORK/nows.log" --serve "http=$WORK/www" --pcap "$WORK/nows.pcap" \
  --sysctl net.ipv4.tcp_window_scaling=0 --nstat --no-offload
curl -sS --max-time 120 -o "$WORK/8m.got" "http://$USTACK_IP/8m.bin" || fail "curl without wscale"
cmp -s "$WORK/www/8m.bin" "$WORK/8m.got" || fail "download without window scaling differs"
interop_stop_ustack
# The capture must hold ustack's side of the connection, handshake
# included: tshark knows that scaling is off only from the SYN and SYN-ACK
# (tcp.window_size_scalefactor -2, "no window scaling used").
synacks=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.flags.syn==1 && tcp.flags.ack==1")
[ "$synacks" -ge 1 ] || fail "no SYN-ACK from ustack in the capture"
segs=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp")
[ "$segs" -gt 0 ] || fail "no segment from ustack in the capture"
tshark -r "$WORK/nows.pcap" -Y "ip.src==$USTACK_IP && tcp.len > 0" -T fields -e tcp.len \
  >"$WORK/nows.lens" 2>"$WORK/tshark.err" || fail "tshark -T fields: $(cat "$WORK/tshark.err")"
sent=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/nows.lens")
[ "$sent" -ge $((8 * 1024 * 1024)) ] || fail "ustack's segments in the capture carry $sent bytes, not 8 MiB"
unscaled=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.flags.syn==0 && tcp.window_size_scalefactor == -2")
[ "$unscaled" -eq $((segs - synacks)) ] ||
  fail "$unscaled of ustack's $((segs - synacks)) segments after the SYN-ACK known unscaled"
wscale=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.option_kind == 3")
[ "$wscale" -eq 0 ] || fail "ustack sent a window scale option with tcp_window_scaling=0"
over=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && tcp.window_size > 65535")
[ "$over" -eq 0 ] || fail "advertised window above 65535 without window scaling"
badsum=$(tc "$WORK/nows.pcap" "ip.src==$USTACK_IP && (tcp.checksum.status != \"Good\" || _ws.malformed)")
[ "$badsum" -eq 0 ] || fail "$badsum segments from ustack without a good TCP checksum, or malformed"
echo "ok: $segs segments from ustack ($sent bytes), none with a window scale option or a window over 65535"
echo PASS
