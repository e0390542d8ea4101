#!/usr/bin/env bash
# Chaos soak: runs the one-box `etcetera` for MINUTES under a mixed load with auth on (puts, txns,
# ranges, watches from old revisions, leases kept alive: Tests/GoClients/soakload) while killing a
# random service with kill -9 every 10-30 s and stalling the disk now and then. At the end it checks
# that no acknowledged write was lost, that every watch stream was in order with no gap or duplicate
# (or ended with a compaction cancel), that every kept-alive lease is alive (all three by soakload),
# and that no service's resident memory grew over the run. Prints its figures; exits non-zero on any
# violation.
#
# Usage: scripts/soak.sh MINUTES
#
# The disk stall delays every fsync/fdatasync under the data directory for a few seconds through the
# fault injection shim (Tests/FaultInjection/fault-shim.c, built here and preloaded into every
# service): the soak writes `delay-sync-ms MS` into the control file the shim reads
# (ETCETERA_FAULT_CONTROL), then clears it.
#
# Binaries come from ETCETERA_BIN_DIR, else from `swift build --show-bin-path` (build first).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:?usage: scripts/soak.sh MINUTES}
seconds=$((minutes * 60))
bin=${ETCETERA_BIN_DIR:-$(swift build --show-bin-path)}
work=$(mktemp -d "${TMPDIR:-/tmp}/etcetera-soak.XXXXXX")
log() { echo "soak: $(date -u +%H:%M:%S) $*"; }

# A free loopback port below the ephemeral range, so no outgoing connection takes it meanwhile.
port=$(python3 -c '
import random, socket
for _ in range(1000):
    port = random.randrange(15000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port); break
    except OSError: pass
    finally: s.close()
')

GOPATH="$work/gopath:/usr/share/gocode" GO111MODULE=off GOCACHE="${TMPDIR:-/tmp}/etcetera-go-cache" \
    go build -o "$work/soakload" ./Tests/GoClients/soakload

cc -shared -fPIC -O2 -o "$work/libetcetera-fault-shim.so" Tests/FaultInjection/fault-shim.c -ldl -lpthread
export ETCETERA_FAULT_CONTROL="$work/fault-control"
# Replaces the control file in one rename, so no service reads half of it.
set_disk() {
    printf 'path-prefix %s\n%s' "$work/data" "${1:+$1\n}" > "$ETCETERA_FAULT_CONTROL.new"
    mv "$ETCETERA_FAULT_CONTROL.new" "$ETCETERA_FAULT_CONTROL"
}
set_disk ""
export LD_PRELOAD="$work/libetcetera-fault-shim.so${LD_PRELOAD:+:$LD_PRELOAD}"

url="http://127.0.0.1:$port"
"$bin/etcetera" --data-dir "$work/data" --listen-client-urls "$url" --advertise-client-urls "$url" \
    --watch-processes 2 --auto-compaction-mode revision --auto-compaction-retention 1000 \
    > "$work/etcetera.log" 2>&1 &
launcher=$!
unset LD_PRELOAD
cleanup() {
    kill -TERM "$launcher" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$launcher" 2>/dev/null || true
    kill $(jobs -p) 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 600); do
    grep -q "ready to serve client requests" "$work/etcetera.log" && break
    kill -0 "$launcher" 2>/dev/null || { cat "$work/etcetera.log"; echo "soak: etcetera did not start" >&2; exit 1; }
    sleep 0.1
done
log "etcetera serving on $url (data in $work), $minutes min, disk stalls by the fault shim"

services=(etcetera-kv etcetera-lease etcetera-watch etcetera-auth etcetera-maintenance etcetera-gateway)
# The pid of the launcher's child running `service` (the first one, for the watch processes).
pid_of() { pgrep -P "$launcher" -f "/$1( |$)" | head -n 1; }

"$work/soakload" "127.0.0.1:$port" "$seconds" > "$work/load.out" 2> "$work/load.err" &
load=$!

# RSS of every service every 5 s: `SECONDS SERVICE KIB`.
(
    start=$(date +%s)
    while kill -0 "$load" 2>/dev/null; do
        now=$(($(date +%s) - start))
        for service in "${services[@]}"; do
            pid=$(pid_of "$service") || true
            [[ -n "$pid" ]] || continue
            rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
            [[ -n "$rss" ]] && echo "$now $service $rss"
        done
        sleep 5
    done
) > "$work/rss" &

kills=0
stalls=0
next_stall=$((RANDOM % 30 + 30))
started=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
    pause=$((RANDOM % 21 + 10))
    for _ in $(seq "$pause"); do kill -0 "$load" 2>/dev/null && sleep 1; done
    kill -0 "$load" 2>/dev/null || break
    elapsed=$(($(date +%s) - started))
    # Leave the last 20 s of the load and its final check alone, so the check runs against restarted
    # services.
    (( elapsed < seconds - 20 )) || continue
    if (( elapsed >= next_stall )); then
        stall_ms=$((RANDOM % 3000 + 2000))
        log "disk stall: every fsync under the data dir delayed ${stall_ms} ms for 10 s (fault shim)"
        set_disk "delay-sync-ms $stall_ms"
        sleep 10
        set_disk ""
        stalls=$((stalls + 1))
        next_stall=$((elapsed + RANDOM % 30 + 30))
        continue
    fi
    victim=${services[$((RANDOM % ${#services[@]}))]}
    pid=$(pid_of "$victim") || true
    [[ -n "$pid" ]] || continue
    log "kill -9 $victim (pid $pid)"
    kill -KILL "$pid" 2>/dev/null || true
    kills=$((kills + 1))
done

status=0
wait "$load" || status=$?
cat "$work/load.out"
if [[ $status -ne 0 ]]; then
    tail -n 50 "$work/load.err" >&2
    echo "soak: the load client found violations or failed (exit $status); log in $work" >&2
fi

# Memory must follow state, not time: per service, the largest RSS of the last third of the run may
# exceed that of the middle third (after the warm-up) by at most 50 % plus 32 MiB.
third=$((seconds / 3))
memory_ok=$(awk -v third="$third" '
    $1 >= third && $1 < 2 * third { if ($3 > middle[$2]) middle[$2] = $3 }
    $1 >= 2 * third { if ($3 > last[$2]) last[$2] = $3 }
    END {
        ok = 1
        for (service in last) {
            grew = middle[service] > 0 && last[service] > middle[service] * 1.5 + 32768
            printf "soak: rss_kib %s middle_third_max %d last_third_max %d%s\n", service, middle[service], last[service], grew ? " GREW" : "" > "/dev/stderr"
            if (grew) ok = 0
        }
        print ok
    }' "$work/rss")
log "kills $kills, disk stalls $stalls, restarts logged $(grep -c "restarting" "$work/etcetera.log" || true)"
if [[ $memory_ok != 1 ]]; then
    echo "soak: a service's resident memory grew over the run (see rss_kib lines); samples in $work/rss" >&2
    status=1
fi
if [[ $status -eq 0 ]]; then
    log "passed"
    rm -rf "$work"
fi
exit "$status"
