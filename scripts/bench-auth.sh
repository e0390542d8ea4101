#!/usr/bin/env bash
# What auth costs: put and range throughput without auth, with auth and simple tokens, and with auth and
# JWT tokens, on Etcetera and (for reference) on etcd, in one run.
#
# Each mode starts a fresh server. With auth, root and a user `bench` holding READWRITE on every key
# (`--from-key ""`) are created, auth is enabled, and etcetera-bench runs with `--user bench:...`: each
# connection authenticates once and sends its token with every request, so the permission check of a
# user that is not root runs on every request. JWT modes use an RSA key pair made with openssl (RS256).
# Besides throughput (noisy on a shared machine) it reports CPU time per request from /proc: of all the
# server's processes, and of Etcetera's gateway alone, where the token and permission checks run.
#
# Usage: scripts/bench-auth.sh            (see docs/benchmarks.md, "Auth")
# Environment (defaults in brackets):
#   BENCH_CONNS [8]  BENCH_CLIENTS [64]  BENCH_PUT_TOTAL [20000]  BENCH_RANGE_TOTAL [40000]
#   BENCH_KEY_SIZE [8] BENCH_VAL_SIZE [256] BENCH_KEY_SPACE [100000]
#   BENCH_AUTH_MODES ["etcd:none etcd:simple etcd:jwt etcetera:none etcetera:simple etcetera:jwt"]
#   BENCH_ROUNDS [1]                     rounds (modes in reverse order in even rounds); medians shown
#   BENCH_RUN_TIMEOUT [300] BENCH_SCRATCH_PATH [.build-bench] BENCH_SKIP_BUILD [0] BENCH_BUILD_JOBS []
#   BENCH_KEEP [0] ETCD_BIN [/usr/bin/etcd] ETCDCTL_BIN [/usr/bin/etcdctl]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PUT_TOTAL=${BENCH_PUT_TOTAL:-20000}
RANGE_TOTAL=${BENCH_RANGE_TOTAL:-40000}
KEY_SIZE=${BENCH_KEY_SIZE:-8}
VAL_SIZE=${BENCH_VAL_SIZE:-256}
KEY_SPACE=${BENCH_KEY_SPACE:-100000}
MODES=${BENCH_AUTH_MODES:-"etcd:none etcd:simple etcd:jwt etcetera:none etcetera:simple etcetera:jwt"}
ROUNDS=${BENCH_ROUNDS:-1}
RANGE_KEY=bench-range-key
WORKLOADS="put range-serializable range-linearizable"
SERVERS=$(for mode in $MODES; do echo "${mode%%:*}"; done | sort -u | tr '\n' ' ')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-auth.XXXXXX")
RESULTS=$WORK/results.tsv
CPU=$WORK/cpu.tsv
: >"$RESULTS"
: >"$CPU"

source "$ROOT/scripts/bench-servers.sh"

install_cleanup
build_binaries

openssl genrsa -out "$WORK/jwt.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/jwt.pem" -pubout -out "$WORK/jwt.pub" 2>/dev/null
JWT_FLAG="jwt,pub-key=$WORK/jwt.pub,priv-key=$WORK/jwt.pem,sign-method=RS256,ttl=1h"

etcdctl() { ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$ENDPOINT" --command-timeout 10s "$@" >/dev/null; }

# root, and `bench` with READWRITE on every key; then auth on.
enable_auth() {
    etcdctl user add root:rootpw
    etcdctl user grant-role root root
    etcdctl user add bench:benchpw
    etcdctl role add bench
    etcdctl role grant-permission bench readwrite --from-key ''
    etcdctl user grant-role bench bench
    etcdctl auth enable
}

# CPU ticks (user + system) used so far by the given processes, summed.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# The server's processes: all of them, or (with a name) those whose command name it is.
server_processes() {
    local pid
    for pid in "$SERVER_PID" $(descendants "$SERVER_PID"); do
        [[ -z ${1:-} || $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && echo "$pid"
    done
}

# While a workload runs: samples the CPU counters once its clock starts (after each connection has
# authenticated: bcrypt is not part of a request's cost).
sample_cpu_start() {
    await_line "$2" "timing started" || return 1
    ALL_BEFORE=$(cpu_ticks "${ALL[@]}")
    GATEWAY_BEFORE=$(cpu_ticks "${GATEWAY[@]}")
}

# run_workload, and the CPU µs per request it cost the server and its gateway ($3: requests).
measured_workload() {
    local mode=$1 workload=$2 requests=$3
    shift 3
    mapfile -t ALL < <(server_processes)
    mapfile -t GATEWAY < <(server_processes etcetera-gatewa)
    ALL_BEFORE=0 GATEWAY_BEFORE=0
    DURING=sample_cpu_start run_workload "$mode" "$workload" "$@"
    awk -v m="$mode" -v w="$workload" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        -v a="$(( $(cpu_ticks "${ALL[@]}") - ALL_BEFORE ))" -v g="$(( $(cpu_ticks "${GATEWAY[@]}") - GATEWAY_BEFORE ))" \
        'BEGIN { printf "%s\t%s\t%.1f\t%.1f\n", m, w, a * 1e6 / hz / n, g * 1e6 / hz / n }' >>"$CPU"
}

run_mode() {
    local mode=$1 round=$2 server=${1%%:*} tokens=${1##*:}
    local -a flags=() user=() root=()
    RUN_DIR=$WORK/${server}-${tokens}-$round
    [[ $tokens == jwt ]] && flags=(--auth-token "$JWT_FLAG")
    log "== $mode (round $round of $ROUNDS)"
    if ! start_server "$server" "$RUN_DIR" "${flags[@]}"; then
        for workload in $WORKLOADS; do printf '%s\t%s\tFAILED\n' "$mode" "$workload" >>"$RESULTS"; done
        return 0
    fi
    if [[ $tokens != none ]]; then
        enable_auth
        user=(--user bench:benchpw)
        root=(--user root:rootpw)
    fi
    measured_workload "$mode" put "$PUT_TOTAL" put --total "$PUT_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
        --key-space-size "$KEY_SPACE" "${user[@]}"
    etcdctl "${root[@]}" put "$RANGE_KEY" "$(head -c "$VAL_SIZE" /dev/zero | tr '\0' v)"
    measured_workload "$mode" range-serializable "$RANGE_TOTAL" range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency s "${user[@]}"
    measured_workload "$mode" range-linearizable "$RANGE_TOTAL" range "$RANGE_KEY" --total "$RANGE_TOTAL" --consistency l "${user[@]}"
    stop_server
}

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
REVERSED=$(echo "$MODES" | tr ' ' '\n' | tac | tr '\n' ' ')
for round in $(seq 1 "$ROUNDS"); do
    order=$MODES
    (( round % 2 == 0 )) && order=$REVERSED
    for mode in $order; do run_mode "$mode" "$round"; done
done

# --- Report ----------------------------------------------------------------------------------------
echo
echo "### Auth $(date -u +%Y-%m-%d) — $(nproc) cores, $(uname -sr), etcd $("$ETCD_BIN" --version | sed -n 's/^etcd Version: //p'), load average before runs: $LOAD_BEFORE"
echo
echo "Median of $ROUNDS round(s); etcetera-bench --conns $CONNS --clients $CLIENTS; put --total $PUT_TOTAL --key-size $KEY_SIZE --val-size $VAL_SIZE --key-space-size $KEY_SPACE; range --total $RANGE_TOTAL on one ${VAL_SIZE}-byte key. With auth: as user bench (READWRITE on every key, not root)."
echo
echo "| Mode | put req/s | × no auth | range s req/s | × no auth | range l req/s | × no auth | put p99 ms | range s p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for mode in $MODES; do
    base=${mode%%:*}:none
    row="| $mode"
    for workload in $WORKLOADS; do
        read -r rps _ _ fail lost <<<"$(metrics "$mode" "$workload")"
        read -r base_rps _ _ _ _ <<<"$(metrics "$base" "$workload")"
        row+=$(awk -v r="$rps" -v b="$base_rps" 'function num(v) { return v ~ /^[0-9.eE+-]+$/ }
            BEGIN { printf " | %s | %s", num(r) ? sprintf("%.0f", r) : r, (num(r) && num(b) && b > 0) ? sprintf("%.2f", r / b) : "-" }')
        [[ $fail =~ ^[1-9] ]] && row+=" ($fail failed)"
    done
    read -r _ _ put99 _ _ <<<"$(metrics "$mode" put)"
    read -r _ _ range99 _ _ <<<"$(metrics "$mode" range-serializable)"
    row+=$(awk -v a="$put99" -v b="$range99" 'function ms(v) { return v ~ /^[0-9.eE+-]+$/ ? sprintf("%.2f", v * 1000) : v }
        BEGIN { printf " | %s | %s |", ms(a), ms(b) }')
    echo "$row"
done

# CPU per request: medians over the rounds.
cpu() { awk -F '\t' -v m="$1" -v w="$2" -v c="$3" '$1 == m && $2 == w { print $c }' "$CPU" | median; }
echo
echo "CPU time per request (µs, median over rounds): all server processes / Etcetera's gateway alone."
echo
echo "| Mode | put | range s | range l |"
echo "|---|---:|---:|---:|"
for mode in $MODES; do
    row="| $mode"
    for workload in $WORKLOADS; do
        gateway=$(cpu "$mode" "$workload" 4)
        [[ $mode == etcetera:* ]] && row+=" | $(cpu "$mode" "$workload" 3) / $gateway" || row+=" | $(cpu "$mode" "$workload" 3)"
    done
    echo "$row |"
done
