#!/usr/bin/env python3
"""benchlib.py - helpers of bench/run (Python 3 standard library only). Never run by hand.

    benchlib.py ports N                  N free loopback TCP ports, one a line
    benchlib.py pids MASTER              MASTER and its child processes, one a line
    benchlib.py cpu PID...               user+system CPU seconds of those processes, all threads
    benchlib.py mem PID...               "rss_kib=N pss_kib=N" summed over those processes
    benchlib.py sysstat                  the machine's CPU counters (/proc/stat), one word
    benchlib.py kcpu                     CPU seconds of the kernel's threads
    benchlib.py window S0 S1 PROXY_S BACKEND_S RUSAGE KERNEL_S   what the machine did between
                                         two sysstat readings (busy, client, other CPU, steal)
    benchlib.py rusage OUT CMD...        runs CMD (stdin/stdout/stderr inherited), writes
                                         "cpu_s=S wall_s=S rc=N" (CMD's own CPU) to OUT
    benchlib.py wrk FILE                 key=value lines parsed from wrk --latency output
    benchlib.py h2load FILE              key=value lines parsed from h2load output
    benchlib.py kv FILE                  key=value lines from resume's one-line output
    benchlib.py report DIR META.env MD   prints the table; writes a Markdown section to MD
    benchlib.py revoked-lines N          N index.txt lines of revoked random serials
    benchlib.py metrics URL              revgate's revocation counters from /metrics
    benchlib.py mdiff BEFORE AFTER       how two `metrics` outputs differ
    benchlib.py revreport DIR META.env MD   the same as report, for bench/run --revocation
"""
import os
import re
import resource
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cmd_ports(n):
    socks = []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
    for s in socks:
        s.close()


def _stat_fields(pid):
    with open("/proc/%s/stat" % pid) as f:
        data = f.read()
    # the command name may hold spaces and parentheses: split after the last ')'
    return data[data.rindex(")") + 2:].split()


def cmd_pids(master):
    out = [str(master)]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if _stat_fields(d)[1] == str(master):
                out.append(d)
        except (OSError, ValueError, IndexError):
            pass
    print("\n".join(out))


def cmd_cpu(*pids):
    ticks = 0
    for pid in pids:
        f = _stat_fields(pid)
        ticks += int(f[11]) + int(f[12])  # utime, stime (fields 14 and 15 of stat)
    print("%.3f" % (ticks / CLK_TCK))


def cmd_kcpu():
    """CPU seconds of the kernel's threads (children of kthreadd: ksoftirqd, kworkers...)."""
    ticks = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = _stat_fields(d)
            if d == "2" or f[1] == "2":
                ticks += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    print("%.3f" % (ticks / CLK_TCK))


def cmd_mem(*pids):
    rss = pss = 0
    for pid in pids:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        try:
            with open("/proc/%s/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    print("rss_kib=%d pss_kib=%d" % (rss, pss))


def cmd_sysstat():
    """The machine's CPU counters (jiffies) as one word: user,nice,system,idle,iowait,irq,
    softirq,steal (guest time is already in user)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    print(",".join(str(x) for x in v))


def cmd_window(s0, s1, proxy_s, backend_s, rusage_file=None, kernel_s="0"):
    """What the machine did between two sysstat readings: busy_pct (all cores), client_cpu_s
    (from the rusage file), kernel_core_pct (the kernel's threads, KERNEL_S seconds, such as
    ksoftirqd doing the loopback traffic's work), other_core_pct (user+system CPU of every
    other process: neither the proxy, the backend, the client nor a kernel thread; in % of one
    core) and steal_pct (of all cores)."""
    a = [int(x) for x in s0.split(",")]
    b = [int(x) for x in s1.split(",")]
    d = [y - x for x, y in zip(a, b)]
    total = max(1, sum(d))
    user, nice, system, idle, iowait, irq, softirq, steal = d
    ncpu = os.cpu_count() or 1
    wall = total / ncpu / CLK_TCK
    client = 0.0
    if rusage_file and os.path.exists(rusage_file):
        for m in re.finditer(r"(\w+)=(\S+)", open(rusage_file).read()):
            if m.group(1) == "cpu_s":
                client = float(m.group(2))
    kernel = float(kernel_s)
    other = ((user + nice + system) / CLK_TCK - float(proxy_s) - float(backend_s) - client -
             kernel)
    print("busy_pct=%.1f" % (100.0 * (total - idle - iowait) / total))
    print("client_cpu_s=%.3f" % client)
    print("kernel_core_pct=%.1f" % (100.0 * kernel / max(wall, 1e-9)))
    print("other_core_pct=%.1f" % (100.0 * max(0.0, other) / max(wall, 1e-9)))
    print("steal_pct=%.1f" % (100.0 * steal / total))


def cmd_rusage(out, *cmd):
    t0 = time.monotonic()
    rc = subprocess.call(list(cmd))
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write("cpu_s=%.3f wall_s=%.3f rc=%d\n" % (ru.ru_utime + ru.ru_stime, wall, rc))
    sys.exit(0)


def _duration_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        return None
    v = float(m.group(1))
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}[m.group(2)]


def cmd_wrk(path):
    text = open(path).read()
    r = {}
    m = re.search(r"^\s*50%\s+(\S+)", text, re.M)
    if m:
        r["p50_ms"] = "%.3f" % _duration_ms(m.group(1))
    m = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    if m:
        r["p99_ms"] = "%.3f" % _duration_ms(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+)(\w+)", text, re.M)
    if m:
        r["requests"] = m.group(1)
        r["seconds"] = "%.3f" % (_duration_ms(m.group(2) + m.group(3)) / 1e3)
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if m:
        r["rps"] = m.group(1)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket_errors"] = str(sum(int(x) for x in m.groups())) if m else "0"
    if m:
        r["socket_errors_detail"] = "connect=%s,read=%s,write=%s,timeout=%s" % m.groups()
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = m.group(1) if m else "0"
    for k, v in r.items():
        print("%s=%s" % (k, v))


def cmd_h2load(path):
    text = open(path).read()
    r = {}
    m = re.search(r"finished in ([0-9.]+)(\w+), ([0-9.]+) req/s", text)
    if m:
        r["seconds"] = "%.3f" % (_duration_ms(m.group(1) + m.group(2)) / 1e3)
        r["rps"] = m.group(3)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        r["succeeded"], r["failed"], r["errored"], r["timeout"] = m.group(4, 5, 6, 7)
    m = re.search(r"status codes: (\d+) 2xx", text)
    if m:
        r["status_2xx"] = m.group(1)
    for k, v in r.items():
        print("%s=%s" % (k, v))


def cmd_kv(path):
    line = open(path).read().strip().splitlines()
    line = line[-1] if line else ""
    for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line):
        print("%s=%s" % (m.group(1), m.group(2).strip('"')))


# --- the report --------------------------------------------------------------------------------

def load_env(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                d[k] = v
    return d


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


# (label, key, format, better, target) ; better: "high", "low" or None (no ratio)
ROWS = [
    ("Keep-alive mTLS req/s (wrk, {conns} conns)", "ka_rps", "{:,.0f}", "high", ">= 1.0x"),
    ("  p50 latency (ms)", "ka_p50_ms", "{:.2f}", "low", None),
    ("  p99 latency (ms)", "ka_p99_ms", "{:.2f}", "low", "<= nginx"),
    ("  errors (socket + non-2xx)", "ka_errors", "{:,.0f}", None, None),
    ("  proxy CPU per request (us)", "ka_cpu_us", "{:.1f}", "low", None),
    ("  backend CPU per request (us)", "ka_backend_cpu_us", "{:.1f}", None, None),
    ("  machine CPU busy (%)", "ka_busy_pct", "{:.0f}", None, None),
    ("  client CPU per request (us)", "ka_client_cpu_us", "{:.1f}", None, None),
    ("  kernel threads' CPU (% of one core)", "ka_kernel_core_pct", "{:.1f}", None, None),
    ("Keep-alive req/s, cross-check (h2load --h1)", "h2_rps", "{:,.0f}", "high", None),
    ("Full handshakes/s (wrk, Connection: close)", "full_rps", "{:,.0f}", "high", ">= 1.2x"),
    ("  of which resumed (must be 0)", "full_resumed", "{:,.0f}", None, None),
    ("  errors (socket + non-2xx)", "full_errors", "{:,.0f}", None, None),
    ("  proxy CPU per handshake (us)", "full_cpu_us", "{:.0f}", "low", None),
    ("Full handshakes/s, cross-check (resume --no-resume)", "fullx_cps", "{:,.0f}", "high",
     None),
    ("  p50 / p99 per connection (ms)", "fullx_lat", "{}", None, None),
    ("  errors", "fullx_errors", "{:,.0f}", None, None),
    ("Resumed handshakes/s (resume)", "res_cps", "{:,.0f}", "high", ">= 1.0x"),
    ("  resumed fraction (of the tickets offered)", "res_fraction", "{:.4f}", None, None),
    ("  p50 / p99 per connection (ms)", "res_lat", "{}", None, None),
    ("  errors", "res_errors", "{:,.0f}", None, None),
    ("  proxy CPU per handshake (us)", "res_cpu_us", "{:.0f}", "low", None),
    ("  new ticket sent on a resumed connection", "res_renewed_fraction", "{:.4f}", None,
     None),
    ("Connections/s, single-use tickets (resume --single-use)", "su_cps", "{:,.0f}", "high",
     None),
    ("  of which resumed (share)", "su_share", "{:.4f}", None, None),
    ("  proxy CPU per connection (us)", "su_cpu_us", "{:.0f}", "low", None),
    ("Other processes' CPU during a run, max (% of one core)", "other_max", "{:.1f}", None,
     None),
    ("Hypervisor steal during a run, max (% of all cores)", "steal_max", "{:.1f}", None, None),
    ("RSS after the runs (MiB)", "rss_mib", "{:.1f}", "low", None),
    ("  PSS after the runs (MiB)", "pss_mib", "{:.1f}", "low", None),
]


def fmt(fmt_s, v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return fmt_s.format(v)


def values(d):
    """The numbers of one target, derived from its raw key=value results."""
    v = {}
    for k in ("ka_rps", "ka_p50_ms", "ka_p99_ms", "h2_rps", "full_rps"):
        v[k] = num(d, k)
    v["fullx_cps"] = num(d, "fullx_conns_per_s")
    v["res_cps"] = num(d, "res_resumed_per_s")
    v["res_fraction"] = num(d, "res_resumed_fraction")
    v["res_renewed_fraction"] = num(d, "res_renewed_fraction")
    v["su_cps"] = num(d, "su_conns_per_s")
    v["su_share"] = num(d, "su_resumed_share")
    if num(d, "ka_socket_errors") is not None:
        v["ka_errors"] = num(d, "ka_socket_errors") + (num(d, "ka_non2xx") or 0)
    if num(d, "full_socket_errors") is not None:
        v["full_errors"] = num(d, "full_socket_errors") + (num(d, "full_non2xx") or 0)
    v["full_resumed"] = num(d, "full_shim_resumed")
    v["fullx_errors"] = num(d, "fullx_errors")
    v["res_errors"] = num(d, "res_errors")
    # CPU per full handshake: per handshake the client completed (the shim's count), which is
    # the completed requests plus those cut off at the end of the run
    full_n = "full_shim_handshakes" if num(d, "full_shim_handshakes") else "full_requests"
    for prefix, count in (("ka", "ka_requests"), ("full", full_n), ("res", "res_conns"),
                          ("su", "su_conns")):
        cpu, n = num(d, prefix + "_proxy_cpu_s"), num(d, count)
        v[prefix + "_cpu_us"] = cpu / n * 1e6 if cpu is not None and n else None
    cpu, n = num(d, "ka_backend_cpu_s"), num(d, "ka_requests")
    v["ka_backend_cpu_us"] = cpu / n * 1e6 if cpu is not None and n else None
    v["ka_busy_pct"] = num(d, "ka_busy_pct")
    v["ka_kernel_core_pct"] = num(d, "ka_kernel_core_pct")
    cpu, n = num(d, "ka_client_cpu_s"), num(d, "ka_requests")
    v["ka_client_cpu_us"] = cpu / n * 1e6 if cpu is not None and n else None
    runs = ("ka", "h2", "full", "fullx", "res", "su")
    others = [num(d, r + "_other_core_pct") for r in runs]
    others = [x for x in others if x is not None]
    v["other_max"] = max(others) if others else None
    steals = [num(d, r + "_steal_pct") for r in runs]
    steals = [x for x in steals if x is not None]
    v["steal_max"] = max(steals) if steals else None
    for prefix in ("fullx", "res"):
        p50, p99 = num(d, prefix + "_p50_ms"), num(d, prefix + "_p99_ms")
        v[prefix + "_lat"] = "%.2f / %.2f" % (p50, p99) if p50 is not None else None
    rss, pss = num(d, "rss_kib"), num(d, "pss_kib")
    v["rss_mib"] = rss / 1024 if rss is not None else None
    v["pss_mib"] = pss / 1024 if pss else None
    return v


def verdict(key, target, r, n):
    if target is None or r is None or n is None:
        return ""
    if target == "<= nginx":
        return "met" if r <= n else "NOT met"
    need = float(target.split()[1].rstrip("x"))
    return "met" if n and r / n >= need else "NOT met"


def machine_line(meta):
    """The record's "Machine:" line: cores, CPU, memory, and how quiet the machine was."""
    return ("- Machine: %s cores (nproc), %s, %s GiB RAM; load average at the start "
            "(before the build): %s; CPU used by other processes in the %s s before the "
            "measurements: %s%% of one core" % (
                meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("mem_gib", "?"),
                meta.get("load_start", "?"), meta.get("quiet_seconds", "?"),
                meta.get("quiet_other_pct", "?")))


def read_lines(path):
    """The non-empty lines of PATH without their newlines; none if it does not exist."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def print_problems(resdir):
    """Prints the run's problems and noise notes (from RESDIR) under the table; returns both."""
    problems = read_lines(os.path.join(resdir, "problems.txt"))
    noise = read_lines(os.path.join(resdir, "noise.txt"))
    if problems:
        print("\nProblems:")
        for p in problems:
            print("  - " + p)
    if noise:
        print("\nNoise (other processes' CPU during a measurement, >= 15% of a core):")
        for p in noise:
            print("  - " + p)
    return problems, noise


# the handshake rows, for the four resumption set-ups side by side
RESUMPTION_ROWS = [
    ("Full handshakes/s (wrk, Connection: close)", "full_rps", "{:,.0f}", "high"),
    ("  proxy CPU per handshake (us)", "full_cpu_us", "{:.0f}", "low"),
    ("Full handshakes/s, cross-check (resume --no-resume)", "fullx_cps", "{:,.0f}", "high"),
    ("Resumed handshakes/s (resume)", "res_cps", "{:,.0f}", "high"),
    ("  resumed fraction (of the tickets offered)", "res_fraction", "{:.4f}", None),
    ("  proxy CPU per handshake (us)", "res_cpu_us", "{:.0f}", "low"),
    ("Connections/s, single-use tickets (resume --single-use)", "su_cps", "{:,.0f}", "high"),
    ("  of which resumed (share)", "su_share", "{:.4f}", None),
    ("  proxy CPU per connection (us)", "su_cpu_us", "{:.0f}", "low"),
    ("RSS after the runs (MiB)", "rss_mib", "{:.1f}", "low"),
]
RESUMPTION_SETUPS = [
    ("revgate", "revgate, session cache"),
    ("revgate-tickets", "revgate, tickets"),
    ("nginx", "nginx, tickets"),
    ("nginx-cache", "nginx, session cache"),
]


def resumption_table(resdir):
    """Header and rows comparing the resumption set-ups measured; None without the variants."""
    found = {t: values(load_env(os.path.join(resdir, t + ".env")))
             for t, _ in RESUMPTION_SETUPS if os.path.exists(os.path.join(resdir, t + ".env"))}
    if "revgate-tickets" not in found and "nginx-cache" not in found:
        return None
    cols = [(t, label) for t, label in RESUMPTION_SETUPS if t in found]
    pairs = [("revgate-tickets", "nginx", "revgate/nginx, tickets"),
             ("revgate", "nginx-cache", "revgate/nginx, caches")]
    pairs = [p for p in pairs if p[0] in found and p[1] in found]
    head = ["Measurement"] + [label for _, label in cols] + [p[2] for p in pairs]
    rows = []
    for label, key, f, better in RESUMPTION_ROWS:
        row = [label] + [fmt(f, found[t].get(key)) for t, _ in cols]
        for a, b, _ in pairs:
            r, n = found[a].get(key), found[b].get(key)
            ok = better and isinstance(r, float) and isinstance(n, float) and n
            row.append("%.2fx" % (r / n) if ok else "")
        rows.append(row)
    return head, rows


def cmd_report(resdir, meta_path, md_path):
    meta = load_env(meta_path)
    rg = values(load_env(os.path.join(resdir, "revgate.env")))
    ng = values(load_env(os.path.join(resdir, "nginx.env")))
    conns = meta.get("connections", "64")
    rows = []
    for label, key, f, better, target in ROWS:
        r, n = rg.get(key), ng.get(key)
        ratio = ""
        if better and isinstance(r, float) and isinstance(n, float) and n:
            ratio = "%.2fx" % (r / n)
        tgt = ""
        if target:
            tgt = "%s: %s" % (target, verdict(key, target, r, n) or "n/a")
        rows.append((label.format(conns=conns), fmt(f, r), fmt(f, n), ratio, tgt))
    head = ("Measurement", "revgate", "nginx", "revgate/nginx", "target")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    line = "  ".join("%-*s" % (widths[i], head[i]) for i in range(5))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(("%-*s" if i == 0 else "%*s") % (widths[i], row[i])
                        for i in range(5)).rstrip())
    resumption = resumption_table(resdir)
    if resumption:
        h, rrows = resumption
        w = [max(len(str(x[i])) for x in rrows + [h]) for i in range(len(h))]
        print()
        print("Resumption set-ups (handshake runs):")
        print("  ".join("%-*s" % (w[i], h[i]) for i in range(len(h))))
        for row in rrows:
            print("  ".join(("%-*s" if i == 0 else "%*s") % (w[i], row[i])
                            for i in range(len(h))).rstrip())
    problems, noise = print_problems(resdir)
    if md_path == "-":
        return
    out = []
    out.append("## Run of %s\n" % meta.get("date", "?"))
    out.append("- Command: `%s`" % meta.get("command", "bench/run"))
    out.append(machine_line(meta))
    out.append("- Software: %s; %s; nginx %s; wrk %s; h2load %s; kernel %s" % (
        meta.get("openssl", "?"), meta.get("revgate", "?"), meta.get("nginx", "?"),
        meta.get("wrk", "?"), meta.get("h2load", "?"), meta.get("kernel", "?")))
    out.append("- Each measurement %s s (warm-up %s s), keep-alive over %s connections "
               "(wrk -t%s), handshake runs over %s connections (wrk) and %s threads "
               "(resume); targets measured one after the other: %s" % (
                   meta.get("duration", "?"), meta.get("warmup", "?"), conns,
                   meta.get("wrk_threads", "?"), conns, meta.get("resume_threads", "?"),
                   meta.get("targets", "?")))
    if meta.get("note"):
        out.append("- Note: %s" % meta["note"])
    out.append("")
    out.append("| Measurement | revgate | nginx | revgate/nginx | target |")
    out.append("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        label = row[0].strip()
        if row[0].startswith("  "):
            label = "&nbsp;&nbsp;" + label
        out.append("| %s | %s | %s | %s | %s |" % (label, row[1], row[2], row[3], row[4]))
    out.append("")
    for t in ("revgate", "nginx"):
        h = meta.get("headers_" + t)
        if h:
            out.append("Headers the backend received through %s: `%s`  " % (t, h))
    probes = ["%s %s" % (t, meta["wrkprobe_" + t]) for t in ("revgate", "nginx")
              if meta.get("wrkprobe_" + t)]
    if probes:
        out.append("Plain `wrk -H 'Connection: close'` (without the shim's BENCH_NO_RESUME), "
                   "2 s, resumed: %s handshakes.  " % "; ".join(probes))
    if resumption:
        h, rrows = resumption
        out.append("")
        out.append("Resumption set-ups, handshake runs only (revgate's default is its session "
                   "cache, nginx's in the table above stateless tickets):")
        out.append("")
        out.append("| " + " | ".join(h) + " |")
        out.append("| --- |" + " ---: |" * (len(h) - 1))
        for row in rrows:
            label = row[0].strip()
            if row[0].startswith("  "):
                label = "&nbsp;&nbsp;" + label
            out.append("| " + " | ".join([label] + row[1:]) + " |")
    if problems:
        out.append("")
        out.append("Problems seen in this run:")
        out.append("")
        for p in problems:
            out.append("- " + p)
    if noise:
        out.append("")
        out.append("Noise: other processes took 15%% of a core or more during these "
                   "measurements: %s." % "; ".join(noise))
    out.append("")
    with open(md_path, "a") as f:
        f.write("\n".join(out) + "\n")


# --- --revocation ------------------------------------------------------------------------------

def cmd_revoked_lines(n):
    """N lines of an `openssl ca` index.txt, each a certificate revoked yesterday
    (keyCompromise) with a random positive 128-bit serial, expiring in 30 days."""
    import datetime
    import secrets
    now = datetime.datetime.now(datetime.timezone.utc)
    exp = (now + datetime.timedelta(days=30)).strftime("%y%m%d%H%M%SZ")
    rev = (now - datetime.timedelta(days=1)).strftime("%y%m%d%H%M%SZ")
    out = []
    seen = set()
    while len(out) < int(n):
        # 32 hex digits, the first 1-7: positive, no leading zero byte (as pki.sh's serials)
        serial = secrets.choice("1234567") + secrets.token_hex(16).upper()[1:]
        if serial in seen:
            continue
        seen.add(serial)
        out.append("R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=x\n" % (exp, rev, serial))
    sys.stdout.write("".join(out))


REV_COUNTERS = {
    "revgate_revocation_cached_total": "cached",
    "revgate_revocation_fail_open_total": "fail_open",
    'revgate_revocation_fetches_total{method="crl"}': "crl_fetches",
    'revgate_revocation_fetches_total{method="ocsp"}': "ocsp_fetches",
    'revgate_revocation_fetch_failures_total{method="crl"}': "crl_failures",
    'revgate_revocation_fetch_failures_total{method="ocsp"}': "ocsp_failures",
    'revgate_revocation_cache_entries{kind="crl"}': "crl_entries",
    'revgate_revocation_cache_entries{kind="ocsp"}': "ocsp_entries",
}


def cmd_metrics(url):
    """revgate's revocation counters from /metrics as key=value lines: decisions (all
    verdicts) and decisions_VERDICT, cached, fail_open, crl/ocsp_fetches, crl/ocsp_failures,
    and the gauges crl/ocsp_entries."""
    import urllib.request
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    r = {"decisions": 0}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        m = re.fullmatch(r'revgate_revocation_decisions_total\{verdict="(\w+)"\}', name)
        if m:
            r["decisions_" + m.group(1)] = int(value)
            r["decisions"] += int(value)
        elif name in REV_COUNTERS:
            r[REV_COUNTERS[name]] = int(value)
    for k, v in r.items():
        print("%s=%s" % (k, v))


def cmd_mdiff(before, after):
    """How the counters of two `metrics` files moved (the gauges: their value after)."""
    a, b = load_env(before), load_env(after)
    for k, v in b.items():
        if k.endswith("_entries"):
            print("%s=%s" % (k, v))
        else:
            print("%s=%d" % (k, int(v) - int(a.get(k, 0))))


# (variant, column heading)
REV_VARIANTS = [
    ("revgate-off", "revgate off"),
    ("revgate-crl1k", "revgate CRL {small}"),
    ("revgate-cdp", "revgate CDP {small} warm"),
    ("revgate-ocsp", "revgate OCSP warm"),
    ("nginx-off", "nginx off"),
    ("nginx-crl1k", "nginx CRL {small}"),
    ("revgate-crl100k", "revgate CRL {large}"),
    ("nginx-crl100k", "nginx CRL {large}"),
]

REV_LEGEND = [
    ("revgate off", "no certificateVerification"),
    ("revgate CRL {small}", "`crl: {files: [the {small}-entry CRL]}, ocsp: false`"),
    ("revgate CDP {small} warm", "`certificateVerification: true` (CRL first, OCSP fallback); "
     "the client certificate's distribution point serves the same {small}-entry CRL "
     "(python3 -m http.server) and its AIA names an `openssl ocsp` responder; cache warmed "
     "before measuring, the CRL decides"),
    ("revgate OCSP warm", "the same settings; this client's distribution point answers 404, "
     "so the `openssl ocsp` responder of its AIA decides; cache warmed before measuring"),
    ("nginx off", "no ssl_crl"),
    ("nginx CRL {small}", "`ssl_crl` the {small}-entry CRL (the same file)"),
    ("revgate CRL {large}", "`crl: {files: [the {large}-entry CRL]}, ocsp: false`"),
    ("nginx CRL {large}", "`ssl_crl` the {large}-entry CRL"),
]

# (label, key, format, spread): spread: show the rounds' min-max when there are several
REV_ROWS = [
    ("Full handshakes/s (wrk, Connection: close, {conns} conns)", "full_rps", "{:,.0f}", True),
    ("  proxy CPU per full handshake (us)", "full_cpu_us", "{:,.0f}", True),
    ("  of which resumed (must be 0)", "full_resumed", "{:,.0f}", False),
    ("Resumed handshakes/s (resume, {threads} threads)", "res_cps", "{:,.0f}", True),
    ("  proxy CPU per resumed handshake (us)", "res_cpu_us", "{:,.0f}", True),
    ("  resumed fraction", "res_fraction", "{:.3f}", False),
    ("Keep-alive req/s (wrk, {conns} conns)", "ka_rps", "{:,.0f}", True),
    ("  p99 latency (ms)", "ka_p99_ms", "{:.2f}", False),
    ("  proxy CPU per request (us)", "ka_cpu_us", "{:.1f}", True),
    ("Errors, all runs", "errors", "{:,.0f}", False),
    ("Revocation decisions from memory per full handshake", "full_rev_per", "{:.3f}", False),
    ("  per resumed connection", "res_rev_per", "{:.3f}", False),
    ("  in the keep-alive run (all)", "ka_rev_cached", "{:,.0f}", False),
    ("CRL/OCSP fetches during the runs (must be 0)", "rev_fetches", "{:,.0f}", False),
    ("Other processes' CPU during a run, max (% of a core)", "other_max", "{:.1f}", False),
    ("Hypervisor steal during a run, max (%)", "steal_max", "{:.1f}", False),
    ("RSS after the runs (MiB)", "rss_mib", "{:.1f}", False),
]

# (label, numerator, denominator, target): target: None, or (minimum full, resumed, keep-alive)
REV_RATIOS = [
    ("revgate CRL {small} / revgate off", "revgate-crl1k", "revgate-off", (0.95, 0.95, 0.95)),
    ("revgate CDP {small} warm / revgate off", "revgate-cdp", "revgate-off", (0.95, 0.95, 0.95)),
    ("revgate OCSP warm / revgate off", "revgate-ocsp", "revgate-off", (0.95, 0.95, 0.95)),
    ("revgate CRL {large} / revgate off", "revgate-crl100k", "revgate-off", (0.95, 0.95, 0.95)),
    ("revgate CRL {small} / nginx CRL {small}", "revgate-crl1k", "nginx-crl1k", (1.5, 1.0, None)),
    ("revgate CRL {large} / nginx CRL {large}", "revgate-crl100k", "nginx-crl100k",
     (2.0, 1.0, None)),
    ("revgate off / nginx off (no revocation)", "revgate-off", "nginx-off", None),
    ("nginx CRL {small} / nginx off", "nginx-crl1k", "nginx-off", None),
    ("nginx CRL {large} / nginx off", "nginx-crl100k", "nginx-off", None),
]


def rev_values(d):
    """values() of one round of one variant, plus the revocation counters."""
    v = values(d)
    errs = [v.get("ka_errors"), v.get("full_errors"), v.get("res_errors")]
    errs = [x for x in errs if x is not None]
    v["errors"] = sum(errs) if errs else None
    full_n = num(d, "full_shim_handshakes") or num(d, "full_requests")
    for p, n in (("full", full_n), ("res", num(d, "res_conns"))):
        c = num(d, p + "_rev_cached")
        v[p + "_rev_per"] = c / n if c is not None and n else None
    v["ka_rev_cached"] = num(d, "ka_rev_cached")
    f = [num(d, "%s_rev_%s_fetches" % (p, m)) for p in ("ka", "full", "res")
         for m in ("crl", "ocsp")]
    f = [x for x in f if x is not None]
    v["rev_fetches"] = sum(f) if f else None
    return v


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def cmd_revreport(resdir, meta_path, md_path):
    meta = load_env(meta_path)
    small = "{:,}".format(int(meta.get("crl_small", "1000")))
    large = "{:,}".format(int(meta.get("crl_large", "100000")))
    conns = meta.get("connections", "64")
    threads = meta.get("resume_threads", "16")
    rounds = int(meta.get("rounds", "1"))
    measured = meta.get("targets", "").split()

    def sub(t):
        return t.replace("{small}", small).replace("{large}", large)

    # per variant: the rounds' values, and their medians
    per_round, med = {}, {}
    for name, _ in REV_VARIANTS:
        rs = []
        for r in range(1, rounds + 1):
            path = os.path.join(resdir, "%s.r%d.env" % (name, r))
            if os.path.exists(path):
                rs.append(rev_values(load_env(path)))
        per_round[name] = rs
        med[name] = {}
        for _, key, _, _ in REV_ROWS:
            xs = [x[key] for x in rs if isinstance(x.get(key), (int, float))]
            med[name][key] = _median(xs)
        # worst case, not median, for what must be 0 or is a maximum
        for key in ("errors", "full_resumed", "rev_fetches", "other_max", "steal_max"):
            xs = [x[key] for x in rs if isinstance(x.get(key), (int, float))]
            med[name][key] = max(xs) if xs else None
    cols = [(n, sub(h)) for n, h in REV_VARIANTS if n in measured]

    def cell(name, key, f, spread):
        v = med[name].get(key)
        if v is None:
            return "n/a"
        s = f.format(v)
        if spread and rounds > 1:
            xs = [x[key] for x in per_round[name] if isinstance(x.get(key), (int, float))]
            if len(xs) > 1:
                s += " (%s-%s)" % (f.format(min(xs)), f.format(max(xs)))
        return s

    table = []
    for label, key, f, spread in REV_ROWS:
        table.append([label.format(conns=conns, threads=threads)] +
                     [cell(n, key, f, spread) for n, _ in cols])
    head = ["Measurement" + (" (median of %d rounds)" % rounds if rounds > 1 else "")] + \
        [h for _, h in cols]

    def ratio(a, b, key):
        x, y = med.get(a, {}).get(key), med.get(b, {}).get(key)
        return x / y if x is not None and y else None

    rtable = []
    for label, a, b, target in REV_RATIOS:
        if a not in measured or b not in measured:
            continue
        rs = [ratio(a, b, k) for k in ("full_rps", "res_cps", "ka_rps",
                                        "full_cpu_us", "res_cpu_us", "ka_cpu_us")]
        cells = ["%.2fx" % x if x is not None else "n/a" for x in rs]
        tgt = verdict = ""
        if target:
            parts, missed = [], []
            for need, r, what in zip(target, rs[:3], ("full", "resumed", "keep-alive")):
                if need is None:
                    continue
                parts.append("%s >= %.2gx" % (what, need))
                if r is None or r < need:
                    missed.append("%s %s" % (what, "%.2fx" % r if r is not None else "n/a"))
            tgt = ", ".join(parts)
            verdict = "met" if not missed else "NOT met (%s)" % ", ".join(missed)
        rtable.append([sub(label)] + cells + [tgt, verdict])
    rhead = ["Ratio", "full hs/s", "resumed hs/s", "keep-alive req/s", "CPU/full hs",
             "CPU/resumed hs", "CPU/req", "target", "verdict"]

    def text_table(h, rows):
        w = [max(len(str(r[i])) for r in rows + [h]) for i in range(len(h))]
        line = "  ".join("%-*s" % (w[i], h[i]) for i in range(len(h)))
        print(line)
        print("-" * len(line))
        for r in rows:
            print("  ".join(("%-*s" if i == 0 or i >= len(h) - 2 and h[-1] == "verdict"
                             else "%*s") % (w[i], r[i]) for i in range(len(h))).rstrip())

    text_table(head, table)
    print()
    text_table(rhead, rtable)
    problems, noise = print_problems(resdir)
    if md_path == "-":
        return
    out = []
    out.append("### Revocation run of %s\n" % meta.get("date", "?"))
    out.append("- Command: `%s`" % meta.get("command", "bench/run --revocation"))
    out.append(machine_line(meta))
    out.append("- Software: %s; %s; nginx %s; wrk %s; kernel %s" % (
        meta.get("openssl", "?"), meta.get("revgate", "?"), meta.get("nginx", "?"),
        meta.get("wrk", "?"), meta.get("kernel", "?")))
    out.append("- Each measurement %s s (keep-alive warm-up %s s), %s round(s), variants one "
               "after the other in this order%s: %s" % (
                   meta.get("duration", "?"), meta.get("warmup", "?"), rounds,
                   " (reversed in even rounds)" if rounds > 1 else "",
                   meta.get("targets", "?")))
    out.append("- CRLs (root CA, P-256, `openssl ca -gencrl`, random 128-bit serials, reason "
               "keyCompromise): %s entries %s bytes DER; %s entries %s bytes DER. The measured "
               "clients are not on them; a revoked client of each variant is, and is refused "
               "by every variant that checks." % (
                   small, "{:,}".format(int(meta.get("crl_%s_der_bytes" % meta.get(
                       "crl_small"), 0))),
                   large, "{:,}".format(int(meta.get("crl_%s_der_bytes" % meta.get(
                       "crl_large"), 0)))))
    if meta.get("note"):
        out.append("- Note: %s" % meta["note"])
    out.append("")

    def md_table(h, rows, right_from=1, right_to=None):
        right_to = len(h) if right_to is None else right_to
        out.append("| " + " | ".join(h) + " |")
        out.append("| " + " | ".join("---:" if right_from <= i < right_to else "---"
                                     for i in range(len(h))) + " |")
        for r in rows:
            label = r[0].strip()
            if r[0].startswith("  "):
                label = "&nbsp;&nbsp;" + label
            out.append("| " + " | ".join([label] + [str(x) for x in r[1:]]) + " |")
        out.append("")

    md_table(head, table)
    md_table(rhead, rtable, 1, len(rhead) - 2)
    out.append("Columns:")
    out.append("")
    for h, text in REV_LEGEND:
        if any(sub(h) == c for _, c in cols):
            out.append("- **%s**: %s" % (sub(h), sub(text)))
    codes = []
    for name, h in cols:
        c = [load_env(os.path.join(resdir, "%s.r%d.env" % (name, r))).get(
            "revoked_client_code") for r in range(1, rounds + 1)]
        c = sorted(set(x for x in c if x))
        if c:
            codes.append("%s %s" % (sub(h), "/".join(c)))
    if codes:
        out.append("")
        out.append("HTTP status of a revoked client (000: handshake refused): %s.  " %
                   "; ".join(codes))
    if meta.get("crlserver_gets"):
        out.append("GETs the CRL server answered during the measurements, warm-ups "
                   "included: %s.  " % meta["crlserver_gets"])
    if problems:
        out.append("")
        out.append("Problems seen in this run:")
        out.append("")
        for p in problems:
            out.append("- " + p)
    if noise:
        out.append("")
        out.append("Noise: other processes took 15%% of a core or more during these "
                   "measurements: %s." % "; ".join(noise))
    out.append("")
    with open(md_path, "a") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"ports": cmd_ports, "pids": cmd_pids, "cpu": cmd_cpu, "mem": cmd_mem,
          "sysstat": cmd_sysstat, "window": cmd_window, "kcpu": cmd_kcpu, "rusage": cmd_rusage, "wrk": cmd_wrk,
          "h2load": cmd_h2load, "kv": cmd_kv, "report": cmd_report,
          "revoked-lines": cmd_revoked_lines, "metrics": cmd_metrics, "mdiff": cmd_mdiff,
          "revreport": cmd_revreport}.get(cmd)
    if fn is None:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
