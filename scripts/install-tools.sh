#!/usr/bin/env bash
# Installs the third-party programs the end-to-end tests drive, when they are missing:
# pebble (ACME test server), lego and dehydrated from Debian's packages, and Chromium
# (headless, for the status page tests and `make screenshot`); for tests/system, Docker's
# engine (docker.io), systemd-nspawn (systemd-container), debootstrap and kubectl
# (kubernetes-client). certbot comes from PyPI with the test extras. Needs root (or sudo) for apt-get; without it, prints
# what is missing and leaves the decision to the test suite (which fails under CI=true).
set -euo pipefail
# command:Debian package, for everything the tests run
tools=(pebble:pebble lego:lego dehydrated:dehydrated openssl:openssl curl:curl ip:iproute2
       systemd-analyze:systemd strace:strace chromium:chromium chromedriver:chromium-driver
       dockerd:docker.io systemd-nspawn:systemd-container debootstrap:debootstrap
       nsenter:util-linux kubectl:kubernetes-client)
need=()
for t in "${tools[@]}"; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-tools: missing ${need[*]} and not root; the e2e tests will skip (or fail under CI=true)" >&2
  exit 0
fi
echo "install-tools: installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for t in "${tools[@]}"; do
  command -v "${t%%:*}" >/dev/null 2>&1 || {
    echo "install-tools: ${t%%:*} is still missing after apt-get install ${t#*:}" >&2
    exit 1
  }
done
