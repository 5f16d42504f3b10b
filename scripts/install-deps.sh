#!/usr/bin/env bash
# Installs the native dependencies SltSharp uses when present: OpenBLAS (fast GEMM), numpy and torch (interop and
# torch-equivalence tests; python3-torch without recommends is a large download, a few minutes on a cold apt cache), and via
# install-browser-deps.sh Chromium and npm (HTML report plots and their browser test).
# Safe to run repeatedly; does nothing when everything is installed; never fails the caller if apt is unavailable.
set -u
need=()
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
command -v bc >/dev/null 2>&1 || need+=(bc)
/usr/bin/python3 -c "import numpy" >/dev/null 2>&1 || need+=(python3-numpy)
/usr/bin/python3 -c "import torch" >/dev/null 2>&1 || need+=(python3-torch)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || echo "install-deps: could not install ${need[*]}; continuing without" >&2
  else
    echo "install-deps: missing ${need[*]} (run as root with apt-get to install); continuing without" >&2
  fi
fi
bash "$(dirname "$0")/install-browser-deps.sh"
exit 0
