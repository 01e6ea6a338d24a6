#!/usr/bin/env bash
# Installs the Debian packages siprecd builds and tests with, only when some are missing.
set -euo pipefail
packages=(libsrtp2-dev libsndfile1-dev libxml2-dev libssl-dev openssl sip-tester libbcg729-dev libspandsp-dev libopus-dev libsqlite3-dev postgresql chromium dnsmasq-base)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
