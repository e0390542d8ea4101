#!/usr/bin/env bash
# Defragment of a store with compacted history, Etcetera against real etcd on this machine.
#
# For each server in one run: starts it fresh (quota 8 GiB), writes BENCH_DEFRAG_BYTES of history
# (BENCH_DEFRAG_KEYS keys overwritten many times with distinct BENCH_DEFRAG_VAL_SIZE-byte values),
# compacts to the current revision (etcdctl compaction --physical), notes the database size, then
# runs `etcetera-bench defrag`: a steady writer and reader, one call at a time each, around one
# Defragment call. Notes the size after, stops the server and removes its data. Prints a Markdown
# table: defragment time, space reclaimed, the longest put during the defragment (the longest write
# pause) and the reads done meanwhile, with Etcetera/etcd ratios.
#
# Usage: scripts/bench-defrag.sh            (see docs/benchmarks.md, "Defragment")
# Environment (defaults in brackets):
#   BENCH_DEFRAG_BYTES [1073741824]            history written before the compaction (value bytes)
#   BENCH_DEFRAG_VAL_SIZE [4000]               bytes per value of the history
#   BENCH_DEFRAG_KEYS [4096]                   distinct keys (8 bytes each) the history overwrites
#   BENCH_DEFRAG_FILL_CHUNK [32768]            puts per etcetera-bench run while writing the history
#                                              (each run holds its requests in memory)
#   BENCH_DEFRAG_PUT_RATE [300]                puts per second during the defragment, one at a time
#   BENCH_DEFRAG_PUT_VAL_SIZE [256]            bytes per value of those puts
#   BENCH_DEFRAG_READ_RATE [1000]              linearizable single-key ranges per second, one at a time
#   BENCH_DEFRAG_BEFORE [5] BENCH_DEFRAG_AFTER [5]
#                                              seconds of that load before and after the defragment
#   BENCH_DEFRAG_QUOTA [8589934592]            --quota-backend-bytes of both servers
#   BENCH_SERVERS ["etcd etcetera"]            which servers to run, in order
#   BENCH_SCRATCH_PATH [.build-bench]          SwiftPM scratch path
#   BENCH_SKIP_BUILD [0]                       1 = use the binaries already in the scratch path
#   BENCH_BUILD_JOBS []                        swift build -j (1 keeps a shared machine usable)
#   BENCH_KEEP [0]                             1 = keep the temporary directory (logs, data dirs)
#   ETCD_BIN [/usr/bin/etcd] ETCDCTL_BIN [/usr/bin/etcdctl]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HISTORY_BYTES=${BENCH_DEFRAG_BYTES:-1073741824}
VAL_SIZE=${BENCH_DEFRAG_VAL_SIZE:-4000}
KEYS=${BENCH_DEFRAG_KEYS:-4096}
FILL_CHUNK=${BENCH_DEFRAG_FILL_CHUNK:-32768}
PUT_RATE=${BENCH_DEFRAG_PUT_RATE:-300}
PUT_VAL_SIZE=${BENCH_DEFRAG_PUT_VAL_SIZE:-256}
READ_RATE=${BENCH_DEFRAG_READ_RATE:-1000}
BEFORE=${BENCH_DEFRAG_BEFORE:-5}
AFTER=${BENCH_DEFRAG_AFTER:-5}
QUOTA=${BENCH_DEFRAG_QUOTA:-8589934592}
SERVERS=${BENCH_SERVERS:-"etcd etcetera"}
KEY_SIZE=8
PUTS=$(( HISTORY_BYTES / VAL_SIZE ))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-defrag.XXXXXX")
RESULTS=$WORK/results.tsv
: >"$RESULTS"

source "$ROOT/scripts/bench-servers.sh"

install_cleanup

build_binaries

etcdctl() { ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$ENDPOINT" "$@"; }

# "revision dbSize dbSizeInUse" of the running server.
status() {
    local json
    json=$(etcdctl --command-timeout 30s -w json endpoint status)
    printf '%s %s %s\n' "$(grep -o '"revision":[0-9]*' <<<"$json" | cut -d: -f2)" \
        "$(grep -o '"dbSize":[0-9]*' <<<"$json" | cut -d: -f2)" "$(grep -o '"dbSizeInUse":[0-9]*' <<<"$json" | cut -d: -f2)"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Runs etcetera-bench in the background (so that a signal to this script is handled at once).
bench() {
    "$BENCH" --json --endpoints "$ENDPOINT" "$@" &
    BENCH_PID=$!
    local status=0
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    return "$status"
}

# How often LevelDB has held writes back so far ("Too many L0 files; waiting...", "Current memtable
# full; waiting..." in its LOG files); 0 for etcd.
leveldb_waits() {
    { find "$1/data" -name LOG -exec grep -h 'waiting\.\.\.' {} + 2>/dev/null || true; } | wc -l
}

# The process that stores the data: etcd itself, or Etcetera's kv service.
storage_pid() {
    if [[ $1 == etcd ]]; then
        echo "$SERVER_PID"
        return
    fi
    local pid
    for pid in $(descendants "$SERVER_PID"); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == etcetera-kv ]] && { echo "$pid"; return; }
    done
}

# "CPU ticks, bytes written to storage" of pid $1 so far.
activity() {
    printf '%s %s\n' "$(awk '{ print $14 + $15 }' "/proc/$1/stat")" "$(awk '/^write_bytes:/ { print $2 }' "/proc/$1/io")"
}

# Waits until pid $1 has been idle (at most 10 CPU ticks, a tenth of a core, and nothing written to
# storage in each second) for 3 s in a row, at most an hour; sets IDLE_AT to when its last busy
# second ended (date +%s.%N). Background work of the storage engine (LevelDB's compactions after a
# large write, or a compaction the gateway answered early) is then over before the next step.
await_idle() {
    local pid=$1 quiet=0 ticks written last_ticks last_written
    IDLE_AT=$(now)
    read -r last_ticks last_written <<<"$(activity "$pid")"
    for _ in $(seq 1 3600); do
        sleep 1
        read -r ticks written <<<"$(activity "$pid")" || break
        if (( ticks - last_ticks <= 10 && written == last_written )); then
            quiet=$((quiet + 1))
            (( quiet < 3 )) || break
        else
            quiet=0
            IDLE_AT=$(now)
        fi
        last_ticks=$ticks
        last_written=$written
    done
}

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

run_server() {
    local server=$1 dir=$WORK/$1 started remaining chunk part=0
    log "== $server (load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
    start_server "$server" "$dir" --quota-backend-bytes "$QUOTA" || return 1

    log "  writing $PUTS puts of $VAL_SIZE bytes on $KEYS keys"
    started=$(now)
    remaining=$PUTS
    while (( remaining > 0 )); do
        chunk=$(( remaining < FILL_CHUNK ? remaining : FILL_CHUNK ))
        part=$((part + 1))
        bench --conns 8 --clients 64 put --total "$chunk" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" \
            --key-space-size "$KEYS" --distinct-values >"$dir/fill-$part.json" 2>"$dir/fill-$part.txt" \
            || { log "  fill failed:"; tail -n 5 "$dir/fill-$part.txt" >&2; return 1; }
        grep -q '"failed":0,' "$dir/fill-$part.json" \
            || { log "  fill had failed puts:"; tail -n 5 "$dir/fill-$part.txt" >&2; return 1; }
        remaining=$((remaining - chunk))
    done
    record "$server" fill_secs "$(since "$started")"
    log "  history written in $(since "$started") s; waiting until the server is idle"
    local pid
    pid=$(storage_pid "$server")
    await_idle "$pid"
    record "$server" fill_settle_secs "$(awk -v a="$started" -v b="$IDLE_AT" 'BEGIN { printf "%.2f", b - a }')"

    local revision size in_use
    read -r revision size in_use <<<"$(status)"
    record "$server" size_history "$size"
    log "  idle $(awk -v a="$started" -v b="$IDLE_AT" 'BEGIN { printf "%.2f", b - a }') s after the first put: revision $revision, dbSize $size, in use $in_use"
    started=$(now)
    # etcd answers a physical compaction once the history is gone. Etcetera's gateway gives up on
    # any kv request after 5 s ("etcdserver: request timed out") while the kv goes on compacting.
    if etcdctl --command-timeout=1h compaction --physical "$revision" >/dev/null 2>"$dir/compaction.err"; then
        record "$server" compaction_answer "$(since "$started")"
    elif grep -q "request timed out" "$dir/compaction.err"; then
        record "$server" compaction_answer "timeout $(since "$started")"
        log "  compaction: $(tail -n 1 "$dir/compaction.err"), after $(since "$started") s; waiting until the server is idle"
    else
        log "  compaction failed: $(tail -n 1 "$dir/compaction.err")"
        return 1
    fi
    await_idle "$pid"
    record "$server" compaction_secs "$(awk -v a="$started" -v b="$IDLE_AT" 'BEGIN { printf "%.2f", b - a }')"
    read -r revision size in_use <<<"$(status)"
    record "$server" size_before "$size"
    record "$server" in_use_before "$in_use"
    log "  compacted, idle $(awk -v a="$started" -v b="$IDLE_AT" 'BEGIN { printf "%.2f", b - a }') s after the compaction call: dbSize $size, in use $in_use"

    local load waits_before waits_after
    load=$(cut -d ' ' -f 1-3 /proc/loadavg)
    waits_before=$(leveldb_waits "$dir")
    bench defrag --put-rate "$PUT_RATE" --val-size "$PUT_VAL_SIZE" --read-rate "$READ_RATE" \
        --key-size "$KEY_SIZE" --key-space-size "$KEYS" --before-seconds "$BEFORE" --after-seconds "$AFTER" \
        >"$dir/defrag.json" 2>"$dir/defrag.txt" || true
    sed 's/^/    /' "$dir/defrag.txt" >&2
    record "$server" defrag "$(tail -n 1 "$dir/defrag.json")"
    record "$server" load "$load"
    read -r revision size in_use <<<"$(status)"
    record "$server" size_after "$size"
    log "  after the defragment: dbSize $size, in use $in_use"
    waits_after=$(leveldb_waits "$dir")
    [[ $server == etcetera ]] && record "$server" leveldb_waits "$((waits_after - waits_before))"

    stop_server
    du -sh "$dir/data" 2>/dev/null | sed 's/^/  data dir: /' >&2 || true
    [[ $KEEP == 1 ]] || rm -rf "$dir/data"
}

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
for server in $SERVERS; do
    run_server "$server" || { log "  $server FAILED"; stop_server; record "$server" failed 1; }
done

# --- Report ----------------------------------------------------------------------------------------
value() { awk -F '\t' -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$RESULTS" | tail -n 1; }

# The value of one table row for one server.
cell() {
    local server=$1 row=$2 json v b a
    json=$(value "$server" defrag)
    case $row in
    fill) value "$server" fill_secs ;;
    fill_settle) value "$server" fill_settle_secs ;;
    compaction_answer) value "$server" compaction_answer ;;
    compaction) value "$server" compaction_secs ;;
    size_history | size_before | in_use_before | size_after)
        v=$(value "$server" "$row"); [[ -n $v ]] && awk -v v="$v" 'BEGIN { printf "%.1f", v / 1048576 }' ;;
    reclaimed)
        b=$(value "$server" size_before); a=$(value "$server" size_after)
        [[ -n $b && -n $a ]] && awk -v b="$b" -v a="$a" 'BEGIN { printf "%.1f", (b - a) / 1048576 }' ;;
    defrag) field defrag_secs "$json" | awk '{ printf "%.2f", $1 }' ;;
    put_count) field put_during_count "$json" ;;
    put_failed) field put_during_failed "$json" ;;
    put_max) field put_during_max_secs "$json" | awk '{ printf "%.1f", $1 * 1000 }' ;;
    put_p99) field put_during_p99_secs "$json" | awk '{ printf "%.1f", $1 * 1000 }' ;;
    put_p50) field put_during_p50_secs "$json" | awk '{ printf "%.2f", $1 * 1000 }' ;;
    put_before_p99) field put_before_p99_secs "$json" | awk '{ printf "%.1f", $1 * 1000 }' ;;
    read_count) field read_during_count "$json" ;;
    read_failed) field read_during_failed "$json" ;;
    read_max) field read_during_max_secs "$json" | awk '{ printf "%.1f", $1 * 1000 }' ;;
    read_p99) field read_during_p99_secs "$json" | awk '{ printf "%.1f", $1 * 1000 }' ;;
    esac
}

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
echo
echo "### Defragment $(date -u +%Y-%m-%d) — $(nproc) cores (${cpu:-unknown CPU}), $(uname -sr), etcd $("$ETCD_BIN" --version | sed -n 's/^etcd Version: //p'), load average before: $LOAD_BEFORE"
echo
echo "History: $PUTS puts of distinct $VAL_SIZE-byte values ($(( PUTS * VAL_SIZE / 1048576 )) MiB) on $KEYS keys, then \`etcdctl compaction --physical\` to the last revision."
echo "During the defragment: $PUT_RATE puts/s ($PUT_VAL_SIZE-byte values) and $READ_RATE linearizable ranges/s, one at a time each, from $BEFORE s before to $AFTER s after; a call counts as during if it was outstanding while the Defragment call was."
echo
header="| |"; rule="|---|"
for server in $SERVERS; do
    [[ $server == etcetera ]] && header+=" Etcetera |" || header+=" $server |"
    rule+="---:|"
done
[[ $SERVERS == "etcd etcetera" ]] && { header+=" × |"; rule+="---:|"; }
echo "$header"
echo "$rule"
while IFS='|' read -r row ratio label; do
    line="| $label |"
    values=()
    for server in $SERVERS; do
        v=$(cell "$server" "$row" 2>/dev/null || true)
        [[ -n $(value "$server" failed) ]] && v=FAILED
        values+=("${v:--}")
        line+=" ${v:--} |"
    done
    if [[ $SERVERS == "etcd etcetera" && $ratio == - ]]; then
        line+=" |"
    elif [[ $SERVERS == "etcd etcetera" ]]; then
        line+=" $(awk -v e="${values[0]}" -v x="${values[1]}" 'BEGIN { print (e + 0 > 0 && x ~ /^[0-9.]+$/) ? sprintf("%.2f", x / e) : "-" }') |"
    fi
    echo "$line"
done <<'ROWS'
fill|x|history written (s)
fill_settle|x|… and the server idle again (s)
size_history|x|db size after writing (MiB)
compaction_answer|x|compaction --physical answered (s)
compaction|x|… and the server idle again (s)
size_before|x|db size before defragment (MiB)
in_use_before|-|db size in use before (MiB)
defrag|x|**defragment (s)**
size_after|x|db size after (MiB)
reclaimed|x|**space reclaimed (MiB)**
put_count|-|puts during defragment
put_failed|-|failed puts during defragment
put_max|x|**longest put during defragment (ms)**
put_p99|x|put p99 during defragment (ms)
put_p50|x|put p50 during defragment (ms)
put_before_p99|x|put p99 before defragment (ms)
read_count|-|ranges during defragment
read_failed|-|**failed ranges during defragment**
read_max|x|longest range during defragment (ms)
read_p99|x|range p99 during defragment (ms)
ROWS
echo
echo "× = Etcetera / etcd. Load average (1/5/15 min) at the start of each defragment run:$(for s in $SERVERS; do printf ' %s %s;' "$s" "$(value "$s" load)"; done)"
waits=$(value etcetera leveldb_waits)
[[ -n $waits ]] && echo "LevelDB held Etcetera's writes back $waits time(s) during the defragment run (\"waiting...\" in its LOG)."
exit 0
