#!/usr/bin/env bash
# Installs everything mutascan needs on a fresh Debian 12 machine: Debian packages, npm packages, the build.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-torch/-numpy/-scipy/-jinja2: the independent references the tests compare against.
# python3-pandas: the Python round trip of stores and score tables (docs/python.md).
# libopenblas-dev, libdnnl-dev: the native backend's GEMM libraries.
# chromium: the headless browser the report page is tested in (driven by playwright-core, never downloaded).
# fonts-dejavu-core: the font the report's figures are rendered with (resvg reads system fonts).
# redis-server: the queue server of the scale-out tests (each test starts its own on 127.0.0.1 and a free port).
PKGS="g++ make python3 python3-torch python3-numpy python3-scipy python3-jinja2 python3-pandas libopenblas-dev libdnnl-dev chromium fonts-dejavu-core redis-server"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "mutascan install: apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci also runs the `prepare` script, which compiles the TypeScript.
npm ci --no-audit --no-fund
