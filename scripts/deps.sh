#!/usr/bin/env bash
# Installs the Debian 12 packages switchboard needs to build, run and test.
# Sourced by scripts/run and scripts/test. Runs apt-get only when something
# is missing, and `apt-get update` first when it does.
set -euo pipefail

sb_need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

SB_BUILD_PACKAGES=(build-essential cmake pkg-config libwebsockets-dev libjansson-dev
                   libconfig-dev libsqlite3-dev libssl-dev)
SB_TEST_PACKAGES=(python3 python3-websockets sqlite3 fiu-utils)
