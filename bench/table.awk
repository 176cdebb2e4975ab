# table.awk: turns the raw lines written by bench/run.sh into one Markdown table of medians.
# Input lines: "label SCEN text", "version KEY text", "scen=S target=T rep=R key=value ...".
# Targets: jugg (juggernautd, cluster no), juggc (juggernautd, cluster yes: BENCH_CLUSTER),
# nchan, ceil1 (one write per delivery), ceil16 (writev of 16 frames), redisbench
# (redis-benchmark PUBLISH). With juggc lines a second table compares jugg and juggc.
# Numbers are medians over the repetitions; a missing one prints as "-".

function isnum(x) { return x ~ /^-?[0-9]+(\.[0-9]+)?$/ }

function med(s, t, k,    n, i, j, a, tmp) {
    n = cnt[s SUBSEP t SUBSEP k]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = val[s SUBSEP t SUBSEP k SUBSEP i] + 0
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp }
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
}

function maxv(s, t, k,    n, i, m, v) {
    n = cnt[s SUBSEP t SUBSEP k]
    if (n == 0) return ""
    m = val[s SUBSEP t SUBSEP k SUBSEP 1] + 0
    for (i = 2; i <= n; i++) { v = val[s SUBSEP t SUBSEP k SUBSEP i] + 0; if (v > m) m = v }
    return m
}

function frate(x) {
    if (!isnum(x)) return "-"
    if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
    if (x >= 1e4) return sprintf("%.0fk", x / 1e3)
    if (x >= 1e3) return sprintf("%.1fk", x / 1e3)
    return sprintf("%.0f", x)
}

function fnum(x, d) {
    if (!isnum(x)) return "-"
    if (d == "") d = 2
    return sprintf("%." d "f", x)
}

function fmb(kb) { return isnum(kb) ? sprintf("%.1f", kb / 1024) : "-" }

function fms(us) { return isnum(us) ? sprintf("%.1f", us / 1000) : "-" }

function ratio(a, b) {
    if (!isnum(a) || !isnum(b) || b + 0 == 0) return "-"
    return sprintf("%.2f", a / b)
}

function row(scen, metric, j, n, c, rjn, rjc, notes) {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, metric, j, n, c, rjn, rjc, notes
}

# write syscalls per delivery: perf's count when run with PERF=1, else /proc/PID/io syscw
function writes(s, t,    v) {
    v = med(s, t, "srv_sys_writes")
    return v != "" ? v : med(s, t, "srv_writes")
}

function errors(s, t,    e) {
    if (cnt[s SUBSEP t SUBSEP "rate"] == 0 && cnt[s SUBSEP t SUBSEP "failed"] == 0 &&
        cnt[s SUBSEP t SUBSEP "cycles"] == 0 && cnt[s SUBSEP t SUBSEP "open"] == 0) return "-"
    e = maxv(s, t, "lost") + maxv(s, t, "dup") + maxv(s, t, "failed") + maxv(s, t, "closed")
    return e
}

function busy(s, t,    w) {
    w = med(s, t, "srv_wait_pct")
    return fnum(med(s, t, "srv_cpu_pct"), 0) "%" (isnum(w) ? " (+" fnum(w, 0) "% waiting)" : "")
}

function notes(s) {
    return sprintf("server CPU %s / %s; loadgen CPU %s%% / %s%%; lost+dup+failed %s / %s",
                   busy(s, "jugg"), busy(s, "nchan"),
                   fnum(med(s, "jugg", "lg_cpu_pct"), 0), fnum(med(s, "nchan", "lg_cpu_pct"), 0),
                   errors(s, "jugg"), errors(s, "nchan"))
}

function fanout(s,    j, n, c1, c16, jc, nc, js, ns) {
    if (!(s in seen)) return
    j = med(s, "jugg", "rate"); n = med(s, "nchan", "rate")
    c1 = med(s, "ceil1", "rate"); c16 = med(s, "ceil16", "rate")
    row(label[s], "deliveries/s", frate(j), frate(n), frate(c1) " / " frate(c16),
        ratio(j, n), ratio(j, c1) " / " ratio(j, c16), notes(s))
    j = med(s, "jugg", "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us")
    c1 = med(s, "ceil1", "srv_cpu_us"); c16 = med(s, "ceil16", "srv_cpu_us")
    row("", "server CPU µs/delivery", fnum(j, 3), fnum(n, 3), fnum(c1, 3) " / " fnum(c16, 3),
        ratio(j, n), ratio(j, c1) " / " ratio(j, c16), "")
    j = writes(s, "jugg"); n = writes(s, "nchan")
    c1 = med(s, "ceil1", "srv_writes"); c16 = med(s, "ceil16", "srv_writes")
    row("", "write syscalls/delivery", fnum(j, 3), fnum(n, 3), fnum(c1, 3) " / " fnum(c16, 4),
        ratio(j, n), "", "")
    row("", "p50 / p99 ms (burst: queueing)",
        fms(med(s, "jugg", "p50_us")) " / " fms(med(s, "jugg", "p99_us")),
        fms(med(s, "nchan", "p50_us")) " / " fms(med(s, "nchan", "p99_us")), "-", "", "", "")
}

function growth(s, base,    jb, js, nb, ns) {
    if (!(s in seen) || !(base in seen)) return
    js = med(s, "jugg", "srv_cpu_us"); jb = med(base, "jugg", "srv_cpu_us")
    ns = med(s, "nchan", "srv_cpu_us"); nb = med(base, "nchan", "srv_cpu_us")
    row("", "CPU/delivery here ÷ at " sub_n[base] " subscribers", ratio(js, jb), ratio(ns, nb),
        "-", "", "", "target: juggernautd <= 1.20")
}

# ---- cluster mode cost: jugg (cluster no) vs juggc (cluster yes) ---------------------
function crow(scen, metric, a, b, r, nt) {
    printf "| %s | %s | %s | %s | %s | %s |\n", scen, metric, a, b, r, nt
}

# one row for key K formatted by F ("rate", "ms", "n0", "n1", "n3", "mb") if either has it
function ckey(s, metric, k, f,    a, b) {
    a = med(s, "jugg", k); b = med(s, "juggc", k)
    if (a == "" && b == "") return
    crow(cfirst ? label[s] : "", metric, cfmt(a, f), cfmt(b, f), ratio(b, a),
         !cfirst ? "" : (s == "idle" || s == "poll") ? "failed " errors(s, "jugg") " / " errors(s, "juggc") : cnotes(s))
    cfirst = 0
}

function cfmt(x, f) {
    if (f == "rate") return frate(x)
    if (f == "ms") return fms(x)
    if (f == "mb") return fmb(x)
    if (f == "n0") return fnum(x, 0)
    if (f == "n1") return fnum(x, 1)
    return fnum(x, 3)
}

function cnotes(s) {
    return sprintf("server CPU %s / %s; loadgen CPU %s%% / %s%%; lost+dup+failed %s / %s",
                   busy(s, "jugg"), busy(s, "juggc"),
                   fnum(med(s, "jugg", "lg_cpu_pct"), 0), fnum(med(s, "juggc", "lg_cpu_pct"), 0),
                   errors(s, "jugg"), errors(s, "juggc"))
}

function cost(s) {
    if (!((s, "juggc") in seen_t)) return
    cfirst = 1
    if (s == "churn") {
        ckey(s, "cycles/s", "cycles_per_s", "rate")
        ckey(s, "server CPU µs/cycle", "srv_cpu_us_per_cycle", "n1")
        return
    }
    if (s == "idle" || s == "poll") {
        ckey(s, "RSS bytes/connection", "rss_per_conn_b", "n0")
        ckey(s, "PSS bytes/connection", "pss_per_conn_b", "n0")
        return
    }
    ckey(s, s == "slow" ? "readers' deliveries/s" : "deliveries/s", "rate", "rate")
    if (s == "channels")
        ckey(s, "messages/s accepted by the publish path", "pub_rate", "rate")
    if (s == "slow") {
        ckey(s, "readers' p99 ms, 2nd half", "p99b_us", "ms")
        ckey(s, "stalled clients disconnected", "stalled_closed", "n0")
    } else {
        ckey(s, "p50 latency ms", "p50_us", "ms")
        ckey(s, "p99 latency ms", "p99_us", "ms")
    }
    ckey(s, "server CPU µs/delivery", "srv_cpu_us", "n3")
    ckey(s, "write syscalls/delivery", "srv_writes", "n3")
    ckey(s, "server RSS MB, subscribed", "rss_start_kb", "mb")
    ckey(s, "server RSS MB, max", "rss_max_kb", "mb")
    ckey(s, "server RSS MB, end", "rss_end_kb", "mb")
}

{
    if ($1 == "label") { l = $0; sub(/^label [^ ]+ /, "", l); label[$2] = l; next }
    if ($1 == "version") { v = $0; sub(/^version [^ ]+ /, "", v); version[$2] = v; next }
    s = ""; t = ""
    for (i = 1; i <= NF; i++) {
        eq = index($i, "="); if (!eq) continue
        k = substr($i, 1, eq - 1); x = substr($i, eq + 1)
        if (k == "scen") s = x; else if (k == "target") t = x
    }
    if (s == "" || t == "") next
    # BENCH_CLUSTER=yes: the juggernautd column is the cluster instance
    if (t == "juggc" && version["bench_cluster"] == "yes") t = "jugg"
    seen[s] = 1
    targets[t] = 1
    seen_t[s, t] = 1
    for (i = 1; i <= NF; i++) {
        eq = index($i, "="); if (!eq) continue
        k = substr($i, 1, eq - 1); x = substr($i, eq + 1)
        if (k == "scen" || k == "target" || k == "rep" || !isnum(x)) continue
        key = s SUBSEP t SUBSEP k
        val[key SUBSEP (++cnt[key])] = x
        if (k == "n" && t == "jugg") sub_n[s] = x
    }
}

END {
    print "juggernautd " version["juggernautd"] " | nginx " version["nginx"] " + Nchan " version["nchan"] \
          " | Redis " version["redis"] " | Linux " version["kernel"] " | " version["cpus"]
    print ""
    print version["date"] "; " version["command"] "; " version["seconds"] " s; load average at start " \
          version["load"] ", at the end " version["load_end"]
    print ""
    if (version["bench_cluster"] == "yes") print "juggernautd ran with `cluster yes` (BENCH_CLUSTER=yes)."
    else print "juggernautd ran with `cluster no` (the legacy direct path)" \
        (version["bench_cluster"] == "both" ? "; `cluster yes` is in the second table." : ".")
    print ""
    print "Medians of the repetitions. Ceiling = a bare C writer: one write(2) per delivery / one writev(2) of 16 frames."
    print ""
    print "| scenario | metric | juggernautd | Nchan | ceiling | jugg/Nchan | jugg/ceiling | notes (jugg / Nchan) |"
    print "|---|---|---:|---:|---:|---:|---:|---|"
    fanout("fanout_s")
    fanout("fanout_m")
    fanout("fanout_b")
    growth("fanout_b", "fanout_s")
    if ("rate" in seen) {
        s = "rate"
        j = med(s, "jugg", "rate"); n = med(s, "nchan", "rate")
        row(label[s], "deliveries/s", frate(j), frate(n), "-", ratio(j, n), "", notes(s))
        j = med(s, "jugg", "p50_us"); n = med(s, "nchan", "p50_us")
        row("", "p50 latency ms", fms(j), fms(n), "-", ratio(j, n), "", "")
        j = med(s, "jugg", "p99_us"); n = med(s, "nchan", "p99_us")
        row("", "p99 latency ms", fms(j), fms(n), "-", ratio(j, n), "", "target: juggernautd <= Nchan")
        j = med(s, "jugg", "max_us"); n = med(s, "nchan", "max_us")
        row("", "max latency ms", fms(j), fms(n), "-", ratio(j, n), "", "")
        j = med(s, "jugg", "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us")
        row("", "server CPU µs/delivery", fnum(j, 3), fnum(n, 3), "-", ratio(j, n), "", "")
    }
    if ("channels" in seen) {
        s = "channels"
        j = med(s, "jugg", "rate"); n = med(s, "nchan", "rate"); c = med(s, "redisbench", "rate")
        row(label[s], "deliveries/s", frate(j), frate(n), frate(c) " (redis-benchmark PUBLISH -P 16)",
            ratio(j, n), ratio(j, c), notes(s))
        j = med(s, "jugg", "pub_rate"); n = med(s, "nchan", "pub_rate")
        row("", "messages/s accepted by the publish path", frate(j), frate(n), "-", ratio(j, n), "",
            "juggernautd: Redis PUBLISH; Nchan: pipelined HTTP POST")
        j = med(s, "jugg", "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us")
        row("", "server CPU µs/delivery", fnum(j, 3), fnum(n, 3), "-", ratio(j, n), "", "")
    }
    if ("idle" in seen) {
        s = "idle"
        j = med(s, "jugg", "rss_per_conn_b"); n = med(s, "nchan", "rss_per_conn_b")
        row(label[s], "RSS bytes/connection", fnum(j, 0), fnum(n, 0), "-", ratio(j, n), "",
            "target: juggernautd <= 1024; failed " errors(s, "jugg") " / " errors(s, "nchan"))
        j = med(s, "jugg", "pss_per_conn_b"); n = med(s, "nchan", "pss_per_conn_b")
        row("", "PSS bytes/connection", fnum(j, 0), fnum(n, 0), "-", ratio(j, n), "", "")
    }
    if ("poll" in seen) {
        s = "poll"
        j = med(s, "jugg", "rss_per_conn_b"); n = med(s, "nchan", "rss_per_conn_b")
        row(label[s], "RSS bytes/session", fnum(j, 0), fnum(n, 0), "-", ratio(j, n), "",
            "target: juggernautd <= 2048; failed " errors(s, "jugg") " / " errors(s, "nchan"))
        j = med(s, "jugg", "pss_per_conn_b"); n = med(s, "nchan", "pss_per_conn_b")
        row("", "PSS bytes/session", fnum(j, 0), fnum(n, 0), "-", ratio(j, n), "", "")
    }
    if ("churn" in seen) {
        s = "churn"
        j = med(s, "jugg", "cycles_per_s"); n = med(s, "nchan", "cycles_per_s")
        row(label[s], "cycles/s", frate(j), frate(n), "-", ratio(j, n), "",
            sprintf("server CPU %s / %s; loadgen CPU %s%% / %s%%; failed %s / %s",
                    busy(s, "jugg"), busy(s, "nchan"),
                    fnum(med(s, "jugg", "lg_cpu_pct"), 0), fnum(med(s, "nchan", "lg_cpu_pct"), 0),
                    maxv(s, "jugg", "failed"), maxv(s, "nchan", "failed")))
        j = med(s, "jugg", "srv_cpu_us_per_cycle"); n = med(s, "nchan", "srv_cpu_us_per_cycle")
        row("", "server CPU µs/cycle", fnum(j, 1), fnum(n, 1), "-", ratio(j, n), "",
            "juggernautd: 2 connections + 2 Redis events per cycle")
    }
    if ("slow" in seen) {
        s = "slow"
        row(label[s], "readers' p99 ms, 1st half -> 2nd half",
            fms(med(s, "jugg", "p99a_us")) " -> " fms(med(s, "jugg", "p99b_us")),
            fms(med(s, "nchan", "p99a_us")) " -> " fms(med(s, "nchan", "p99b_us")), "-", "", "",
            notes(s))
        row("", "readers' p50 ms, 1st half -> 2nd half",
            fms(med(s, "jugg", "p50a_us")) " -> " fms(med(s, "jugg", "p50b_us")),
            fms(med(s, "nchan", "p50a_us")) " -> " fms(med(s, "nchan", "p50b_us")), "-", "", "", "")
        row("", "server RSS MB start -> max -> end",
            fmb(med(s, "jugg", "rss_start_kb")) " -> " fmb(med(s, "jugg", "rss_max_kb")) " -> " fmb(med(s, "jugg", "rss_end_kb")),
            fmb(med(s, "nchan", "rss_start_kb")) " -> " fmb(med(s, "nchan", "rss_max_kb")) " -> " fmb(med(s, "nchan", "rss_end_kb")),
            "-", "", "", "")
        row("", "stalled clients disconnected (of " med(s, "jugg", "stalled") ")",
            fnum(med(s, "jugg", "stalled_closed"), 0), fnum(med(s, "nchan", "stalled_closed"), 0),
            "-", "", "", "juggernautd /stats slow_consumers: " fnum(med(s, "jugg", "slow_consumers"), 0))
        j = med(s, "jugg", "rate"); n = med(s, "nchan", "rate")
        row("", "readers' deliveries/s", frate(j), frate(n), "-", ratio(j, n), "", "")
    }
    if ("juggc" in targets) {
        print ""
        print "Cluster mode cost: juggernautd with `cluster no` (the legacy direct path) and with " \
              "`cluster yes` (every message sequenced by the leader through Redis, delivered with a " \
              "\"seq\"), same run, same sizes; medians."
        print ""
        print "| scenario | metric | cluster no | cluster yes | yes/no | notes (no / yes) |"
        print "|---|---|---:|---:|---:|---|"
        cost("fanout_s"); cost("fanout_m"); cost("fanout_b"); cost("rate"); cost("channels")
        cost("idle"); cost("poll"); cost("churn"); cost("slow")
    }
}
