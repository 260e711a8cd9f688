#!/usr/bin/env bash
# The README's test command: installs the brokers the end-to-end tests start
# on loopback when they are missing (Debian packages; needs root or sudo),
# then runs the whole test suite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package for each broker binary the tests start themselves, and
# for the independent CoAP client the CoAP interop test runs.
declare -A PACKAGES=(
  [mosquitto]=mosquitto
  [coap-client-notls]=libcoap3-bin
)

missing=()
for bin in "${!PACKAGES[@]}"; do
  command -v "$bin" >/dev/null || missing+=("${PACKAGES[$bin]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test brokers: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo test "$@"
