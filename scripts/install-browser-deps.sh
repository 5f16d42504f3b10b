#!/usr/bin/env bash
# Installs what the report build and the browser tests need: Chromium (headless rendering, tests/SltSharp.Browser.Tests)
# and Node.js/npm (the build embeds the Vega bundles from npm). Safe to run repeatedly; does nothing when both are
# there; never downloads a browser of its own (Playwright uses the system Chromium). Never fails the caller.
set -u
need=()
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  need+=(chromium)
fi
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || echo "install-browser-deps: could not install ${need[*]}; browser tests will be reported as skipped" >&2
  else
    echo "install-browser-deps: missing ${need[*]} (run as root with apt-get to install); browser tests will be reported as skipped" >&2
  fi
fi
exit 0
