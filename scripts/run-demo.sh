#!/bin/sh
# run-demo.sh BINARY CONFIG: runs juggernautd in the foreground for the demo page. If no Redis
# answers at the configured address, starts a private redis-server there for as long as
# juggernautd runs, and says so.
set -eu
bin=$1
conf=$2
url=${REDIS_URL:-${REDISTOGO_URL:-$(awk '$1 == "redis-url" { print $2 }' "$conf")}}
url=${url:-redis://127.0.0.1:6379}
hostport=${url#redis://}
hostport=${hostport##*@}
hostport=${hostport%%/*}
host=${hostport%%:*}
port=${hostport##*:}
[ "$port" = "$host" ] && port=6379
redis_pid=""
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM
if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
    echo "run-demo: no Redis answers at $host:$port; starting a private redis-server there for the demo"
    echo "run-demo: (it stops when juggernautd stops)"
    dir=$(mktemp -d)
    redis-server --bind "$host" --port "$port" --save '' --appendonly no --dir "$dir" --loglevel warning &
    redis_pid=$!
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
port_http=$(awk '$1 == "port" { print $2 }' "$conf")
echo "run-demo: open http://localhost:${PORT:-${port_http:-8080}}/ and publish with:"
echo "    redis-cli -h $host -p $port publish juggernaut '{\"channels\":[\"channel1\"],\"data\":\"hello\"}'"
"$bin" --config "$conf"
