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
#   BENCH_WATCH_STREAMS [100] BENCH_WATCH_PER_STREAM [100] BENCH_WATCH_KEYS [100]
#   BENCH_WATCH_PUTS [1000] BENCH_WATCH_PUT_RATE [200]
#                                              watch: watchers over streams and keys, puts (per s)
#   BENCH_WATCH_LATENCY_CLIENTS [100] BENCH_WATCH_LATENCY_PUTS [500]
#                                              watch-latency: watchers (one stream each) and puts
#   BENCH_STALL_SECONDS [30] BENCH_STALL_PUTS [10000]
#                                              watch-steady / watch-stall: the same put load without
#                                              and with a stream that stops reading for that long
#   BENCH_MEMORY_STREAMS [100] BENCH_MEMORY_PER_STREAM [1000]
#                                              watch-memory: idle watchers whose memory is sampled
#                                              6 s after they were all created
#   BENCH_LEASE_TOTAL [20000]                  lease-keepalive requests (one stream each, as etcd's tool)
#   BENCH_WORKLOADS [all]                      which of: put range-serializable range-linearizable
#                                              txn-put lease-keepalive watch watch-latency watch-steady watch-stall
#                                              watch-memory watch-failover (Etcetera only: kill -9 of
#                                              one of two watch processes during the watch workload)
#   BENCH_RUN_TIMEOUT [300]                    seconds before one workload run is abandoned
#   BENCH_SERVERS ["etcd etcetera"]            which servers to run, in order
#   BENCH_ROUNDS [1]                           rounds (fresh servers each, order reversed in even
#                                              rounds); the table shows medians
#   BENCH_SCRATCH_PATH [.build-bench]          SwiftPM scratch path for both builds
#   BENCH_SKIP_BUILD [0]                       1 = use the binaries already in the scratch path
#   BENCH_BUILD_JOBS []                        swift build -j (1 keeps a shared machine usable)
#   BENCH_KEEP [0]                             1 = keep the temporary directory (logs, data dirs)
#   ETCD_BIN [/usr/bin/etcd] ETCDCTL_BIN [/usr/bin/etcdctl]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PUT_TOTAL=${BENCH_PUT_TOTAL:-20000}
RANGE_TOTAL=${BENCH_RANGE_TOTAL:-40000}
TXN_TOTAL=${BENCH_TXN_TOTAL:-10000}
TXN_OPS=${BENCH_TXN_OPS:-1}
KEY_SIZE=${BENCH_KEY_SIZE:-8}
VAL_SIZE=${BENCH_VAL_SIZE:-256}
KEY_SPACE=${BENCH_KEY_SPACE:-100000}
WATCH_STREAMS=${BENCH_WATCH_STREAMS:-100}
WATCH_PER_STREAM=${BENCH_WATCH_PER_STREAM:-100}
WATCH_KEYS=${BENCH_WATCH_KEYS:-100}
WATCH_PUTS=${BENCH_WATCH_PUTS:-1000}
WATCH_PUT_RATE=${BENCH_WATCH_PUT_RATE:-200}
WATCH_LATENCY_CLIENTS=${BENCH_WATCH_LATENCY_CLIENTS:-100}
WATCH_LATENCY_PUTS=${BENCH_WATCH_LATENCY_PUTS:-500}
STALL_SECONDS=${BENCH_STALL_SECONDS:-30}
STALL_PUTS=${BENCH_STALL_PUTS:-10000}
MEMORY_STREAMS=${BENCH_MEMORY_STREAMS:-100}
MEMORY_PER_STREAM=${BENCH_MEMORY_PER_STREAM:-1000}
LEASE_TOTAL=${BENCH_LEASE_TOTAL:-20000}
ALL_WORKLOADS="put range-serializable range-linearizable txn-put lease-keepalive watch watch-latency watch-steady watch-stall watch-memory watch-failover"
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
SERVERS=${BENCH_SERVERS:-"etcd etcetera"}
ROUNDS=${BENCH_ROUNDS:-1}
RANGE_KEY=bench-range-key

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
RESULTS=$WORK/results.tsv
MEMORY=$WORK/memory.tsv
: >"$MEMORY"
: >"$RESULTS"

source "$ROOT/scripts/bench-servers.sh"

install_cleanup

# --- Build -----------------------------------------------------------------------------------------
build_binaries

selected() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# Resident memory in KiB of the given pids, summed.
rss() {
    local total=0 pid kib
    for pid in "$@"; do
        kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# The server's processes whose command name is $1 (Etcetera's services), or the server itself.
server_pids() {
    if [[ -z ${1:-} ]]; then
        echo "$SERVER_PID"
        return
    fi
    local pid
    for pid in $(descendants "$SERVER_PID"); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && echo "$pid"
    done
}

# Samples the memory of the server's watch-serving processes once the idle watchers exist.
sample_memory() {
    local server=$1 report=$2 before_watch before_gateway
    local -a watch_pids gateway_pids
    if [[ $server == etcd ]]; then
        watch_pids=("$SERVER_PID")
        gateway_pids=()
    else
        mapfile -t watch_pids < <(server_pids etcetera-watch)
        mapfile -t gateway_pids < <(server_pids etcetera-gatewa)
    fi
    before_watch=$(rss "${watch_pids[@]}")
    before_gateway=$(rss "${gateway_pids[@]}")
    await_line "$report" "watchers created" || return 1
    # Idle for a while first: etcd's garbage collector and Etcetera's memory reclaimer (every 5 s)
    # have then given back what creating the watchers used.
    sleep 6
    printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$before_watch" "$(rss "${watch_pids[@]}")" \
        "$before_gateway" "$(rss "${gateway_pids[@]}")" >>"$MEMORY"
}

# Kills one of the two watch processes with SIGKILL a little after the puts start.
kill_watch_process() {
    local report=$2 victim
    await_line "$report" "puts started" || return 1
    sleep 1.5
    victim=$(server_pids etcetera-watch | head -n 1)
    log "    kill -9 etcetera-watch pid $victim"
    kill -KILL "$victim"
}

run_server() {
    local server=$1 round=$2
    RUN_DIR=$WORK/$server-$round
    log "== $server (round $round of $ROUNDS)"
    if ! start_server "$server" "$RUN_DIR"; then
        for workload in $WORKLOADS; do
            printf '%s\t%s\tFAILED\n' "$server" "$workload" >>"$RESULTS"
        done
        return 0
    fi
    # First, while the server holds no data: the memory of idle watchers.
    selected watch-memory && DURING=sample_memory run_workload "$server" watch-memory watch \
        --streams "$MEMORY_STREAMS" --watch-per-stream "$MEMORY_PER_STREAM" --put-total 0 --hold-seconds 10
    selected put && run_workload "$server" put put --total "$PUT_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
        --key-space-size "$KEY_SPACE"
    if ! ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$ENDPOINT" --command-timeout 10s \
        put "$RANGE_KEY" "$(head -c "$VAL_SIZE" /dev/zero | tr '\0' v)" >/dev/null 2>"$RUN_DIR/etcdctl.err"; then
        log "  etcdctl put $RANGE_KEY failed: $(cat "$RUN_DIR/etcdctl.err")"
    fi
    selected range-serializable && run_workload "$server" range-serializable range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency s
    selected range-linearizable && run_workload "$server" range-linearizable range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency l
    selected txn-put && run_workload "$server" txn-put txn-put --total "$TXN_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
        --key-space-size "$KEY_SPACE" --txn-ops "$TXN_OPS"
    selected lease-keepalive && run_workload "$server" lease-keepalive lease-keepalive --total "$LEASE_TOTAL"
    selected watch && run_workload "$server" watch watch --streams "$WATCH_STREAMS" \
        --watch-per-stream "$WATCH_PER_STREAM" --key-space-size "$WATCH_KEYS" --put-total "$WATCH_PUTS" \
        --put-rate "$WATCH_PUT_RATE"
    selected watch-latency && CLIENTS=$WATCH_LATENCY_CLIENTS run_workload "$server" watch-latency watch-latency \
        --put-total "$WATCH_LATENCY_PUTS"
    local stall_rate=$(( STALL_PUTS / STALL_SECONDS ))
    selected watch-steady && run_workload "$server" watch-steady watch --streams 10 --watch-per-stream 10 \
        --key-space-size 100 --put-total "$STALL_PUTS" --put-rate "$stall_rate" --val-size "$VAL_SIZE"
    selected watch-stall && run_workload "$server" watch-stall watch --streams 10 --watch-per-stream 10 \
        --key-space-size 100 --put-total "$STALL_PUTS" --put-rate "$stall_rate" --val-size "$VAL_SIZE" \
        --stall-seconds "$STALL_SECONDS"
    stop_server
    if [[ $server == etcetera ]] && selected watch-failover; then
        RUN_DIR=$WORK/$server-$round-failover
        if start_server etcetera "$RUN_DIR" --watch-processes 2; then
            DURING=kill_watch_process run_workload "$server" watch-failover watch --streams "$WATCH_STREAMS" \
                --watch-per-stream "$WATCH_PER_STREAM" --key-space-size "$WATCH_KEYS" --put-total "$WATCH_PUTS" \
                --put-rate "$WATCH_PUT_RATE"
            stop_server
        else
            printf '%s\t%s\tFAILED\n' "$server" watch-failover >>"$RESULTS"
        fi
    fi
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
for workload in $WORKLOADS; do
    [[ $workload == watch-memory ]] && continue
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
echo "Watch rows: throughput is events delivered per second, latency is from the put's acknowledgement to the"
echo "event's arrival, failed counts events missing, duplicated or out of order (watch-failover is Etcetera only)."
[[ -n $notes ]] && printf '\n%s' "$notes"

# Put latency of the other clients while one stream stops reading, against the same load without it.
if selected watch-steady && selected watch-stall; then
    echo
    echo "| Server | put p50 ms steady | with stalled stream | × | put p99 ms steady | with stalled stream | × | stalled stream exact | caught up (s after reading again) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---:|"
    for server in $SERVERS; do
        steady=$(awk -F '\t' -v s="$server" '$1 == s && $2 == "watch-steady" && $3 ~ /^{/ { print $3 }' "$RESULTS")
        stalled=$(awk -F '\t' -v s="$server" '$1 == s && $2 == "watch-stall" && $3 ~ /^{/ { print $3 }' "$RESULTS")
        [[ -n $steady && -n $stalled ]] || continue
        s50=$(while read -r json; do field put_p50_secs "$json"; done <<<"$steady" | median)
        s99=$(while read -r json; do field put_p99_secs "$json"; done <<<"$steady" | median)
        t50=$(while read -r json; do field put_p50_secs "$json"; done <<<"$stalled" | median)
        t99=$(while read -r json; do field put_p99_secs "$json"; done <<<"$stalled" | median)
        exact=$(while read -r json; do field stalled_exact "$json"; done <<<"$stalled" | sort | uniq -c | tr '\n' ' ')
        catch=$(while read -r json; do field stalled_catch_up_secs "$json"; done <<<"$stalled" | median)
        awk -v s="$server" -v s50="$s50" -v s99="$s99" -v t50="$t50" -v t99="$t99" -v ex="$exact" -v c="$catch" 'BEGIN {
            printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %.2f |\n", s, s50 * 1000, t50 * 1000,
                (s50 > 0 ? t50 / s50 : 0), s99 * 1000, t99 * 1000, (s99 > 0 ? t99 / s99 : 0), ex, c
        }'
    done
fi

# Memory of idle watchers: the watch-serving processes before and with them (medians, MiB).
if [[ -s $MEMORY ]]; then
    echo
    echo "Idle watchers: $((MEMORY_STREAMS * MEMORY_PER_STREAM)) over $MEMORY_STREAMS streams (median resident memory, MiB; for Etcetera the watch process(es) and the gateway)."
    echo
    echo "| Server | watch process before | with watchers | Δ per watcher (bytes) | gateway before | with watchers | total Δ MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for server in $SERVERS; do
        col() { awk -F '\t' -v s="$server" -v c="$1" '$1 == s { print $c }' "$MEMORY" | median; }
        wb=$(col 2); ww=$(col 3); gb=$(col 4); gw=$(col 5)
        [[ -n $wb ]] || continue
        awk -v s="$server" -v wb="$wb" -v ww="$ww" -v gb="$gb" -v gw="$gw" -v n=$((MEMORY_STREAMS * MEMORY_PER_STREAM)) 'BEGIN {
            printf "| %s | %.1f | %.1f | %.0f | %.1f | %.1f | %.1f |\n", s, wb / 1024, ww / 1024, (ww - wb) * 1024 / n,
                gb / 1024, gw / 1024, ((ww - wb) + (gw - gb)) / 1024
        }'
    done
fi
exit 0
