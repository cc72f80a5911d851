#!/bin/sh
# Installs what the h2 browser test needs here, when missing: playwright-core by npm ci
# (never a browser download; Chromium is Debian's, see ../browser/setup.sh). Idempotent.
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/playwright-core/package.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
