#!/usr/bin/env bash
# Builds (if needed) and runs a libFuzzer target for SECONDS: scripts/fuzz.sh TARGET SECONDS, or
# scripts/fuzz.sh all SECONDS for each in turn. Targets: Fuzz/*/ (docs/reliability.md, "Fuzzing").
# The build has its own scratch path (.build-fuzz, release unless ETCETERA_FUZZ_CONFIGURATION=debug,
# which builds much faster and runs slower: the test command's smoke uses it;
# -sanitize=fuzzer,address); the committed
# seeds in Fuzz/Corpus/TARGET are read, what the fuzzer finds goes to .build-fuzz/corpus/TARGET and
# a crashing input to .build-fuzz/crashes/TARGET/. Reproduce a crash with
# `.build-fuzz/CONFIGURATION/TARGET CRASH-FILE`. Exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/fuzz.sh TARGET|all SECONDS"
[[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }
all_targets=(FuzzGRPCRequests FuzzJSONGateway FuzzBus FuzzSnapshotReader FuzzAuthFile)
if [[ $1 == all ]]; then
    targets=("${all_targets[@]}")
elif [[ -d Fuzz/$1 ]]; then
    targets=("$1")
else
    echo "unknown target $1; one of: ${all_targets[*]} or all" >&2
    exit 2
fi
seconds=$2
scratch=.build-fuzz
configuration=${ETCETERA_FUZZ_CONFIGURATION:-release}

# The fuzz targets exist in Package.swift only with ETCETERA_FUZZ set. `-enable-testing` lets a target
# reach the internals it fuzzes (@testable import) instead of widening the libraries' API for it.
# ld.gold's "Cannot export local symbol '__asan_...'" warnings are harmless and filtered out.
for target in "${targets[@]}"; do
    started=$SECONDS
    ETCETERA_FUZZ=1 swift build -c "$configuration" --scratch-path "$scratch" --product "$target" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing 2>&1 \
        | { grep -v -e "Cannot export local symbol" || true; }
    [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "fuzz: building $target failed" >&2; exit 1; }
    echo "fuzz: $target built in $((SECONDS - started)) s"
done

failed=()
for target in "${targets[@]}"; do
    corpus=$scratch/corpus/$target
    crashes=$scratch/crashes/$target
    log=$scratch/logs/$target.log
    mkdir -p "$corpus" "$crashes" "$(dirname "$log")" "Fuzz/Corpus/$target"
    echo "fuzz: running $target for $seconds s (log $log)"
    status=0
    # Leak detection is off: the Swift runtime's caches read as leaks. -timeout: an input that takes
    # longer is a hang, reported as a crash.
    "$scratch/$configuration/$target" -max_total_time="$seconds" -timeout=30 -max_len=8192 -detect_leaks=0 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "Fuzz/Corpus/$target" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(find "$corpus" -type f | wc -l)
    echo "fuzz: $target: ${execs:-?} execs, ${speed:-?} exec/s, corpus $units files ($(du -sh "$corpus" | cut -f1))"
    if [[ $status -ne 0 ]]; then
        grep -E -A 30 "^==[0-9]+==ERROR|deadly signal|Fatal error|libFuzzer: timeout" "$log" | head -60 >&2 || tail -40 "$log" >&2
        grep -E "Test unit written to|artifact_prefix" "$log" >&2 || true
        echo "fuzz: $target FAILED (exit $status); reproduce: $scratch/$configuration/$target <input above>" >&2
        failed+=("$target")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi
