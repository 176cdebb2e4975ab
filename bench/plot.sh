#!/usr/bin/env bash
# bench/plot.sh: draws the offered-load sweep of a bench run (its `scen=sweep-RATE` lines)
# as a PNG: deliveries/s and p99 latency against the offered load, one line per server.
#
#   bash bench/plot.sh [RAW] [PNG] [NAME]    default build/bench/raw.txt -> build/bench/sweep.png
#
# NAME: sweep (default: the channels scenario's, lines scen=sweep-RATE) or chatsweep (chat).
#
# Medians over the repetitions, like the tables (bench/table.awk). Needs gnuplot (Debian
# gnuplot-nox, which bench/run.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
RAW=${1:-build/bench/raw.txt}
PNG=${2:-build/bench/sweep.png}
NAME=${3:-sweep}
case $NAME in
sweep) WHAT="channels scenario (1 subscriber per channel)" ;;
chatsweep) WHAT="chat scenario (private channels + groups)" ;;
*) echo "plot: NAME must be sweep or chatsweep" >&2; exit 2 ;;
esac
command -v gnuplot >/dev/null || { echo "plot: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 1; }
grep -q "^scen=$NAME-" "$RAW" || { echo "plot: no $NAME lines in $RAW (SCENARIOS=$NAME)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/jg-plot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# one data file per target: offered msg/s, deliveries/s, p99 ms (medians)
awk -v dir="$TMP" -v name="$NAME" '
function med(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "version" && $2 == "date" { d = $0; sub(/^version date /, "", d) }
$1 == "version" && $2 == "cpus" { c = $0; sub(/^version cpus /, "", c) }
index($1, "scen=" name "-") == 1 {
    r = substr($1, length(name) + 7); t = ""; rate = ""; p99 = ""; pub = 0; dl = 0; lost = 0
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "target") t = kv[2]
        else if (kv[1] == "rate") rate = kv[2]
        else if (kv[1] == "p99_us") p99 = kv[2]
        else if (kv[1] == "published") pub = kv[2]
        else if (kv[1] == "delivered") dl = kv[2]
        else if (kv[1] == "lost") lost = kv[2]
    }
    if (t == "" || rate == "") next
    # deliveries per message (1 in channels, 50.5 in chat): the offered deliveries/s
    if (pub > 0 && !(r in per)) per[r] = (dl + lost) / pub
    k = t SUBSEP r
    if (!(k in rates)) { order[++n] = k }
    rates[k] = rates[k] " " rate; p99s[k] = p99s[k] " " p99
}
END {
    for (i = 1; i <= n; i++) {
        split(order[i], tr, SUBSEP)
        f = dir "/" tr[1] ".dat"
        printf "%s %s %s %s\n", tr[2], med(rates[order[i]]), med(p99s[order[i]]) / 1000, \
            tr[2] * (tr[2] in per ? per[tr[2]] : 1) >> f
        seen[tr[1]] = 1
    }
    for (t in seen) {
        system("sort -n -o " dir "/" t ".dat " dir "/" t ".dat")
        print t > (dir "/targets")
    }
    print d " | " c > (dir "/title")
}' "$RAW"

title() {
    case $1 in
    juggc) echo "juggernautd (cluster yes)" ;;
    jugg) echo "juggernautd (cluster no)" ;;
    juggbc) echo "baseline (cluster yes)" ;;
    juggb) echo "baseline (cluster no)" ;;
    nchan) echo "Nchan" ;;
    *) echo "$1" ;;
    esac
}
style() { # juggernautd first and solid, Nchan dashed
    case $1 in
    juggc | jugg) echo "lw 2 lc rgb '#1f77b4' pt 7" ;;
    juggbc | juggb) echo "lw 2 lc rgb '#2ca02c' pt 9" ;;
    nchan) echo "lw 2 lc rgb '#d62728' pt 5 dt 2" ;;
    *) echo "lw 1" ;;
    esac
}
rplot=""; lplot=""; first=""
for t in juggc jugg juggbc juggb nchan; do
    grep -qx "$t" "$TMP/targets" || continue
    f="$TMP/$t.dat"
    [ -n "$first" ] || first=$f
    rplot="$rplot${rplot:+, }'$f' using 1:2 with linespoints $(style "$t") title '$(title "$t")'"
    lplot="$lplot${lplot:+, }'$f' using 1:3 with linespoints $(style "$t") title '$(title "$t")'"
done
mkdir -p "$(dirname "$PNG")"
gnuplot <<EOF
set terminal pngcairo size 1400,560 font ',11'
set output '$PNG'
set multiplot layout 1,2 title "$WHAT: offered-load sweep -- $(cat "$TMP/title")"
set logscale xy
set grid
set key top left
set xlabel 'offered load, messages/s'
set ylabel 'deliveries/s'
set format x '%.0s%c'
set format y '%.0s%c'
plot $rplot, '$first' using 1:4 with lines lc rgb '#999999' dt 3 title 'offered deliveries/s'
set ylabel 'p99 latency, ms (publish -> deliver)'
set format y '%g'
plot $lplot
unset multiplot
EOF
echo "plot: $PNG" >&2
