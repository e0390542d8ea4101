#!/usr/bin/env bash
# Starts Etcetera's services by hand, with etcetera-auth-c as the auth backend instead of etcetera-auth,
# so the backend can be tried with etcdctl until `etcetera --auth-backend` exists. Stops them all on
# Ctrl-C or when the shell exits.
# Usage (from the repository): Plugins/auth-c/run-with-etcetera.sh AUTH_FILE CLIENT_PORT [BUILD_DIR]
#   BUILD_DIR holds the Swift executables (default .build/debug).
set -euo pipefail
file=$(realpath "$1")
port=$2
binaries=${3:-.build/debug}
here=$(dirname "$0")
work=$(mktemp -d /tmp/etcetera-auth-c.XXXXXX)
mkdir -m 700 "$work/bus"
bus="ipc://$work/bus"
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT
trap 'exit 0' INT TERM

"$binaries/etcetera-kv" --data-dir "$work/kv" --listen "$bus/kv.sock" --events "$bus/kv-events.sock" &
"$here/etcetera-auth-c" --listen "$bus/auth.sock" --events "$bus/auth-events.sock" --file "$file" \
    --data-dir "$work/auth" --bcrypt-cost 10 &
"$binaries/etcetera-lease" --data-dir "$work/lease" --listen "$bus/lease.sock" --kv "$bus/kv.sock" &
"$binaries/etcetera-maintenance" --listen "$bus/maintenance.sock" --kv "$bus/kv.sock" \
    --client-urls "http://127.0.0.1:$port" &
"$binaries/etcetera-watch" --listen "$bus/watch-0.sock" --kv "$bus/kv.sock" --kv-events "$bus/kv-events.sock" &
"$binaries/etcetera-gateway" --listen-client-urls "http://127.0.0.1:$port" --kv "$bus/kv.sock" \
    --watch "$bus/watch-0.sock" --lease "$bus/lease.sock" --maintenance "$bus/maintenance.sock" \
    --auth "$bus/auth.sock" --auth-events "$bus/auth-events.sock" --data-dir "$work" &
wait -n
