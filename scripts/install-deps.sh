#!/usr/bin/env bash
# Installs the Debian 12 packages ustack needs to build, test and fuzz.
# Safe to run again: packages already present are not fetched.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libcmocka-dev libpcap-dev liblwip-dev
  g++ libquickfix-dev
  iproute2 iputils-ping tshark socat netcat-openbsd python3-scapy
  curl wrk hping3 util-linux
  python3 procps ethtool
  tzdata
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
