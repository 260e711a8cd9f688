#!/usr/bin/env bash
# The README's test command: installs the brokers the end-to-end tests start
# on loopback when they are missing (Debian packages; needs root or sudo),
# then runs the whole test suite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package for each program the tests start themselves: the brokers
# (RabbitMQ brings its STOMP plugin; installing does not start a service)
# and libcoap's client for the CoAP interop test; xmllint validates
# junit.xml against tests/data/junit.xsd and headless Chromium renders
# report.html (tests/junit_xsd.rs, tests/report_html.rs).
declare -A PACKAGES=(
  [/usr/sbin/mosquitto]=mosquitto
  [/usr/lib/rabbitmq/bin/rabbitmq-server]=rabbitmq-server
  [/usr/bin/coap-client-notls]=libcoap3-bin
  [/usr/bin/xmllint]=libxml2-utils
  [/usr/bin/chromium]=chromium
  [/usr/sbin/ip]=iproute2
)

missing=()
for program in "${!PACKAGES[@]}"; do
  [ -x "$program" ] || missing+=("${PACKAGES[$program]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test programs: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo test "$@"
