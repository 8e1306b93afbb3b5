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
    problems = []
    if os.path.exists(os.path.join(resdir, "problems.txt")):
        problems = [p.rstrip("\n") for p in open(os.path.join(resdir, "problems.txt")) if p.strip()]
    noise = []
    if os.path.exists(os.path.join(resdir, "noise.txt")):
        noise = [p.rstrip("\n") for p in open(os.path.join(resdir, "noise.txt")) if p.strip()]
    if problems:
        print("\nProblems:")
        for p in problems:
            print("  - " + p)
    if noise:
        print("\nNoise (other processes' CPU during a measurement, >= 15% of a core):")
        for p in noise:
            print("  - " + p)
    if md_path == "-":
        return
    out = []
    out.append("## Run of %s\n" % meta.get("date", "?"))
    out.append("- Command: `%s`" % meta.get("command", "bench/run"))
    out.append("- Machine: %s cores (nproc), %s, %s GiB RAM; load average at the start "
               "(before the build): %s; CPU used by other processes in the %s s before the "
               "measurements: %s%% of one core" % (
                   meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("mem_gib", "?"),
                   meta.get("load_start", "?"), meta.get("quiet_seconds", "?"),
                   meta.get("quiet_other_pct", "?")))
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
          "h2load": cmd_h2load, "kv": cmd_kv, "report": cmd_report}.get(cmd)
    if fn is None:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
