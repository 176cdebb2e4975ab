# table.awk: turns the raw lines written by bench/run.sh into Markdown tables of medians.
# Input lines: "label SCEN text", "version KEY text", "scen=S target=T rep=R key=value ...".
# Targets: juggc / jugg (juggernautd, cluster yes / no), juggbc / juggb (the same for the
# BENCH_BASELINE binary), nchan, ceil1 (one write per delivery), ceil16 (writev of 16
# frames), ceilu (one send per delivery, 256 sockets per io_uring call), floorsio / floorws
# (bench/churnfloor.c: churn cycles of socket.io / of Nchan's shape against a server that
# does nothing but the system calls), redisbench (redis-benchmark PUBLISH). The main table leads with the juggernautd
# target of "version lead" (cluster yes unless BENCH_CLUSTER=no) and shows the other mode
# beside it; more tables: cluster mode cost (both modes ran), baseline vs this build
# (BENCH_BASELINE), the offered-load sweeps (scenarios sweep-RATE, chatsweep-RATE).
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

# one row of the main table: J is the lead juggernautd column, J2 the other cluster mode's
# (printed only when that mode ran)
function row(scen, metric, j, j2, n, c, rjn, rjc, notes) {
    if (O != "")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, metric, j, j2, n, c, rjn, rjc, notes
    else
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, metric, j, n, c, rjn, rjc, notes
}

# the other mode's value of key K formatted by F (see cfmt), "-" when it did not run
function o2(s, k, f) { return O == "" ? "-" : cfmt(med(s, O, k), f) }

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

# "a / b / c" of F(s, t) over the main table's columns: lead, other mode (if any), Nchan
function per3(s, what,    r) {
    r = pick(s, L, what)
    if (O != "") r = r " / " pick(s, O, what)
    return r " / " pick(s, "nchan", what)
}

function pick(s, t, what) {
    if (what == "busy") return busy(s, t)
    if (what == "lg") return fnum(med(s, t, "lg_cpu_pct"), 0) "%"
    if (what == "err") return errors(s, t)
    if (what == "failed") { return maxv(s, t, "failed") == "" ? "-" : maxv(s, t, "failed") }
    return "?"
}

function notes(s) {
    return sprintf("server CPU %s; loadgen CPU %s; lost+dup+failed %s",
                   per3(s, "busy"), per3(s, "lg"), per3(s, "err"))
}

function p5099(s, t) { return fms(med(s, t, "p50_us")) " / " fms(med(s, t, "p99_us")) }

function fanout(s,    j, n, c1, c16, cu, jc, nc, js, ns) {
    if (!(s in seen)) return
    j = med(s, L, "rate"); n = med(s, "nchan", "rate")
    c1 = med(s, "ceil1", "rate"); c16 = med(s, "ceil16", "rate"); cu = med(s, "ceilu", "rate")
    row(label[s], "deliveries/s", frate(j), o2(s, "rate", "rate"), frate(n),
        frate(c1) " / " frate(c16) " / " frate(cu),
        ratio(j, n), ratio(j, c1) " / " ratio(j, c16) " / " ratio(j, cu), notes(s))
    j = med(s, L, "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us")
    c1 = med(s, "ceil1", "srv_cpu_us"); c16 = med(s, "ceil16", "srv_cpu_us"); cu = med(s, "ceilu", "srv_cpu_us")
    row("", "server CPU µs/delivery", fnum(j, 3), o2(s, "srv_cpu_us", "n3"), fnum(n, 3),
        fnum(c1, 3) " / " fnum(c16, 3) " / " fnum(cu, 3), ratio(j, n),
        ratio(j, c1) " / " ratio(j, c16) " / " ratio(j, cu), "")
    j = writes(s, L); n = writes(s, "nchan")
    c1 = med(s, "ceil1", "srv_writes"); c16 = med(s, "ceil16", "srv_writes")
    row("", "write syscalls/delivery", fnum(j, 3), O == "" ? "-" : fnum(writes(s, O), 3), fnum(n, 3),
        fnum(c1, 3) " / " fnum(c16, 4), ratio(j, n), "", "")
    row("", "p50 / p99 ms (burst: queueing)", p5099(s, L), O == "" ? "-" : p5099(s, O),
        p5099(s, "nchan"), "-", "", "", "")
}

function growth(s, base,    jb, js, nb, ns, ob, os) {
    if (!(s in seen) || !(base in seen)) return
    js = med(s, L, "srv_cpu_us"); jb = med(base, L, "srv_cpu_us")
    ns = med(s, "nchan", "srv_cpu_us"); nb = med(base, "nchan", "srv_cpu_us")
    if (O != "") { os = med(s, O, "srv_cpu_us"); ob = med(base, O, "srv_cpu_us") }
    row("", "CPU/delivery here ÷ at " sub_n[base] " subscribers", ratio(js, jb), ratio(os, ob),
        ratio(ns, nb), "-", "", "", "target: juggernautd <= 1.20")
}

# ---- two juggernautd targets side by side (CA, CB): cluster mode cost, baseline ----------
function crow(scen, metric, a, b, r, nt) {
    printf "| %s | %s | %s | %s | %s | %s |\n", scen, metric, a, b, r, nt
}

# one row for key K formatted by F ("rate", "ms", "n0", "n1", "n2", "n3", "mb") if either has it
function ckey(s, metric, k, f,    a, b) {
    a = med(s, CA, k); b = med(s, CB, k)
    if (a == "" && b == "") return
    crow(cfirst ? label[s] : "", metric, cfmt(a, f), cfmt(b, f), ratio(b, a),
         !cfirst ? "" : (s == "idle" || s == "poll") ? "failed " errors(s, CA) " / " errors(s, CB) : cnotes(s))
    cfirst = 0
}

function cfmt(x, f) {
    if (f == "rate") return frate(x)
    if (f == "ms") return fms(x)
    if (f == "mb") return fmb(x)
    if (f == "n0") return fnum(x, 0)
    if (f == "n1") return fnum(x, 1)
    if (f == "n2") return fnum(x, 2)
    return fnum(x, 3)
}

function cnotes(s) {
    return sprintf("server CPU %s / %s; loadgen CPU %s%% / %s%%; lost+dup+failed %s / %s",
                   busy(s, CA), busy(s, CB),
                   fnum(med(s, CA, "lg_cpu_pct"), 0), fnum(med(s, CB, "lg_cpu_pct"), 0),
                   errors(s, CA), errors(s, CB))
}

function cost(s) {
    if (!((s, CA) in seen_t) || !((s, CB) in seen_t)) return
    cfirst = 1
    if (s == "churn") {
        ckey(s, "cycles/s", "cycles_per_s", "rate")
        ckey(s, "server CPU µs/cycle", "srv_cpu_us_per_cycle", "n1")
        ckey(s, "Redis commands/cycle", "redis_cmds_per_cycle", "n2")
        return
    }
    if (s == "idle" || s == "poll") {
        ckey(s, "RSS bytes/connection", "rss_per_conn_b", "n0")
        ckey(s, "PSS bytes/connection", "pss_per_conn_b", "n0")
        return
    }
    ckey(s, s == "slow" ? "readers' deliveries/s" : "deliveries/s", "rate", "rate")
    if (s == "channels" || s == "chat") {
        ckey(s, "messages/s published and delivered", "msg_rate", "rate")
        ckey(s, "messages/s accepted by the publish path", "pub_rate", "rate")
    }
    if (s == "slow") {
        ckey(s, "readers' p99 ms, 2nd half", "p99b_us", "ms")
        ckey(s, "stalled clients disconnected", "stalled_closed", "n0")
    } else {
        ckey(s, "p50 latency ms", "p50_us", "ms")
        ckey(s, "p99 latency ms", "p99_us", "ms")
    }
    ckey(s, "server CPU µs/delivery", "srv_cpu_us", "n3")
    ckey(s, "write syscalls/delivery", "srv_writes", "n3")
    ckey(s, "Redis commands/message", "redis_cmds_per_msg", "n2")
    ckey(s, "server RSS MB, subscribed", "rss_start_kb", "mb")
    ckey(s, "server RSS MB, max", "rss_max_kb", "mb")
    ckey(s, "server RSS MB, end", "rss_end_kb", "mb")
}

function costs(a, b,    i, n, list) {
    CA = a; CB = b
    n = split("fanout_s fanout_m fanout_b rate channels chat idle poll churn slow", list, " ")
    for (i = 1; i <= n; i++) cost(list[i])
}

function mode_name(t) { return t ~ /c$/ ? "cluster yes" : "cluster no" }

# the main table's rows of a burst scenario to many small channels (channels, chat)
function small_channels(s, extra,    j, n, c) {
    if (!(s in seen)) return
    j = med(s, L, "rate"); n = med(s, "nchan", "rate"); c = med(s, "redisbench", "rate")
    row(label[s], "deliveries/s", frate(j), o2(s, "rate", "rate"), frate(n),
        extra && isnum(c) ? frate(c) " (redis-benchmark PUBLISH -P 16)" : "-",
        ratio(j, n), extra ? ratio(j, c) : "", notes(s) "; target: juggernautd >= 4 x Nchan")
    j = med(s, L, "msg_rate"); n = med(s, "nchan", "msg_rate")
    row("", "messages/s published and delivered", frate(j), o2(s, "msg_rate", "rate"), frate(n), "-",
        ratio(j, n), "", "messages / (last delivery - first publish); cluster yes: sequenced by the leader")
    j = med(s, L, "pub_rate"); n = med(s, "nchan", "pub_rate")
    row("", "messages/s accepted by the publish path", frate(j), o2(s, "pub_rate", "rate"), frate(n),
        "-", ratio(j, n), "", "juggernautd: Redis PUBLISH; Nchan: pipelined HTTP POST")
    j = med(s, L, "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us"); c = med(s, "ceilu", "srv_cpu_us")
    row("", "server CPU µs/delivery", fnum(j, 3), o2(s, "srv_cpu_us", "n3"), fnum(n, 3),
        isnum(c) ? fnum(c, 3) " (one send each, io_uring)" : "-", ratio(j, n), isnum(c) ? ratio(j, c) : "",
        "target: juggernautd <= 3")
    j = writes(s, L); n = writes(s, "nchan")
    row("", "write syscalls/delivery", fnum(j, 3), O == "" ? "-" : fnum(writes(s, O), 3), fnum(n, 3),
        "-", ratio(j, n), "", "")
    row("", "p50 / p99 ms (burst: queueing)", p5099(s, L), O == "" ? "-" : p5099(s, O),
        p5099(s, "nchan"), "-", "", "", "")
    j = med(s, L, "redis_cmds_per_msg")
    row("", "Redis commands/message (INFO commandstats)", fnum(j, 2), o2(s, "redis_cmds_per_msg", "n2"),
        "-", "-", "", "", "incl. the load generator's PUBLISH; last rep: " strv[s, L, "redis_cmds_msg"] \
        (O != "" ? " / " strv[s, O, "redis_cmds_msg"] : ""))
}

# ---- the offered-load sweeps: scenarios sweep-RATE (channels), chatsweep-RATE (chat) ----
function sweep(pre, what, png,    i, j, n, r, t, nt, tl, hdr, sep, line, b, w) {
    if (sweep_n[pre] == 0) return
    # offered loads in increasing order
    for (i = 2; i <= sweep_n[pre]; i++)
        for (j = i; j > 1 && sweep_r[pre, j - 1] + 0 > sweep_r[pre, j] + 0; j--) {
            r = sweep_r[pre, j]; sweep_r[pre, j] = sweep_r[pre, j - 1]; sweep_r[pre, j - 1] = r
        }
    nt = 0
    b = L == "juggc" ? "juggbc" : "juggb"
    if ((pre, L) in sweep_t) tl[++nt] = L
    if ((pre, b) in sweep_t) tl[++nt] = b
    if ((pre, "nchan") in sweep_t) tl[++nt] = "nchan"
    print ""
    print "Offered-load sweep, " what ": " label[pre] "; a server leaves the sweep after the first load at " \
          "which it makes under 90 % of the offered deliveries or loses messages, unless it waited for its CPU " \
          "(other work on the machine) a quarter of the time or more: then \"(waited N%)\" marks the step " \
          "and the sweep goes on. Plot: build/bench/" png " (bench/plot.sh)."
    print ""
    hdr = "| offered msg/s |"; sep = "|---:|"
    for (i = 1; i <= nt; i++) {
        hdr = hdr " " tname(tl[i]) " deliveries/s | p50 / p99 ms | server CPU µs/delivery | writes/delivery |"
        sep = sep "---:|---:|---:|---:|"
    }
    print hdr
    print sep
    for (j = 1; j <= sweep_n[pre]; j++) {
        r = sweep_r[pre, j]; n = pre "-" r
        line = "| " frate(r + 0) " |"
        for (i = 1; i <= nt; i++) {
            t = tl[i]
            if (!((n, t) in seen_t)) { line = line " - | - | - | - |"; continue }
            w = med(n, t, "srv_wait_pct")
            line = line " " frate(med(n, t, "rate")) (isnum(w) && w >= 25 ? " (waited " w "%)" : "") \
                   " | " p5099(n, t) " | " fnum(med(n, t, "srv_cpu_us"), 3) " | " fnum(writes(n, t), 3) " |"
        }
        print line
    }
}

function tname(t) {
    if (t == "nchan") return "Nchan"
    return (t ~ /^juggb/ ? "baseline" : "juggernautd") " (" mode_name(t) ")"
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
    seen[s] = 1
    targets[t] = 1
    seen_t[s, t] = 1
    if (match(s, /^(sweep|chatsweep)-/)) {
        pre = substr(s, 1, RLENGTH - 1); r = substr(s, RLENGTH + 1)
        if (!((pre, r) in sweep_seen)) { sweep_seen[pre, r] = 1; sweep_r[pre, ++sweep_n[pre]] = r }
        sweep_t[pre, t] = 1
    }
    for (i = 1; i <= NF; i++) {
        eq = index($i, "="); if (!eq) continue
        k = substr($i, 1, eq - 1); x = substr($i, eq + 1)
        if (k == "scen" || k == "target" || k == "rep") continue
        if (!isnum(x)) { strv[s, t, k] = x; continue }
        key = s SUBSEP t SUBSEP k
        val[key SUBSEP (++cnt[key])] = x
        if (k == "n" && (t == "jugg" || t == "juggc")) sub_n[s] = x
    }
}

END {
    # the lead column: run.sh writes "version lead"; older raw files: cluster no unless
    # BENCH_CLUSTER=yes
    L = version["lead"]
    if (L == "") L = version["bench_cluster"] == "yes" ? "juggc" : "jugg"
    O = L == "juggc" ? "jugg" : "juggc"
    if (!(O in targets)) O = ""
    print "juggernautd " version["juggernautd"] " | nginx " version["nginx"] " + Nchan " version["nchan"] \
          " | Redis " version["redis"] " | Linux " version["kernel"] " | " version["cpus"]
    print ""
    print version["date"] "; " version["command"] "; " version["seconds"] " s; load average at start " \
          version["load"] ", at the end " version["load_end"]
    print ""
    if (version["baseline"] != "") { print "Baseline: " version["baseline"] "."; print "" }
    print "The juggernautd column ran with `" mode_name(L) "`" (L == "juggc" ? " (the shipped default)" : "") \
          (O != "" ? "; the next column with `" mode_name(O) "`." : ".")
    print ""
    print "Medians of the repetitions. Ceiling = a bare C writer: one write(2) per delivery / one writev(2) of 16 frames / one send per delivery in io_uring calls of 256 (channels: the last one); churn: a bare server's floor (bench/churnfloor.c)."
    print ""
    if (O != "") {
        print "| scenario | metric | juggernautd (" mode_name(L) ") | " mode_name(O) " | Nchan | ceiling | jugg/Nchan | jugg/ceiling | notes (" mode_name(L) " / " mode_name(O) " / Nchan) |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---|"
    } else {
        print "| scenario | metric | juggernautd (" mode_name(L) ") | Nchan | ceiling | jugg/Nchan | jugg/ceiling | notes (jugg / Nchan) |"
        print "|---|---|---:|---:|---:|---:|---:|---|"
    }
    fanout("fanout_s")
    fanout("fanout_m")
    fanout("fanout_b")
    growth("fanout_b", "fanout_s")
    if ("rate" in seen) {
        s = "rate"
        j = med(s, L, "rate"); n = med(s, "nchan", "rate")
        row(label[s], "deliveries/s", frate(j), o2(s, "rate", "rate"), frate(n), "-", ratio(j, n), "", notes(s))
        j = med(s, L, "p50_us"); n = med(s, "nchan", "p50_us")
        row("", "p50 latency ms", fms(j), o2(s, "p50_us", "ms"), fms(n), "-", ratio(j, n), "", "")
        j = med(s, L, "p99_us"); n = med(s, "nchan", "p99_us")
        row("", "p99 latency ms", fms(j), o2(s, "p99_us", "ms"), fms(n), "-", ratio(j, n), "", "target: juggernautd <= Nchan")
        j = med(s, L, "max_us"); n = med(s, "nchan", "max_us")
        row("", "max latency ms", fms(j), o2(s, "max_us", "ms"), fms(n), "-", ratio(j, n), "", "")
        j = med(s, L, "srv_cpu_us"); n = med(s, "nchan", "srv_cpu_us")
        row("", "server CPU µs/delivery", fnum(j, 3), o2(s, "srv_cpu_us", "n3"), fnum(n, 3), "-", ratio(j, n), "", "")
    }
    small_channels("channels", 1)
    small_channels("chat", 0)
    if ("idle" in seen) {
        s = "idle"
        j = med(s, L, "rss_per_conn_b"); n = med(s, "nchan", "rss_per_conn_b")
        row(label[s], "RSS bytes/connection", fnum(j, 0), o2(s, "rss_per_conn_b", "n0"), fnum(n, 0), "-",
            ratio(j, n), "", "target: juggernautd <= 1024; failed " per3(s, "err"))
        j = med(s, L, "pss_per_conn_b"); n = med(s, "nchan", "pss_per_conn_b")
        row("", "PSS bytes/connection", fnum(j, 0), o2(s, "pss_per_conn_b", "n0"), fnum(n, 0), "-", ratio(j, n), "", "")
    }
    if ("poll" in seen) {
        s = "poll"
        j = med(s, L, "rss_per_conn_b"); n = med(s, "nchan", "rss_per_conn_b")
        row(label[s], "RSS bytes/session", fnum(j, 0), o2(s, "rss_per_conn_b", "n0"), fnum(n, 0), "-",
            ratio(j, n), "", "target: juggernautd <= 2048; failed " per3(s, "err"))
        j = med(s, L, "pss_per_conn_b"); n = med(s, "nchan", "pss_per_conn_b")
        row("", "PSS bytes/session", fnum(j, 0), o2(s, "pss_per_conn_b", "n0"), fnum(n, 0), "-", ratio(j, n), "", "")
    }
    if ("churn" in seen) {
        s = "churn"
        j = med(s, L, "cycles_per_s"); n = med(s, "nchan", "cycles_per_s")
        fs = med(s, "floorsio", "cycles_per_s"); fw = med(s, "floorws", "cycles_per_s")
        row(label[s], "cycles/s", frate(j), o2(s, "cycles_per_s", "rate"), frate(n),
            isnum(fs) ? frate(fs) " / " frate(fw) " (floor: socket.io / Nchan's cycle)" : "-", ratio(j, n),
            isnum(fs) ? ratio(j, fs) : "",
            sprintf("server CPU %s; loadgen CPU %s; failed %s", per3(s, "busy"), per3(s, "lg"),
                    per3(s, "failed")))
        j = med(s, L, "srv_cpu_us_per_cycle"); n = med(s, "nchan", "srv_cpu_us_per_cycle")
        fs = med(s, "floorsio", "srv_cpu_us_per_cycle"); fw = med(s, "floorws", "srv_cpu_us_per_cycle")
        row("", "server CPU µs/cycle", fnum(j, 1), o2(s, "srv_cpu_us_per_cycle", "n1"), fnum(n, 1),
            isnum(fs) ? fnum(fs, 1) " / " fnum(fw, 1) : "-", ratio(j, n), isnum(fs) ? ratio(j, fs) : "",
            "juggernautd: 2 connections + 2 Redis events per cycle" \
            (isnum(fw) && isnum(n) ? "; Nchan ÷ its floor " ratio(n, fw) "; target (half Nchan's) ÷ socket.io's floor " \
             ratio(n / 2, fs) : ""))
        j = med(s, L, "redis_cmds_per_cycle")
        row("", "Redis commands/cycle (INFO commandstats)", fnum(j, 2), o2(s, "redis_cmds_per_cycle", "n2"),
            "-", "-", "", "", "per cycle, last rep: " strv[s, L, "redis_cmds"] \
            (O != "" ? " / " strv[s, O, "redis_cmds"] : ""))
    }
    if ("slow" in seen) {
        s = "slow"
        row(label[s], "readers' p99 ms, 1st half -> 2nd half",
            fms(med(s, L, "p99a_us")) " -> " fms(med(s, L, "p99b_us")),
            O == "" ? "-" : fms(med(s, O, "p99a_us")) " -> " fms(med(s, O, "p99b_us")),
            fms(med(s, "nchan", "p99a_us")) " -> " fms(med(s, "nchan", "p99b_us")), "-", "", "",
            notes(s))
        row("", "readers' p50 ms, 1st half -> 2nd half",
            fms(med(s, L, "p50a_us")) " -> " fms(med(s, L, "p50b_us")),
            O == "" ? "-" : fms(med(s, O, "p50a_us")) " -> " fms(med(s, O, "p50b_us")),
            fms(med(s, "nchan", "p50a_us")) " -> " fms(med(s, "nchan", "p50b_us")), "-", "", "", "")
        row("", "server RSS MB start -> max -> end",
            fmb(med(s, L, "rss_start_kb")) " -> " fmb(med(s, L, "rss_max_kb")) " -> " fmb(med(s, L, "rss_end_kb")),
            O == "" ? "-" : fmb(med(s, O, "rss_start_kb")) " -> " fmb(med(s, O, "rss_max_kb")) " -> " fmb(med(s, O, "rss_end_kb")),
            fmb(med(s, "nchan", "rss_start_kb")) " -> " fmb(med(s, "nchan", "rss_max_kb")) " -> " fmb(med(s, "nchan", "rss_end_kb")),
            "-", "", "", "")
        row("", "stalled clients disconnected (of " med(s, L, "stalled") ")",
            fnum(med(s, L, "stalled_closed"), 0), o2(s, "stalled_closed", "n0"),
            fnum(med(s, "nchan", "stalled_closed"), 0),
            "-", "", "", "juggernautd /stats slow_consumers: " fnum(med(s, L, "slow_consumers"), 0) \
            (O != "" ? " / " fnum(med(s, O, "slow_consumers"), 0) : ""))
        j = med(s, L, "rate"); n = med(s, "nchan", "rate")
        row("", "readers' deliveries/s", frate(j), o2(s, "rate", "rate"), frate(n), "-", ratio(j, n), "", "")
    }
    sweep("sweep", "channels", "sweep.png")
    sweep("chatsweep", "chat", "chatsweep.png")
    if ("juggb" in targets || "juggbc" in targets) {
        for (i = 1; i <= 2; i++) {
            t = i == 1 ? L : O
            if (t == "") continue
            b = t == "juggc" ? "juggbc" : "juggb"
            if (!(b in targets)) continue
            print ""
            print "Baseline vs this build, `" mode_name(t) "`: the BENCH_BASELINE binary and this build with the " \
                  "same config, one right after the other in every repetition; medians; this/base > 1 is more " \
                  "(faster for rates, worse for CPU, latency and memory)."
            print ""
            print "| scenario | metric | baseline | this build | this/base | notes (base / this) |"
            print "|---|---|---:|---:|---:|---|"
            costs(b, t)
        }
    }
    if ("jugg" in targets && "juggc" in targets) {
        print ""
        print "Cluster mode cost: juggernautd with `cluster no` (the legacy direct path) and with " \
              "`cluster yes` (every message sequenced by the leader through Redis, delivered with a " \
              "\"seq\"), same run, same sizes; medians."
        print ""
        print "| scenario | metric | cluster no | cluster yes | yes/no | notes (no / yes) |"
        print "|---|---|---:|---:|---:|---|"
        costs("jugg", "juggc")
    }
}
