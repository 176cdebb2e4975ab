#!/usr/bin/env bash
# bench/legacy_burst.sh N CLUSTER(yes|no) [CHANNELS]: PUBLISH juggernaut N messages (spread
# over CHANNELS channels, default 10,000, no subscribers) in one pipelined burst to a fresh
# juggernautd (BIN, default build/release/juggernautd); prints how fast they were
# sequenced and applied, the daemon's CPU until it has applied them all, and its
# legacy_unsequenced counter / warning lines.
set -eu
N=${1:-100000}; CL=${2:-yes}; NCH=${3:-10000}; BIN=${BIN:-build/release/juggernautd}
cd "$(dirname "$0")/.."
D=$(mktemp -d /tmp/jg-bf.XXXX); RP=$((27000 + RANDOM % 1000)); JP=$((RP + 1000))
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --client-output-buffer-limit 'pubsub 0 0 0' >$D/r.log 2>&1 & RPID=$!
cp "$BIN" $D/juggernautd
sleep 0.5
printf "port $JP\nbind 127.0.0.1\nredis-url redis://127.0.0.1:$RP\npublic-dir $PWD/public\nlog-level warn\ncluster $CL\n" > $D/j.conf
$D/juggernautd --config $D/j.conf > $D/j.log 2>&1 & JPID=$!
trap 'kill $JPID; sleep 0.3; kill $RPID; rm -rf $D' EXIT
sleep 1
python3 -c "
out=[]
for i in range($N):
    m='{\"channels\":[\"ch-%d\"],\"data\":\"%d 123 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}'%(i%$NCH,i)
    out.append('*3\r\n\$7\r\nPUBLISH\r\n\$10\r\njuggernaut\r\n\$%d\r\n%s\r\n'%(len(m),m))
open('$D/cmds','w').write(''.join(out))
"
c0=$(cut -d' ' -f1 /proc/$JPID/schedstat); r0=$(cut -d' ' -f1 /proc/$RPID/schedstat)
t0=$(date +%s%N)
redis-cli -p $RP --pipe < $D/cmds >/dev/null
key=$([ $CL = yes ] && echo sequenced_in || echo messages_in)
for i in $(seq 600); do
    s=$(curl -s 127.0.0.1:$JP/stats)
    case $s in *"\"$key\":$N"[,}]*) break ;; esac
    sleep 0.1
done
c1=$(cut -d' ' -f1 /proc/$JPID/schedstat); r1=$(cut -d' ' -f1 /proc/$RPID/schedstat)
t1=$(date +%s%N)
echo "N=$N cluster=$CL channels=$NCH: applied in $(( (t1 - t0) / 1000000 )) ms = $(( N * 1000 / ((t1 - t0) / 1000000) )) messages/s; daemon CPU $(( (c1 - c0) / 1000000 )) ms = $(( (c1 - c0) / N )) ns/message, Redis CPU $(( (r1 - r0) / N )) ns/message (redis-cli --pipe included);" \
     "$(echo "$s" | tr ',' '\n' | grep -E '"(messages_in|messages_sequenced|sequenced_in|legacy_unsequenced)"' | tr '\n' ' ')" \
     "warning lines: $(grep -c 'not sequenced within' $D/j.log || true)"
