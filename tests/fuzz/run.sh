#!/bin/sh
# tests/fuzz/run.sh: runs the libFuzzer harnesses built by tests/fuzz/fuzz.mk.
#
#   run.sh fuzz SECONDS HARNESS...     fuzz each harness for SECONDS on a copy of its seed
#                                      corpus (build/fuzz/work/<h>; tests/fuzz/corpus is never
#                                      written); crash inputs go to build/fuzz/artifacts/<h>/
#   run.sh regress 0 HARNESS...        replay tests/fuzz/corpus/<h>/* and tests/fuzz/regress/<h>/*
#
# Exit status: 0 when no harness crashed. Run from the repository root.
set -u

mode=$1
seconds=$2
shift 2

B=build/fuzz

max_len() {
    case $1 in
        fuzz_http) echo 4096 ;;
        fuzz_ws) echo 2048 ;;
        fuzz_jug_publish) echo 4096 ;;
        fuzz_cluster) echo 4096 ;;
        fuzz_config) echo 8192 ;;
        *) echo 2048 ;;
    esac
}

if [ "$mode" = fuzz ]; then
    failed=0
    summary=""
    for h in "$@"; do
        work=$B/work/$h
        art=$B/artifacts/$h
        log=$B/logs/$h.log
        rm -rf "$work" "$art"
        mkdir -p "$work" "$art" "$B/logs"
        if [ -d "tests/fuzz/corpus/$h" ]; then
            cp tests/fuzz/corpus/"$h"/* "$work"/ 2>/dev/null
        fi
        dict=""
        if [ -f "tests/fuzz/dict/$h.dict" ]; then
            dict="-dict=tests/fuzz/dict/$h.dict"
        fi
        echo "== $h: fuzzing for $seconds s (log: $log)"
        # shellcheck disable=SC2086
        "$B/$h" -max_total_time="$seconds" -max_len="$(max_len "$h")" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$art/" $dict "$work" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        if [ -z "$execs" ]; then
            # a crash ends the run before the final stats: take the last progress line
            execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
        fi
        crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
            -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
        if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
            crashes=1   # died without writing an input (e.g. in start-up)
        fi
        corpus=$(find "$work" -type f | wc -l)
        line="$h: ${execs:-0} executions, $crashes crashes, corpus $corpus inputs"
        echo "$line"
        summary="$summary$line
"
        if [ "$crashes" -ne 0 ]; then
            failed=1
            grep -a -m 1 -E 'ERROR: |runtime error|fuzz invariant failed|deadly signal' "$log"
            find "$art" -type f | sed 's/^/   input: /'
        fi
    done
    echo "== fuzz summary"
    printf '%s' "$summary"
    exit $failed
fi

if [ "$mode" = regress ]; then
    passed=0
    failed=0
    for h in "$@"; do
        list=$B/logs/$h.regress.list
        mkdir -p "$B/logs"
        find "tests/fuzz/corpus/$h" "tests/fuzz/regress/$h" -type f 2>/dev/null | sort >"$list"
        n=$(wc -l <"$list")
        [ "$n" -eq 0 ] && continue
        log=$B/logs/$h.regress.log
        # libFuzzer runs each file given as an argument once
        if xargs "$B/$h" <"$list" >"$log" 2>&1; then
            passed=$((passed + n))
            echo "$h: $n inputs replayed"
            continue
        fi
        # something failed: replay one by one to name every failing input
        while read -r f; do
            if "$B/$h" "$f" >"$log.one" 2>&1; then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
                echo "$h: FAILED on $f"
                grep -a -m 3 -E 'ERROR: |runtime error|fuzz invariant failed|deadly signal|#[0-9] ' "$log.one" |
                    sed 's/^/   /'
            fi
        done <"$list"
    done
    echo "fuzz-regress: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
fi

echo "usage: run.sh fuzz SECONDS HARNESS... | run.sh regress 0 HARNESS..." >&2
exit 2
