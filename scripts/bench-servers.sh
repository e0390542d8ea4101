# Shared by the benchmark scripts (sourced, not run): building, starting and stopping the servers.
#
# The sourcing script sets ROOT, WORK (the run's temporary directory; every server process's
# arguments name it) and SERVERS first. The settings every benchmark
# script shares are read from the environment below; BUILD_JOBS, if set, is passed to swift build as -j. build_binaries sets BIN_DIR and BENCH; start_server sets
# SERVER_PID, CLIENT_URL, ENDPOINT and SERVER_LOG. run_workload needs RESULTS, RUN_DIR, CONNS, CLIENTS
# and RUN_TIMEOUT; metrics reads RESULTS.

SCRATCH=${BENCH_SCRATCH_PATH:-$ROOT/.build-bench}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
BUILD_JOBS=${BENCH_BUILD_JOBS:-}
KEEP=${BENCH_KEEP:-0}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-/usr/bin/etcdctl}
CONNS=${BENCH_CONNS:-8}
CLIENTS=${BENCH_CLIENTS:-64}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
SERVER_PID=""
BENCH_PID=""

log() { printf '%s\n' "$*" >&2; }

# On exit: stops a running load generator (BENCH_PID) and the server, and removes $WORK unless KEEP=1
# or the run failed. install_cleanup sets it up, with INT and TERM ending the run through it.
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

install_cleanup() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

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


# Builds etcetera-bench, and Etcetera's executables when Etcetera is one of SERVERS, in release mode
# (unless SKIP_BUILD=1); sets BIN_DIR and BENCH.
build_binaries() {
    local -a jobs=()
    [[ -z ${BUILD_JOBS:-} ]] || jobs=(-j "$BUILD_JOBS")
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building etcetera-bench (release, scratch path $SCRATCH)"
        (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" "${jobs[@]}" --product etcetera-bench) >&2
        if [[ " $SERVERS " == *" etcetera "* ]]; then
            log "building Etcetera (release, scratch path $SCRATCH)"
            for product in etcetera etcetera-kv etcetera-auth etcetera-lease etcetera-maintenance etcetera-watch etcetera-gateway; do
                (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" "${jobs[@]}" --product "$product") >&2
            done
        fi
    fi
    BIN_DIR=$(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
    BENCH=$BIN_DIR/etcetera-bench
    [[ -x $BENCH ]] || { log "missing $BENCH"; exit 1; }
}

# Starts one server ($1: etcd or etcetera) in its own process group with its data under $2 and any
# further arguments as server flags; waits for "ready to serve client requests".
start_server() {
    local server=$1 dir=$2 port peer_port
    shift 2
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
            --initial-cluster "default=http://127.0.0.1:$peer_port" "$@" >"$SERVER_LOG" 2>&1 </dev/null &
        ;;
    etcetera)
        setsid "$BIN_DIR/etcetera" --data-dir "$dir/data" \
            --listen-client-urls "$CLIENT_URL" --advertise-client-urls "$CLIENT_URL" "$@" \
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
# With DURING set, runs that function (with the report's path) while the workload runs.
run_workload() {
    local server=$1 workload=$2
    shift 2
    local out=$RUN_DIR/$workload
    log "  $server $workload: etcetera-bench $*"
    # In the background so that a signal to this script is handled at once, not after the run.
    timeout --kill-after=5 "$RUN_TIMEOUT" "$BENCH" --json --endpoints "$ENDPOINT" \
        --conns "$CONNS" --clients "$CLIENTS" "$@" >"$out.json" 2>"$out.txt" &
    BENCH_PID=$!
    [[ -z ${DURING:-} ]] || "$DURING" "$server" "$out.txt" || true
    local status=0
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    if [[ $status -eq 0 ]]; then
        printf '%s\t%s\t%s\n' "$server" "$workload" "$(tail -n 1 "$out.json")" >>"$RESULTS"
        grep -E '^  (Requests/sec|50% in|99% in)|^(Watchers|Stalled stream)' "$out.txt" | sed 's/^/      /' >&2 || true
    else
        log "  $server $workload FAILED (exit $status); last lines:"
        tail -n 5 "$out.txt" >&2
        printf '%s\t%s\tFAILED\n' "$server" "$workload" >>"$RESULTS"
    fi
}

# Waits until the running workload's report ($1) has a line matching $2; false if the run ended.
await_line() {
    while ! grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$BENCH_PID" 2>/dev/null || return 1
        sleep 0.1
    done
}

# --- Report helpers --------------------------------------------------------------------------------
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
