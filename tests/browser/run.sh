#!/bin/sh
# Browser tests for the web chat widget, the agent desk and the demo page:
# the real router binary, driven in Debian's Chromium through playwright-core
# (no browser is downloaded).
#
#   tests/browser/run.sh [BINARY]
#
# BINARY (or env SB_BINARY) is the router to test, default build/switchboard.
# Env SB_TEST_OUTPUT: where screenshots and logs go (default tests/browser/output/).
# Installs what is missing first: chromium, nodejs and npm from apt (apt-get
# update first), then playwright-core from the committed package-lock.json.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] && SB_BINARY=$1
# Relative paths are relative to where run.sh was started, not to tests/browser.
if [ -n "${SB_BINARY:-}" ]; then
    case $SB_BINARY in /*) ;; *) SB_BINARY=$(pwd)/$SB_BINARY ;; esac
    export SB_BINARY
fi
if [ -n "${SB_TEST_OUTPUT:-}" ]; then
    case $SB_TEST_OUTPUT in /*) ;; *) SB_TEST_OUTPUT=$(pwd)/$SB_TEST_OUTPUT ;; esac
    export SB_TEST_OUTPUT
fi

missing=""
[ -x "${SB_CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "run.sh: missing:$missing, and no apt-get to install them" >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "run.sh: installing$missing" >&2
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

cd "$HERE"
# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
exec node widget_desk.test.mjs
