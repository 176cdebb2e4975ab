#!/usr/bin/env bash
# bench/run.sh: juggernautd vs Nchan vs the kernel's ceiling, scenario by scenario, REPS
# repetitions interleaved, one Markdown table of medians (bench/README.md).
#
#   bash bench/run.sh            full run (20-30 min)    (make bench)
#   QUICK=1 bash bench/run.sh    smaller and shorter (~5 min)   (make bench QUICK=1)
#   REPS=N                       repetitions (default 3)
#   SCENARIOS="fanout rate"      a subset: fanout rate big channels chat idle poll churn slow
#                                sweep chatsweep (the last two are not in the default set)
#   PERF=1                       also count the servers' write-family syscalls with perf stat
#   BENCH_CLUSTER=both|yes|no    juggernautd with "cluster yes" (the shipped default, target
#                                juggc) and "cluster no" (the legacy direct path, target jugg):
#                                both (default: yes leads the table, no beside it, plus a
#                                "Cluster mode cost" table), or only one of them
#   BENCH_BASELINE=PATH          a second juggernautd binary (e.g. build/base/juggernautd from
#                                `make bench-base BASE_REV=main`) run beside this build with the
#                                same config in every juggernautd run (targets juggbc, juggb),
#                                plus a "Baseline" table of both and their ratio
#   SWEEP_RATES="5000 10000 ..." offered loads (msg/s) of the sweep scenario (channels)
#   CHAT_SWEEP_RATES="250 ..."   the same for chatsweep (chat)
#
# Everything runs on 127.0.0.1 with ports chosen free; every process started here is
# stopped by pid when the script exits. Servers are pinned to CPU 0, the load generator
# and Redis to CPU 1. Output: the table on stdout and in build/bench/last.md; the raw
# key=value lines of every run in build/bench/raw.txt.
set -euo pipefail
# BENCH_BASELINE may be relative to where the script was called from
[ -n "${BENCH_BASELINE:-}" ] && [ -e "$BENCH_BASELINE" ] && BENCH_BASELINE=$(realpath "$BENCH_BASELINE")
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/bench
JUGG=$ROOT/build/release/juggernautd
LG=$OUT/loadgen
CEIL=$OUT/ceiling
FLOOR=$OUT/churnfloor
QUICK=${QUICK:-}
[ "$QUICK" = 0 ] && QUICK=
REPS=${REPS:-}
[ -n "$REPS" ] || REPS=3
SCENARIOS=${SCENARIOS:-"fanout rate big channels chat idle poll churn slow"}
BENCH_CLUSTER=${BENCH_CLUSTER:-both}
case $BENCH_CLUSTER in
no) JMODES="no" ;;
yes) JMODES="yes" ;;
both) JMODES="yes no" ;;   # the shipped default first: it leads the table
*) echo "bench: BENCH_CLUSTER must be both, yes or no" >&2; exit 2 ;;
esac
BENCH_BASELINE=${BENCH_BASELINE:-}
if [ -n "$BENCH_BASELINE" ]; then
    [ -x "$BENCH_BASELINE" ] || { echo "bench: BENCH_BASELINE=$BENCH_BASELINE is not an executable" >&2; exit 2; }
    BENCH_BASELINE=$(realpath "$BENCH_BASELINE")
fi
SRV_CPU=0
LG_CPU=1

log() { printf 'bench: %s\n' "$*" >&2; }

sh scripts/install-deps.sh nginx libnginx-mod-nchan redis-server redis-tools iproute2 procps \
    gnuplot-nox >&2
for f in "$JUGG" "$LG" "$CEIL" "$FLOOR"; do
    [ -x "$f" ] || { log "missing $f: run 'make all bench-tools' first"; exit 1; }
done
NCHAN_SO=/usr/lib/nginx/modules/ngx_nchan_module.so
[ -f "$NCHAN_SO" ] || { log "missing $NCHAN_SO (Debian libnginx-mod-nchan)"; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: servers and load generator share it"
    LG_CPU=0
fi

# ---- sizes ---------------------------------------------------------------------------
# fan-out: bursts of BURST messages (every subscriber has BURST frames queued at the peak,
# whatever N), repeated K_* times so that each run makes about the same deliveries
if [ -n "$QUICK" ]; then
    BURST=20
    N_SMALL=1000;  K_SMALL=5
    N_MID=5000;    K_MID=1
    N_BIG=10000;   K_BIG=1
    N_CH=5000;     M_CH=10000
    N_CHAT=2000;   G_CHAT=20;    M_CHAT=8000
    SWEEP_SECS=3
    IDLE1=500;     IDLE2=3000
    RATE_SECS=3;   CAL_SECS=2
    CHURN_SECS=3;  SLOW_SECS=5
    RB_N=100000
else
    BURST=50
    N_SMALL=1000;  K_SMALL=20
    N_MID=10000;   K_MID=2
    N_BIG=19000;   K_BIG=1
    N_CH=10000;    M_CH=100000
    N_CHAT=10000;  G_CHAT=100;   M_CHAT=20000
    SWEEP_SECS=5
    IDLE1=1000;    IDLE2=19000
    RATE_SECS=10;  CAL_SECS=3
    CHURN_SECS=10; SLOW_SECS=16
    RB_N=500000
fi
# slow consumers: readers get SLOW_RATE msg/s on one channel; the stalled clients sit on
# another fed SLOW_STALL_RATE msg/s of SLOW_STALL_SIZE bytes (fills their buffers in seconds)
SLOW_READERS=50; SLOW_STALLED=1000; SLOW_RATE=1000
SLOW_STALL_RATE=80; SLOW_STALL_SIZE=16384; SLOW_OBUF=256k
CHURN_CONC=64
# sweep: channels (N_CH x 1 subscriber) at these offered loads, msg/s, each for SWEEP_SECS;
# a server stops at the first load it does not keep up with (its saturation)
SWEEP_RATES=${SWEEP_RATES:-"5000 10000 20000 40000 80000 160000 320000"}
# chatsweep: the chat shape at these offered loads, msg/s (x 50.5 deliveries per message)
CHAT_SWEEP_RATES=${CHAT_SWEEP_RATES:-"250 500 1000 2000 4000 8000 16000"}
RATE_START=100   # msg/s to 1,000 subscribers tried first for the below-saturation run

# ---- processes -----------------------------------------------------------------------
TMP=$(mktemp -d /tmp/jg-bench.XXXXXX)
chmod 755 "$TMP"   # nginx's worker runs as www-data
# a private copy: another session rebuilding build/release must not change the daemon mid-run
cp "$JUGG" "$TMP/juggernautd"
JUGG=$TMP/juggernautd
JUGG_BASE=""
if [ -n "$BENCH_BASELINE" ]; then
    cp "$BENCH_BASELINE" "$TMP/juggernautd-base"
    JUGG_BASE=$TMP/juggernautd-base
fi
declare -A PID=()      # name -> pid of every process this script started and still runs

stop() { # stop NAME: SIGTERM, wait up to 5 s, then SIGKILL
    local name=$1 pid=${PID[$1]:-}
    [ -n "$pid" ] || return 0
    unset "PID[$name]"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local name
    for name in "${!PID[@]}"; do stop "$name"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_used() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
TAKEN=" "
free_port() { # below the ephemeral range (32768-60999), where no client socket sits
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        case $TAKEN in *" $p "*) continue ;; esac
        port_used "$p" || { echo "$p"; return; }
    done
    log "no free port"; exit 1
}

wait_port() { # wait_port PORT NAME: until something accepts on 127.0.0.1:PORT
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "${PID[$2]}" 2>/dev/null || { log "$2 died at start"; cat "$TMP/$2.log" >&2; exit 1; }
        sleep 0.1
    done
    log "$2 does not listen on $1"; exit 1
}

RP=$(free_port); TAKEN="$TAKEN$RP "
start_redis() {
    taskset -c "$LG_CPU" redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
        --client-output-buffer-limit 'pubsub 0 0 0' --protected-mode no \
        >"$TMP/redis.log" 2>&1 &
    PID[redis]=$!
    wait_port "$RP" redis
}

JP=$(free_port); TAKEN="$TAKEN$JP "
FP=$(free_port); TAKEN="$TAKEN$FP "   # churnfloor's
JUGG_CLUSTER=${JMODES%% *}   # "cluster" of the juggernautd that start_jugg starts
JUGG_OBUF=16m                # its max-output-buffer
JUGG_BIN=new                 # which binary: new (this build) or base (BENCH_BASELINE)
# jtarget MODE [BIN]: the raw target name: jugg/juggc (this build, cluster no/yes),
# juggb/juggbc (the baseline)
jtarget() {
    local t=jugg
    [ "${2:-new}" = base ] && t=juggb
    if [ "$1" = yes ]; then echo "${t}c"; else echo "$t"; fi
}
start_jugg() { # start_jugg: juggernautd ($JUGG_BIN) with cluster $JUGG_CLUSTER, max-output-buffer $JUGG_OBUF
    # an empty Redis for every daemon: no cluster state (sessions, lease, history) of the
    # previous one, which would be reaped, or waited for, in the middle of a measurement
    redis-cli -p "$RP" FLUSHALL >/dev/null
    cat >"$TMP/jugg.conf" <<EOF
port $JP
bind 127.0.0.1
redis-url redis://127.0.0.1:$RP
public-dir $ROOT/public
log-level warn
max-connections 19800
max-output-buffer $JUGG_OBUF
drain-period 0
cluster $JUGG_CLUSTER
EOF
    local bin=$JUGG
    [ "$JUGG_BIN" = base ] && bin=$JUGG_BASE
    taskset -c "$SRV_CPU" "$bin" --config "$TMP/jugg.conf" >"$TMP/jugg.log" 2>&1 &
    PID[jugg]=$!
    wait_port "$JP" jugg
    JUGG_PID=${PID[jugg]}
    if [ "$JUGG_CLUSTER" = yes ]; then # until it leads: only the leader sequences
        local i
        for i in $(seq 100); do
            bench_get /stats | grep -q '"cluster_leader":true' && break
            [ "$i" = 100 ] && { log "juggernautd did not become the leader"; cat "$TMP/jugg.log" >&2; exit 1; }
            sleep 0.1
        done
    fi
}
bench_get() { # bench_get PATH: GET it from juggernautd, the answer (head and body) on stdout
    (exec 3<>"/dev/tcp/127.0.0.1/$JP" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3 &&
        cat <&3) 2>/dev/null
}
use_jugg() { # use_jugg no|yes [new|base]: (re)start juggernautd unless that binary runs
             # with that cluster mode
    local bin=${2:-new}
    [ "$JUGG_CLUSTER" = "$1" ] && [ "$JUGG_BIN" = "$bin" ] && [ -n "${PID[jugg]:-}" ] && return 0
    stop jugg
    JUGG_CLUSTER=$1
    JUGG_BIN=$bin
    start_jugg
}

NP=$(free_port); TAKEN="$TAKEN$NP "
start_nginx() {
    mkdir -p "$TMP/nginx"
    sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NP|g" -e "s|@WORKER_CONNECTIONS@|25000|g" \
        bench/nginx-nchan.conf.in >"$TMP/nginx/nginx.conf"
    taskset -c "$SRV_CPU" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
        >"$TMP/nginx.log" 2>&1 &
    PID[nginx]=$!
    wait_port "$NP" nginx
    NGINX_PID=$(pgrep -P "${PID[nginx]}" | head -1)
    [ -n "$NGINX_PID" ] || { log "no nginx worker"; exit 1; }
}

restart_servers() { # restart_servers [max-output-buffer]: fresh daemons (memory slopes
                     # must not reuse freed memory); juggernautd in the first mode of JMODES
    stop jugg
    stop nginx
    JUGG_CLUSTER=${JMODES%% *}
    JUGG_BIN=new
    JUGG_OBUF=${1:-16m}
    start_jugg
    start_nginx
}

# ---- running cases -------------------------------------------------------------------
RAW=$TMP/raw.txt
: >"$RAW"
PERF_FLAG=()
if [ -n "${PERF:-}" ] && perf stat -e syscalls:sys_enter_writev true >/dev/null 2>&1; then
    PERF_FLAG=(--perf)
fi

label() { echo "label $1 $2" >>"$RAW"; }

# record SCEN TARGET REP command...: runs it on the load generator's CPU, keeps its line
record() {
    local scen=$1 target=$2 rep=$3
    shift 3
    local line
    if ! line=$(taskset -c "$LG_CPU" "$@" 2>"$TMP/lg.err"); then
        log "$scen $target rep $rep failed:"
        cat "$TMP/lg.err" >&2
        line="failed=1"
    fi
    [ -s "$TMP/lg.err" ] && sed 's/^/    /' "$TMP/lg.err" >&2
    echo "scen=$scen target=$target rep=$rep $line" >>"$RAW"
    log "$scen $target #$rep: $(echo "$line" | tr ' ' '\n' |
        grep -E '^(rate|srv_cpu_us|srv_writes|p99_us|rss_per_conn_b|cycles_per_s|stalled_closed|lost|failed)=' |
        tr '\n' ' ')"
}

lg_jugg() { # loadgen arguments for juggernautd
    echo --proto sio --port "$JP" --redis-port "$RP" --server-pid "$JUGG_PID" "${PERF_FLAG[@]}"
}
lg_nchan() {
    echo --proto ws --pub http --port "$NP" --server-pid "$NGINX_PID" "${PERF_FLAG[@]}"
}
# record_jugg SCEN REP loadgen-arguments...: record juggernautd once per mode of
# BENCH_CLUSTER, as target juggc (cluster yes) and jugg (cluster no); with BENCH_BASELINE
# the baseline binary right after each, as juggbc and juggb
JBINS="new"
[ -n "$JUGG_BASE" ] && JBINS="new base"
record_jugg() {
    local scen=$1 rep=$2 m b
    shift 2
    for m in $JMODES; do
        for b in $JBINS; do
            use_jugg "$m" "$b"
            # shellcheck disable=SC2046
            record "$scen" "$(jtarget "$m" "$b")" "$rep" "$LG" $(lg_jugg) "$@"
        done
    done
}
READY_J=(--ready /stats:subscriptions)
READY_N=(--ready /nchan_status:subscribers)

fanout_case() { # fanout_case SCEN N K REP: K bursts of $BURST messages to N subscribers
    local scen=$1 n=$2 k=$3 rep=$4 m=$(( BURST * $3 ))
    label "$scen" "fanout $n subscribers, $k x burst of $BURST msgs"
    record_jugg "$scen" "$rep" --mode fanout -n "$n" --burst "$BURST" \
        --bursts "$k" "${READY_J[@]}"
    # shellcheck disable=SC2046
    record "$scen" nchan "$rep" "$LG" $(lg_nchan) --mode fanout -n "$n" --burst "$BURST" \
        --bursts "$k" "${READY_N[@]}"
    record "$scen" ceil1 "$rep" "$CEIL" -n "$n" -m "$m" --writer-cpu "$SRV_CPU" --reader-cpu "$LG_CPU"
    record "$scen" ceil16 "$rep" "$CEIL" -n "$n" -m $(( (m + 15) / 16 * 16 )) --coalesce 16 \
        --writer-cpu "$SRV_CPU" --reader-cpu "$LG_CPU"
    record "$scen" ceilu "$rep" "$CEIL" -n "$n" -m "$m" --uring 256 \
        --writer-cpu "$SRV_CPU" --reader-cpu "$LG_CPU"
}

RATE=""
calibrate_rate() { # the rate (msg/s to N_SMALL subscribers, halving from RATE_START) at
                   # which Nchan's p99 is under 50 ms, or the lowest tried
    local r=$RATE_START line p99
    while :; do
        # shellcheck disable=SC2046
        line=$(taskset -c "$LG_CPU" "$LG" $(lg_nchan) --mode fanout -n "$N_SMALL" --rate "$r" \
            --duration "$CAL_SECS" "${READY_N[@]}" 2>/dev/null || true)
        p99=$(echo "$line" | tr ' ' '\n' | sed -n 's/^p99_us=//p')
        log "calibration: $r msg/s x $N_SMALL subscribers: Nchan p99 ${p99:-?} us"
        if [ -n "$p99" ] && [ "$p99" -lt 50000 ]; then break; fi
        [ "$r" -le 6 ] && break
        r=$(( r / 2 ))
    done
    RATE=$r
}

# sweep_run NAME D2 RATE... -- loadgen-arguments...: the shape given by the arguments at
# each offered load RATE (msg/s; D2 = 2 x the deliveries per message), for juggernautd in
# the first mode of BENCH_CLUSTER (and the baseline) and Nchan, raw scenario NAME-RATE.
# Fresh servers for every step (a saturated step leaves a backlog); a server leaves the
# sweep after the first step it does not keep up with. Uses $rep of the caller.
sweep_run() {
    local name=$1 d2=$2 r t m=${JMODES%% *} done_t=" " line rate lost wait left
    shift 2
    local rates=()
    while [ "$1" != -- ]; do rates+=("$1"); shift; done
    shift
    for r in "${rates[@]}"; do
        for t in $JBINS nchan; do
            case $done_t in *" $t "*) continue ;; esac
            restart_servers
            if [ "$t" = nchan ]; then
                # shellcheck disable=SC2046
                record "$name-$r" nchan "$rep" "$LG" $(lg_nchan) "$@" --rate "$r" \
                    --duration "$SWEEP_SECS" "${READY_N[@]}"
            else
                use_jugg "$m" "$t"
                # shellcheck disable=SC2046
                record "$name-$r" "$(jtarget "$m" "$t")" "$rep" "$LG" $(lg_jugg) "$@" --rate "$r" \
                    --duration "$SWEEP_SECS" "${READY_J[@]}"
            fi
            line=$(tail -1 "$RAW")
            rate=$(echo "$line" | tr ' ' '\n' | sed -n 's/^rate=//p')
            lost=$(echo "$line" | tr ' ' '\n' | sed -n 's/^lost=//p')
            wait=$(echo "$line" | tr ' ' '\n' | sed -n 's/^srv_wait_pct=//p')
            # saturated: under 90 % of the offered deliveries made, or messages lost; not
            # when the server spent a quarter of the time waiting for its CPU (other work on
            # the machine): that step says nothing about the server, the next one is tried
            if [ -z "$rate" ] || [ "$rate" -lt $(( r * d2 * 9 / 20 )) ] || [ "${lost:-0}" -gt 0 ]; then
                if [ "${wait:-0}" -ge 25 ]; then
                    log "$name: $t missed $r msg/s while waiting ${wait}% of the time for its CPU: not counted as saturation"
                else
                    log "$name: $t saturated at $r msg/s (delivered ${rate:-?}/s, lost ${lost:-?})"
                    done_t="$done_t$t "
                fi
            fi
        done
        left=0
        for t in $JBINS nchan; do case $done_t in *" $t "*) ;; *) left=1 ;; esac; done
        if [ "$left" = 0 ]; then break; fi
    done
    return 0
}

scenario() { # scenario NAME REP
    local rep=$2
    case $1 in
    fanout)
        restart_servers
        fanout_case fanout_s "$N_SMALL" "$K_SMALL" "$rep"
        fanout_case fanout_m "$N_MID" "$K_MID" "$rep"
        ;;
    rate)
        restart_servers
        [ -n "$RATE" ] || calibrate_rate
        label rate "fanout $N_SMALL subscribers at $RATE msg/s ($((RATE * N_SMALL)) deliveries/s), ${RATE_SECS}s"
        record_jugg rate "$rep" --mode fanout -n "$N_SMALL" --rate "$RATE" \
            --duration "$RATE_SECS" "${READY_J[@]}"
        # shellcheck disable=SC2046
        record rate nchan "$rep" "$LG" $(lg_nchan) --mode fanout -n "$N_SMALL" --rate "$RATE" \
            --duration "$RATE_SECS" "${READY_N[@]}"
        ;;
    big)
        restart_servers
        fanout_case fanout_b "$N_BIG" "$K_BIG" "$rep"
        ;;
    channels)
        restart_servers
        label channels "channels: $N_CH channels x 1 subscriber, burst of $M_CH msgs (1 channel each)"
        record_jugg channels "$rep" --mode channels -n "$N_CH" --channels "$N_CH" \
            --burst "$M_CH" "${READY_J[@]}"
        # shellcheck disable=SC2046
        record channels nchan "$rep" "$LG" $(lg_nchan) --mode channels -n "$N_CH" --channels "$N_CH" \
            --burst "$M_CH" "${READY_N[@]}"
        # the kernel's floor: one send per delivery, 256 sockets' sends per io_uring call
        record channels ceilu "$rep" "$CEIL" -n "$N_CH" -m $(( M_CH / N_CH )) --uring 256 \
            --writer-cpu "$SRV_CPU" --reader-cpu "$LG_CPU"
        local payload rb
        payload=$(printf 'x%.0s' $(seq 100))   # ~100 B like the benchmark messages; no comma (CSV)
        rb=$(taskset -c "$SRV_CPU" redis-benchmark -p "$RP" -n "$RB_N" -P 16 -q --csv \
            PUBLISH bench-nobody "$payload" 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"' || true)
        echo "scen=channels target=redisbench rep=$rep rate=${rb%.*}" >>"$RAW"
        log "channels redis-benchmark #$rep: rate=$rb"
        ;;
    chat)
        restart_servers
        label chat "chat: $N_CHAT users, each on a private channel and on 1 of $G_CHAT groups of $((N_CHAT / G_CHAT)) (juggernautd: 2 subscribes on 1 WebSocket; Nchan: 1 multiplexed WebSocket), burst of $M_CHAT msgs alternating private / group"
        record_jugg chat "$rep" --mode chat -n "$N_CHAT" --groups "$G_CHAT" \
            --burst "$M_CHAT" "${READY_J[@]}"
        # shellcheck disable=SC2046
        record chat nchan "$rep" "$LG" $(lg_nchan) --mode chat -n "$N_CHAT" --groups "$G_CHAT" \
            --burst "$M_CHAT" "${READY_N[@]}"
        ;;
    sweep)
        label sweep "channels at an offered load: $N_CH channels x 1 subscriber, ${SWEEP_SECS}s per step"
        # shellcheck disable=SC2086
        sweep_run sweep 2 $SWEEP_RATES -- --mode channels -n "$N_CH" --channels "$N_CH"
        ;;
    chatsweep)
        label chatsweep "chat at an offered load: $N_CHAT users, private channel + 1 of $G_CHAT groups of $((N_CHAT / G_CHAT)), messages alternating private / group ($(( 1 + N_CHAT / G_CHAT )) deliveries per 2 messages), ${SWEEP_SECS}s per step"
        # deliveries per message, times 2: (1 private + N/G group members) per 2 messages
        # shellcheck disable=SC2086
        sweep_run chatsweep $(( 1 + N_CHAT / G_CHAT )) $CHAT_SWEEP_RATES -- --mode chat \
            -n "$N_CHAT" --groups "$G_CHAT"
        ;;
    idle)
        restart_servers
        label idle "idle WebSocket subscribers, $IDLE1 -> $IDLE2 (slope)"
        record_jugg idle "$rep" --mode idle --step1 "$IDLE1" -n "$IDLE2" "${READY_J[@]}"
        # shellcheck disable=SC2046
        record idle nchan "$rep" "$LG" $(lg_nchan) --mode idle --step1 "$IDLE1" -n "$IDLE2" "${READY_N[@]}"
        ;;
    poll)
        restart_servers
        label poll "idle long-poll sessions (xhr-polling / Nchan long-poll), $IDLE1 -> $IDLE2 (slope)"
        record_jugg poll "$rep" --mode poll --step1 "$IDLE1" -n "$IDLE2" \
            --ready /stats:polls_pending
        # shellcheck disable=SC2046
        record poll nchan "$rep" "$LG" $(lg_nchan) --mode poll --step1 "$IDLE1" -n "$IDLE2" "${READY_N[@]}"
        ;;
    churn)
        restart_servers
        label churn "churn: connect+handshake+subscribe+disconnect, $CHURN_CONC at once, ${CHURN_SECS}s"
        record_jugg churn "$rep" --mode churn --concurrency "$CHURN_CONC" \
            --duration "$CHURN_SECS"
        # shellcheck disable=SC2046
        record churn nchan "$rep" "$LG" $(lg_nchan) --mode churn --concurrency "$CHURN_CONC" \
            --duration "$CHURN_SECS"
        # the kernel's floor for the same cycles: a server that only accepts, reads, answers
        # with prebuilt bytes and closes (bench/churnfloor.c); socket.io's cycle, then Nchan's
        taskset -c "$SRV_CPU" "$FLOOR" "$FP" >"$TMP/floor.log" 2>&1 &
        PID[floor]=$!
        wait_port "$FP" floor
        record churn floorsio "$rep" "$LG" --proto sio --port "$FP" --server-pid "${PID[floor]}" \
            --mode churn --concurrency "$CHURN_CONC" --duration "$CHURN_SECS"
        record churn floorws "$rep" "$LG" --proto ws --port "$FP" --server-pid "${PID[floor]}" \
            --mode churn --concurrency "$CHURN_CONC" --duration "$CHURN_SECS"
        stop floor
        ;;
    slow)
        restart_servers "$SLOW_OBUF"
        label slow "slow consumers: $SLOW_READERS readers get $SLOW_RATE msg/s; $SLOW_STALLED clients stop reading, their channel gets $SLOW_STALL_RATE msg/s of $SLOW_STALL_SIZE B; ${SLOW_SECS}s (juggernautd max-output-buffer $SLOW_OBUF)"
        local common=(--mode slow -n "$SLOW_READERS" --stalled "$SLOW_STALLED" --rate "$SLOW_RATE"
                      --stall-rate "$SLOW_STALL_RATE" --stall-size "$SLOW_STALL_SIZE"
                      --duration "$SLOW_SECS")
        record_jugg slow "$rep" "${common[@]}" "${READY_J[@]}" \
            --stats /stats --stats-keys slow_consumers
        # shellcheck disable=SC2046
        record slow nchan "$rep" "$LG" $(lg_nchan) "${common[@]}" "${READY_N[@]}"
        ;;
    *)
        log "unknown scenario $1"; exit 1 ;;
    esac
}

# ---- versions and the run ------------------------------------------------------------
START=$(date +%s)
{
    echo "version juggernautd $("$JUGG" --version 2>&1 | head -1)"
    [ -n "$JUGG_BASE" ] && echo "version baseline $BENCH_BASELINE: $("$JUGG_BASE" --version 2>&1 | head -1), $(sha256sum "$JUGG_BASE" | cut -c1-12) (this build: $(sha256sum "$JUGG" | cut -c1-12))"
    echo "version nginx $(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "version nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
    echo "version redis $(redis-server --version | sed 's/^Redis server //' | cut -d' ' -f1)"
    echo "version kernel $(uname -r)"
    echo "version cpus $(nproc) x $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
    echo "version date $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "version command ${QUICK:+QUICK=1 }make bench (REPS=$REPS; SCENARIOS=$SCENARIOS; BENCH_CLUSTER=$BENCH_CLUSTER${JUGG_BASE:+; BENCH_BASELINE=$BENCH_BASELINE})"
    echo "version load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average at start)"
    echo "version bench_cluster $BENCH_CLUSTER"
    echo "version lead $(jtarget "${JMODES%% *}")"
} >>"$RAW"

start_redis
for rep in $(seq "$REPS"); do
    for s in $SCENARIOS; do
        log "== rep $rep/$REPS: $s ($(( $(date +%s) - START )) s so far)"
        scenario "$s" "$rep"
    done
done
stop jugg
stop nginx
stop redis
echo "version load_end $(cut -d' ' -f1-3 /proc/loadavg) (load average at the end)" >>"$RAW"
echo "version seconds $(( $(date +%s) - START ))" >>"$RAW"

mkdir -p "$OUT"
cp "$RAW" "$OUT/raw.txt"
awk -f bench/table.awk "$RAW" | tee "$OUT/last.md"
if grep -q '^scen=sweep-' "$RAW"; then
    bash bench/plot.sh "$OUT/raw.txt" "$OUT/sweep.png" sweep >&2 || log "plot failed"
fi
if grep -q '^scen=chatsweep-' "$RAW"; then
    bash bench/plot.sh "$OUT/raw.txt" "$OUT/chatsweep.png" chatsweep >&2 || log "plot failed"
fi
log "done in $(( $(date +%s) - START )) s; table in build/bench/last.md, raw lines in build/bench/raw.txt"
