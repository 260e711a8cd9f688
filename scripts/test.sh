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

# cargo-nextest (on the CI machines) runs the test binaries side by side:
# they mostly wait on brokers and timeouts, so the run takes a third of the
# time. Without it, plain `cargo test` runs the same tests one binary at a
# time. Configuration: .config/nextest.toml.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run "$@"
  # nextest does not run doctests; there are none today, keep them honest.
  cargo test --doc "$@"
else
  cargo test "$@"
fi
