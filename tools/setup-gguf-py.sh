#!/usr/bin/env bash
# Fetches gguf-py (llama.cpp's Python GGUF reader) at set-up time, for use as an
# independent cross-check of our GGUF writer in tests. Nothing of gguf-py is
# kept in this repository: it is taken from the llama.cpp source tree that the
# npm package node-llama-cpp ships as a git bundle (llama/gitRelease.bundle).
#
# Also makes sure /usr/bin/python3 can import numpy (Debian's python3-numpy).
#
# Usage:  tools/setup-gguf-py.sh
#   env:  LONGROPE_CACHE  cache dir (default: $HOME/.cache/longrope)
# Idempotent; a second run only checks and returns. Progress goes to stderr;
# the LAST line on stdout is the path of the gguf-py folder, to be put on
# PYTHONPATH, e.g.:
#   GGUF_PY=$(tools/setup-gguf-py.sh | tail -n1)
#   PYTHONPATH="$GGUF_PY" /usr/bin/python3 tools/gguf_dump.py model.gguf
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  ?*) echo "tools/setup-gguf-py.sh: takes no arguments, got '$1' (usage: tools/setup-gguf-py.sh)" >&2; exit 2 ;;
esac

NLC_VERSION="3.21.1"
NLC_PKG="node-llama-cpp@${NLC_VERSION}"
PYTHON=/usr/bin/python3

CACHE="${LONGROPE_CACHE:-$HOME/.cache/longrope}"
DEST="$CACHE/gguf-py"
STAMP="$DEST/.longrope-source"
WANT_STAMP="$NLC_PKG"

log() { echo "setup-gguf-py: $*" >&2; }

# --- 1. numpy for /usr/bin/python3 ----------------------------------------
if ! "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
    log "installing python3-numpy (apt-get)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to apt-get install python3-numpy"; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends python3-numpy >/dev/null
    "$PYTHON" -c 'import numpy' || { log "numpy still not importable by $PYTHON"; exit 1; }
fi

# --- 2. gguf-py from node-llama-cpp's llama.cpp bundle -----------------------
if [ -f "$DEST/gguf/gguf_reader.py" ] && [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$WANT_STAMP" ]; then
    log "gguf-py already present ($(sed -n 2p "$STAMP"))"
else
    for tool in npm git tar; do
        command -v "$tool" >/dev/null 2>&1 || { log "missing required tool: $tool"; exit 1; }
    done
    mkdir -p "$CACHE"
    WORK="$(mktemp -d "$CACHE/.gguf-py-work.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT

    log "downloading $NLC_PKG (npm pack)"
    if ! tgz_name="$(cd "$WORK" && npm pack "$NLC_PKG" --silent 2>"$WORK/npm.err")"; then
        cat "$WORK/npm.err" >&2
        log "npm pack $NLC_PKG failed"; exit 1
    fi
    tgz_name="$(printf '%s\n' "$tgz_name" | tail -n1)"
    tgz="$WORK/$tgz_name"
    [ -f "$tgz" ] || { log "npm pack did not produce a tarball (got '$tgz_name')"; exit 1; }

    log "extracting llama.cpp git bundle"
    tar -xzf "$tgz" -C "$WORK" package/llama/gitRelease.bundle
    rm -f "$tgz"
    bundle="$WORK/package/llama/gitRelease.bundle"

    git clone -q --bare "$bundle" "$WORK/llama.cpp.git"
    rm -rf "$WORK/package"
    commit="$(git --git-dir="$WORK/llama.cpp.git" rev-parse HEAD)"

    # Copy only the gguf-py folder out of the clone.
    mkdir -p "$WORK/stage"
    git --git-dir="$WORK/llama.cpp.git" archive --format=tar HEAD gguf-py | tar -x -C "$WORK/stage"
    rm -rf "$WORK/llama.cpp.git"
    [ -f "$WORK/stage/gguf-py/gguf/gguf_reader.py" ] || { log "gguf-py/gguf/gguf_reader.py not found in the bundle"; exit 1; }
    printf '%s\nllama.cpp %s\n' "$WANT_STAMP" "$commit" > "$WORK/stage/gguf-py/.longrope-source"

    rm -rf "$DEST"
    # -T: fail rather than nest if a concurrent run created $DEST meanwhile.
    mv -T "$WORK/stage/gguf-py" "$DEST" 2>/dev/null || [ -f "$DEST/gguf/gguf_reader.py" ]
    rm -rf "$WORK"
    trap - EXIT
    log "gguf-py installed from $NLC_PKG (llama.cpp $commit)"
fi

echo "$DEST"
