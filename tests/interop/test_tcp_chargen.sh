#!/usr/bin/env bash
# ustack's chargen service (RFC 864) read by the kernel over a TAP in a
# private network namespace: 4 MiB, well past one 95-line cycle (7,030
# bytes) and past the service's 70,300-byte sends, every byte as RFC 864
# says: line k is 72 characters from ' ' + k mod 95 on, then CR LF.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

interop_start_ustack "$WORK/svc.log" --serve chargen

step "chargen: 4 MiB from the kernel's side"
bytes=$((4 * 1024 * 1024))
timeout 30 socat -u "TCP:$USTACK_IP:19" - 2>/dev/null | head -c "$bytes" >"$WORK/chargen" || true
/usr/bin/python3 -c 'import sys
n = int(sys.argv[2])
cycle = b"".join(bytes(32 + (k + i) % 95 for i in range(72)) + b"\r\n" for k in range(95))
want = (cycle * (n // len(cycle) + 1))[:n]
got = open(sys.argv[1], "rb").read()
if got != want:
    at = next((i for i in range(min(len(got), n)) if got[i] != want[i]), min(len(got), n))
    print("FAIL: chargen stream differs at byte %d of %d (got %d bytes): %r, wanted %r"
          % (at, n, len(got), got[at:at + 20], want[at:at + 20]))
    sys.exit(1)' "$WORK/chargen" "$bytes" || exit 1
echo "ok: $bytes bytes of chargen, every line as RFC 864 says"
