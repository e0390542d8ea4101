#!/usr/bin/env bash
# Compares Etcetera with real etcd on this machine.
#
# In one run: builds etcetera-bench and Etcetera (release), starts a fresh etcd on free loopback
# ports in a temporary directory, runs the workloads, stops it; starts a fresh Etcetera the same way,
# runs the same workloads, stops it; prints a Markdown table of throughput and p50/p99 latency with
# the Etcetera/etcd ratios. Servers are always stopped on exit, whatever happens.
#
# Usage: scripts/bench-compare.sh            (see docs/benchmarks.md)
# Environment (defaults in brackets):
#   BENCH_CONNS [8]  BENCH_CLIENTS [64]        gRPC connections and concurrent workers
#   BENCH_PUT_TOTAL [20000]                    put requests
#   BENCH_RANGE_TOTAL [40000]                  range requests per consistency level
#   BENCH_TXN_TOTAL [10000] BENCH_TXN_OPS [1]  txn-put requests, puts per txn
#   BENCH_KEY_SIZE [8] BENCH_VAL_SIZE [256] BENCH_KEY_SPACE [100000]
#   BENCH_RUN_TIMEOUT [300]                    seconds before one workload run is abandoned
#   BENCH_SERVERS ["etcd etcetera"]            which servers to run, in order
#   BENCH_ROUNDS [1]                           rounds (fresh servers each, order reversed in even
#                                              rounds); the table shows medians
#   BENCH_SCRATCH_PATH [.build-bench]          SwiftPM scratch path for both builds
#   BENCH_SKIP_BUILD [0]                       1 = use the binaries already in the scratch path
#   BENCH_KEEP [0]                             1 = keep the temporary directory (logs, data dirs)
#   ETCD_BIN [/usr/bin/etcd] ETCDCTL_BIN [/usr/bin/etcdctl]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNS=${BENCH_CONNS:-8}
CLIENTS=${BENCH_CLIENTS:-64}
PUT_TOTAL=${BENCH_PUT_TOTAL:-20000}
RANGE_TOTAL=${BENCH_RANGE_TOTAL:-40000}
TXN_TOTAL=${BENCH_TXN_TOTAL:-10000}
TXN_OPS=${BENCH_TXN_OPS:-1}
KEY_SIZE=${BENCH_KEY_SIZE:-8}
VAL_SIZE=${BENCH_VAL_SIZE:-256}
KEY_SPACE=${BENCH_KEY_SPACE:-100000}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
SERVERS=${BENCH_SERVERS:-"etcd etcetera"}
ROUNDS=${BENCH_ROUNDS:-1}
SCRATCH=${BENCH_SCRATCH_PATH:-$ROOT/.build-bench}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
KEEP=${BENCH_KEEP:-0}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-/usr/bin/etcdctl}
RANGE_KEY=bench-range-key

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
RESULTS=$WORK/results.tsv
SERVER_PID=""
BENCH_PID=""
: >"$RESULTS"

log() { printf '%s\n' "$*" >&2; }

# Every process below $1, children first.
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        descendants "$child"
        echo "$child"
    done
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID tree
    SERVER_PID=""
    # The server runs in its own process group (setsid); Etcetera's services may start their own
    # groups, so remember the whole tree and make sure none of it outlives the launcher.
    tree=$(descendants "$pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for child in $tree; do
        ours "$child" || continue
        kill -TERM "$child" 2>/dev/null || true
        for _ in $(seq 1 20); do
            ours "$child" || break
            sleep 0.1
        done
        ! ours "$child" || kill -KILL "$child" 2>/dev/null || true
    done
}

# Whether pid $1 is still one of this run's processes (its arguments name the run's directory),
# so a recycled pid is never signalled.
ours() {
    { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF "$WORK"
}

cleanup() {
    local status=$?
    if [[ -n $BENCH_PID ]]; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    stop_server
    if [[ $KEEP == 1 || $status -ne 0 ]]; then
        log "logs and data kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# --- Build -----------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    log "building etcetera-bench (release, scratch path $SCRATCH)"
    (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product etcetera-bench) >&2
    if [[ " $SERVERS " == *" etcetera "* ]]; then
        log "building Etcetera (release, scratch path $SCRATCH)"
        for product in etcetera etcetera-kv etcetera-watch etcetera-gateway; do
            (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product "$product") >&2
        done
    fi
fi
BIN_DIR=$(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
BENCH=$BIN_DIR/etcetera-bench
[[ -x $BENCH ]] || { log "missing $BENCH"; exit 1; }

# --- Servers ---------------------------------------------------------------------------------------
# Starts one server in its own process group, waits for "ready to serve client requests".
start_server() {
    local server=$1 dir=$2 port peer_port
    mkdir -p "$dir"
    port=$(free_port)
    CLIENT_URL=http://127.0.0.1:$port
    ENDPOINT=127.0.0.1:$port
    SERVER_LOG=$dir/server.log
    case $server in
    etcd)
        peer_port=$(free_port)
        while [[ $peer_port == "$port" ]]; do peer_port=$(free_port); done
        setsid "$ETCD_BIN" --name default --data-dir "$dir/data" \
            --listen-client-urls "$CLIENT_URL" --advertise-client-urls "$CLIENT_URL" \
            --listen-peer-urls "http://127.0.0.1:$peer_port" \
            --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
            --initial-cluster "default=http://127.0.0.1:$peer_port" >"$SERVER_LOG" 2>&1 </dev/null &
        ;;
    etcetera)
        setsid "$BIN_DIR/etcetera" --data-dir "$dir/data" \
            --listen-client-urls "$CLIENT_URL" --advertise-client-urls "$CLIENT_URL" \
            >"$SERVER_LOG" 2>&1 </dev/null &
        ;;
    *) log "unknown server $server"; exit 1 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if grep -q "ready to serve client requests" "$SERVER_LOG"; then
            log "$server ready on $CLIENT_URL (pid $SERVER_PID)"
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    log "$server did not become ready; last lines of $SERVER_LOG:"
    tail -n 20 "$SERVER_LOG" >&2
    stop_server
    return 1
}

# Runs one workload; appends "server<TAB>workload<TAB>json" to the results, or a failure marker.
run_workload() {
    local server=$1 workload=$2
    shift 2
    local out=$RUN_DIR/$workload
    log "  $server $workload: etcetera-bench $*"
    # In the background so that a signal to this script is handled at once, not after the run.
    timeout --kill-after=5 "$RUN_TIMEOUT" "$BENCH" --json --endpoints "$ENDPOINT" \
        --conns "$CONNS" --clients "$CLIENTS" "$@" >"$out.json" 2>"$out.txt" &
    BENCH_PID=$!
    local status=0
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    if [[ $status -eq 0 ]]; then
        printf '%s\t%s\t%s\n' "$server" "$workload" "$(tail -n 1 "$out.json")" >>"$RESULTS"
        grep -E '^  (Requests/sec|50% in|99% in)' "$out.txt" | sed 's/^/      /' >&2 || true
    else
        log "  $server $workload FAILED (exit $status); last lines:"
        tail -n 5 "$out.txt" >&2
        printf '%s\t%s\tFAILED\n' "$server" "$workload" >>"$RESULTS"
    fi
}

run_server() {
    local server=$1 round=$2
    RUN_DIR=$WORK/$server-$round
    log "== $server (round $round of $ROUNDS)"
    if ! start_server "$server" "$RUN_DIR"; then
        for workload in put range-serializable range-linearizable txn-put; do
            printf '%s\t%s\tFAILED\n' "$server" "$workload" >>"$RESULTS"
        done
        return 0
    fi
    run_workload "$server" put put --total "$PUT_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
        --key-space-size "$KEY_SPACE"
    if ! ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$ENDPOINT" --command-timeout 10s \
        put "$RANGE_KEY" "$(head -c "$VAL_SIZE" /dev/zero | tr '\0' v)" >/dev/null 2>"$RUN_DIR/etcdctl.err"; then
        log "  etcdctl put $RANGE_KEY failed: $(cat "$RUN_DIR/etcdctl.err")"
    fi
    run_workload "$server" range-serializable range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency s
    run_workload "$server" range-linearizable range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency l
    run_workload "$server" txn-put txn-put --total "$TXN_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
        --key-space-size "$KEY_SPACE" --txn-ops "$TXN_OPS"
    stop_server
}

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
# Even rounds run the servers in reverse order, so that neither always runs right after the other's
# disk writeback or always on a cold machine.
REVERSED=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
for round in $(seq 1 "$ROUNDS"); do
    order=$SERVERS
    (( round % 2 == 0 )) && order=$REVERSED
    for server in $order; do run_server "$server" "$round"; done
done

# --- Report ----------------------------------------------------------------------------------------
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# The median of the numbers on stdin (the lower middle one for an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# Prints "rps p50 p99 failed-requests failed-rounds" for one server and workload: medians over the
# rounds that completed, "FAILED - - - -" if none did, "- - - - -" if it was not run.
metrics() {
    local rows json name value
    rows=$(awk -F '\t' -v s="$1" -v w="$2" '$1 == s && $2 == w { print $3 }' "$RESULTS")
    if [[ -z $rows ]]; then
        echo "- - - - -"
        return
    fi
    if ! grep -q '^{' <<<"$rows"; then
        echo "FAILED - - - -"
        return
    fi
    local -a out=()
    for name in requests_per_sec p50_secs p99_secs; do
        value=$(grep '^{' <<<"$rows" | while read -r json; do field "$name" "$json"; done | median)
        out+=("$value")
    done
    out+=("$(grep '^{' <<<"$rows" | while read -r json; do field failed "$json"; done | awk '{ n += $1 } END { print n + 0 }')")
    out+=("$(grep -vc '^{' <<<"$rows" || true)")
    echo "${out[*]}"
}

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
echo
echo "### Results $(date -u +%Y-%m-%d) — $(nproc) cores (${cpu:-unknown CPU}), $(uname -sr), etcd $("$ETCD_BIN" --version | sed -n 's/^etcd Version: //p'), load average before runs: $LOAD_BEFORE"
echo
echo "Median of $ROUNDS round(s), each starting fresh servers, in the order $SERVERS (reversed in even rounds)."
echo "Client: etcetera-bench --conns $CONNS --clients $CLIENTS; put/txn-put --key-size $KEY_SIZE --val-size $VAL_SIZE --key-space-size $KEY_SPACE (put --total $PUT_TOTAL, txn-put --total $TXN_TOTAL --txn-ops $TXN_OPS); range --total $RANGE_TOTAL on one ${VAL_SIZE}-byte key."
echo
echo "| Workload | etcd req/s | Etcetera req/s | × | etcd p50 ms | Etcetera p50 ms | × | etcd p99 ms | Etcetera p99 ms | × |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
notes=""
for workload in put range-serializable range-linearizable txn-put; do
    read -r e_rps e_p50 e_p99 e_fail e_lost <<<"$(metrics etcd "$workload")"
    read -r x_rps x_p50 x_p99 x_fail x_lost <<<"$(metrics etcetera "$workload")"
    awk -v w="$workload" -v er="$e_rps" -v e50="$e_p50" -v e99="$e_p99" \
        -v xr="$x_rps" -v x50="$x_p50" -v x99="$x_p99" '
        function num(v) { return v ~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
        function rate(v) { return num(v) ? sprintf("%.0f", v) : v }
        function ms(v) { return num(v) ? sprintf("%.2f", v * 1000) : v }
        function ratio(a, b) { return (num(a) && num(b) && b > 0) ? sprintf("%.2f", a / b) : "-" }
        BEGIN {
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w,
                rate(er), rate(xr), ratio(xr, er), ms(e50), ms(x50), ratio(x50, e50),
                ms(e99), ms(x99), ratio(x99, e99)
        }'
    [[ $e_fail =~ ^[1-9] ]] && notes+="- etcd $workload: $e_fail failed requests"$'\n'
    [[ $x_fail =~ ^[1-9] ]] && notes+="- Etcetera $workload: $x_fail failed requests"$'\n'
    [[ $e_lost =~ ^[1-9] ]] && notes+="- etcd $workload: $e_lost round(s) FAILED"$'\n'
    [[ $x_lost =~ ^[1-9] ]] && notes+="- Etcetera $workload: $x_lost round(s) FAILED"$'\n'
done
echo
echo "× = Etcetera / etcd (throughput: higher is better for Etcetera; latency: lower is better)."
[[ -n $notes ]] && printf '\n%s' "$notes"
exit 0
