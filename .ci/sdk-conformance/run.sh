#!/usr/bin/env bash
# Official-SDK conformance: runs the unmodified Huawei Cloud Python SDK (pinned in
# requirements.txt, installed into a throwaway virtualenv) against `DESKTAG_BIN emulator` with
# AK/SK auth, then captures the SDK's signature for the documented V5 vector.
# Usage: run.sh DESKTAG_BIN        Exit status: 0 only if every check passed.
set -uo pipefail
# Not -e: every part runs and the failures are summed into the exit status.

if [[ $# -ne 1 || ! -x "$1" ]]; then
    echo "usage: $0 PATH/TO/desktag" >&2
    exit 2
fi
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

die() {
    echo "$*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

python3 -m venv "$WORK/venv" || die "cannot create a virtualenv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" ||
    die "cannot install the pinned SDK (requirements.txt)"
PY="$WORK/venv/bin/python"

# The SDK writes ~/.huaweicloud/application_id: keep it out of the real home.
export HOME="$WORK/home"
mkdir -p "$HOME" || die "cannot create a scratch HOME"

# start_emulator NAME ARGS... : starts the emulator, sets URL to the first line it prints.
start_emulator() {
    local name=$1
    shift
    "$BIN" emulator "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        if [[ -s "$WORK/$name.out" ]]; then
            URL=$(head -n 1 "$WORK/$name.out")
            return 0
        fi
        if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "the emulator ($name) did not print its URL; its stderr:" >&2
    cat "$WORK/$name.err" >&2
    return 1
}

status=0

# 1. V5 (informational, plus an expired-date check): the documented inputs need port 18080.
if (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null; then
    echo "V5 skipped: port 18080 is in use"
else
    DESKTAG_EMULATOR_SK=exampleSecretKey0123456789abcdefghijklmn \
        start_emulator v5 --listen 127.0.0.1:18080 --ak HPUAEXAMPLEAK0000001 --seed "$HERE/seed.yaml" ||
        die "the V5 emulator did not start"
    "$PY" "$HERE/conformance.py" --v5 "$URL" || status=1
fi

# 2. The checks, with a fresh random secret key from the environment (never on the command line).
export CONFORMANCE_AK=CONFORMANCEAK0000001
DESKTAG_EMULATOR_SK=$("$PY" -c 'import secrets; print(secrets.token_hex(20))')
export DESKTAG_EMULATOR_SK
start_emulator checks --listen 127.0.0.1:0 --ak "$CONFORMANCE_AK" --seed "$HERE/seed.yaml" ||
    die "the emulator did not start"
echo "emulator: $URL"
"$PY" "$HERE/conformance.py" "$URL" | tee "$WORK/checks.txt" || status=1

if [[ $status -ne 0 ]]; then
    echo "emulator log (last 40 lines):"
    tail -n 40 "$WORK/checks.err"
    # The summary stays the last line.
    grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/checks.txt" | tail -n 1 || echo "0 passed, 1 failed"
fi
exit $status
