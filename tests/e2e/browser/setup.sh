#!/bin/sh
# Installs what the browser test needs, when missing: Debian's chromium and, with npm ci,
# playwright-core (never a browser download). Idempotent; quick when all is present.
set -eu
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/playwright-core/package.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
echo "browser test set-up: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version), playwright-core $(node -p "require('./node_modules/playwright-core/package.json').version")"
