#!/bin/sh
# chaos.sh [RUNS]: the cluster chaos tests (tests/integration/cluster.test.js: SIGKILL and
# SIGTERM of leaders under 200 socket.io-client users; cluster_deploy.test.js: rolling
# SIGTERMs and a SIGKILL under raw polling clients with a new TCP connection per request)
# RUNS times in a row (default 5), against JUGGERNAUTD_BIN or build/release/juggernautd.
# Prints one line per run and "chaos: N/N runs passed"; exits non-zero if any run failed.
# Each failed run's output is kept in build/chaos/run-K.log.
set -u
runs=${1:-5}
mkdir -p build/chaos
passed=0
k=1
while [ "$k" -le "$runs" ]; do
    log=build/chaos/run-$k.log
    start=$(date +%s)
    if node --test tests/integration/cluster.test.js tests/chaos/cluster_deploy.test.js >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "chaos run $k/$runs: passed ($(( $(date +%s) - start )) s)"
        rm -f "$log"
    else
        echo "chaos run $k/$runs: FAILED ($(( $(date +%s) - start )) s), see $log"
        grep -E '^not ok|^# (pass|fail)' "$log" | sed 's/^/    /'
    fi
    k=$((k + 1))
done
echo "chaos: $passed/$runs runs passed"
[ "$passed" -eq "$runs" ]
