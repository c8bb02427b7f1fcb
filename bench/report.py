#!/usr/bin/env python3
"""Turn a benchmark's raw figures into its result: one JSON object (written
to --out and printed as the last line of stdout) and a human-readable table
(printed before it).

usage: report.py KIND --raw NAME=FILE... [--set KEY=JSON...] --out FILE

KIND is concurrent, setup-rate, flood, reload or anchor. Each --raw file
holds one JSON object (pbload's output, or a list for setup-rate); --set
adds a field (its value parsed as JSON, else kept as a string). The machine
and the load on it at the end are added from /proc."""
import argparse
import json
import os
import sys
import time


DISTURBED_WAIT_PCT = 5.0
DISTURBED_STALL_MS = 20


def load_json(path):
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def val(s):
    try:
        return json.loads(s)
    except ValueError:
        return s


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%%.%df" % nd) % v
    return str(v)


def table(rows, head):
    w = [max(len(str(h)), *(len(fmt(r[i])) for r in rows)) if rows else len(h)
         for i, h in enumerate(head)]
    out = ["| " + " | ".join(str(h).ljust(w[i]) for i, h in enumerate(head)) + " |",
           "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(c).ljust(w[i]) for i, c in enumerate(r)) + " |")
    return "\n".join(out)


def drops(p):
    """Where datagrams were dropped in a phase: at the generator's sockets,
    at the other UDP sockets of the host (the process measured, on a quiet
    machine: every UDP receive-buffer drop of the host less the
    generator's) and in the CPUs' input backlogs; and how late the
    generator sent behind its schedule (its lateness is in every latency
    figure: the tags carry the schedule)."""
    if "gen_sock_drops" not in p:
        return {}
    return {"gen_send_late_ms": p["gen_send_late_ms"],
            "gen_socket_drops": p["gen_sock_drops"],
            "other_socket_drops": max(p["host_udp_rcvbuf_errors"] - p["gen_sock_drops"], 0),
            "backlog_drops": p["host_backlog_drops"]}


def phase_row(label, p, per_unit_key="cpu_us_per_stream_s"):
    return [label, p["streams_active"], p["cpu_pct"], p[per_unit_key], p["pps_in"], p["pps_out"],
            p["loss_pct"], p["late"], p["rtt_ms"]["p50"], p["rtt_ms"]["p99"],
            p["excess_ms"]["p50"], p["excess_ms"]["p99"], p["excess_ms"]["p99_9"],
            p["max_gap_ms"]]


PHASE_HEAD = ["phase", "streams", "CPU %", "CPU us/stream-s", "pps in", "pps out", "loss %",
              "late", "rtt p50 ms", "rtt p99 ms", "excess p50 ms", "excess p99 ms",
              "excess p99.9 ms", "max gap ms"]


def spans_clock(path):
    """The sim clocks' counters summed over the spans of a `pstnbridgectl
    spans` output (those with a clock), or None."""
    tot = {"spans": 0, "clock_ticks": 0, "clock_late_1ms": 0, "clock_late_5ms": 0,
           "clock_late_max_ms": 0.0}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    for line in lines:
        kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        if not line.startswith("span ") or kv.get("clock_ticks", "-") == "-":
            continue
        tot["spans"] += 1
        for k in ("clock_ticks", "clock_late_1ms", "clock_late_5ms"):
            tot[k] += int(kv[k])
        tot["clock_late_max_ms"] = max(tot["clock_late_max_ms"], float(kv["clock_late_max_ms"]))
    return tot if tot["spans"] else None


def sim_clock(raw):
    """How late the sim clocks ticked in the measured window (None without
    both readings)."""
    a, b = raw.get("spans_start"), raw.get("spans_end")
    if not a or not b:
        return None
    ticks = b["clock_ticks"] - a["clock_ticks"]
    pct = lambda k: 100.0 * (b[k] - a[k]) / ticks if ticks > 0 else 0.0
    return {"spans": b["spans"], "ticks": ticks, "late_over_1ms_pct": pct("clock_late_1ms"),
            "late_over_5ms_pct": pct("clock_late_5ms"),
            "late_max_ms_since_start": b["clock_late_max_ms"]}


def concurrent(res, raw):
    g = raw["gen"]
    res.update({k: g.get(k) for k in ("calls", "calls_up", "calls_failed", "calls_dropped",
                                      "setup_s", "gen_timer_overruns", "gen_max_stall_ms",
                                      "gen_rx_bad")})
    if "invite_to_200_ms" in g:
        res["invite_to_200_ms"] = g["invite_to_200_ms"]
    p = g["phases"][-1]
    n = max(p["streams_active"], 1)
    res.update({
        "window_s": p["window_s"],
        "daemon_cpu_pct": p["cpu_pct"],
        "daemon_cpu_pct_ticks": p["cpu_pct_ticks"],
        "cpu_us_per_call_s": p["cpu_us_per_stream_s"],
        "cpu_us_per_packet": p["cpu_us_per_packet"],
        "pps_in": p["pps_in"], "pps_out": p["pps_out"],
        "rss_kb_start": g["rss_kb_start"], "rss_kb_calls_up": g["rss_kb_calls_up"],
        "rss_kb_load": p["rss_kb"],
        "rss_kb_per_call": (p["rss_kb"] - g["rss_kb_start"]) / n if g["rss_kb_start"] > 0 else None,
        "sent": p["sent"], "received": p["received"], "loss_pct": p["loss_pct"],
        "late": p["late"], "rtt_ms": p["rtt_ms"], "added_latency_ms": p["excess_ms"],
        "added_latency_beyond_jb_ms": p.get("excess_beyond_jb_ms"),
        "jb_frames_inserted": p.get("jb_frames_inserted"),
        "jb_frames_skipped": p.get("jb_frames_skipped"),
        "jb_frames_shrunk": p.get("jb_frames_shrunk"),
        "max_call_loss_pct": p.get("max_stream_loss_pct"),
        "calls_over_0_1pct_loss": p.get("streams_over_0_1pct_loss"),
        "max_gap_ms": p["max_gap_ms"], "gen_cpu_pct": p["gen_cpu_pct"],
        "daemon_runqueue_wait_pct": p.get("runqueue_wait_pct"),
        "other_processes_cpu_pct": p.get("other_cpu_pct"),
    })
    res.update(drops(p))
    res["sim_clock"] = sim_clock(raw)
    lines = [table([[res["calls"], res["calls_up"], res["daemon_cpu_pct"], res["cpu_us_per_call_s"],
                     res["cpu_us_per_packet"], res["pps_in"], res["pps_out"],
                     res["rss_kb_load"], res["rss_kb_per_call"], res["loss_pct"], res["late"],
                     p["rtt_ms"]["p50"], p["excess_ms"]["p50"], p["excess_ms"]["p99"],
                     p["excess_ms"]["p99_9"], p["excess_beyond_jb_ms"]["p50"],
                     p["excess_beyond_jb_ms"]["p99"], p["excess_beyond_jb_ms"]["p99_9"],
                     res["gen_cpu_pct"]]],
                   ["calls", "up", "daemon CPU %", "CPU us/call-s", "CPU us/pkt", "pps in",
                    "pps out", "RSS kB", "RSS kB/call", "loss %", "late", "rtt p50 ms",
                    "added p50 ms", "added p99 ms", "added p99.9 ms",
                    "beyond jb p50 ms", "beyond jb p99 ms", "beyond jb p99.9 ms",
                    "gen CPU %"])]
    lines.append("jitter buffer steps seen in the echo: %s frames inserted, %s skipped, %s of "
                 "them taking back delay (the call's round trip 20 ms shorter after it) "
                 "(added = rtt - the call's best; beyond jb = the same without those "
                 "20 ms steps)" % (p["jb_frames_inserted"], p["jb_frames_skipped"],
                                   fmt(p.get("jb_frames_shrunk"))))
    ck = res["sim_clock"]
    if ck:
        lines.append("sim clocks (%d spans): %d ticks in the window, %.2f %% of them more than 1 ms "
                     "late, %.2f %% more than 5 ms; at most %.1f ms late since the start"
                     % (ck["spans"], ck["ticks"], ck["late_over_1ms_pct"], ck["late_over_5ms_pct"],
                        ck["late_max_ms_since_start"]))
    lines.append("daemon waited for a CPU %s %% of the window; other processes used %s %% of a core;"
                 " longest generator stall %s ms" % (fmt(p.get("runqueue_wait_pct")),
                                                    fmt(p.get("other_cpu_pct")),
                                                    fmt(g.get("gen_max_stall_ms"))))
    if "gen_socket_drops" in res:
        lines.append("dropped by the kernel: %d at the daemon's sockets (the host's UDP receive-buffer"
                     " drops less the generator's), %d at the generator's, %d in input backlogs;"
                     " the generator sent p99 %s ms, p99.9 %s ms, max %s ms behind its schedule"
                     % (res["other_socket_drops"], res["gen_socket_drops"], res["backlog_drops"],
                        fmt(res["gen_send_late_ms"]["p99"], 2), fmt(res["gen_send_late_ms"]["p99_9"], 2),
                        fmt(res["gen_send_late_ms"]["max"], 2)))
    return lines


def flood(res, raw):
    g = raw["gen"]
    res.update({k: g[k] for k in ("calls", "calls_up", "calls_failed", "calls_dropped")})
    res["gen_max_stall_ms"] = g.get("gen_max_stall_ms")
    res["phases"] = {p["name"]: {
        "runqueue_wait_pct": p.get("runqueue_wait_pct"),
        "cpu_pct": p["cpu_pct"], "cpu_us_per_call_s": p["cpu_us_per_stream_s"],
        "loss_pct": p["loss_pct"], "late": p["late"], "rtt_ms": p["rtt_ms"],
        "added_latency_ms": p["excess_ms"], "max_gap_ms": p["max_gap_ms"],
        "added_latency_beyond_jb_ms": p.get("excess_beyond_jb_ms"),
        "max_call_loss_pct": p.get("max_stream_loss_pct"),
        "calls_over_0_1pct_loss": p.get("streams_over_0_1pct_loss"),
        "foreign": p["foreign"], "window_s": p["window_s"], **drops(p)} for p in g["phases"]}
    if "flooder" in raw and raw["flooder"]:
        res["flooder"] = raw["flooder"]
    return [table([phase_row(p["name"], p) + [p.get("max_stream_loss_pct"),
                                              p.get("streams_over_0_1pct_loss")]
                   for p in g["phases"]],
                  PHASE_HEAD + ["worst call loss %", "calls > 0.1 % loss"])]


def reload_(res, raw):
    g = raw["gen"]
    res.update({k: g[k] for k in ("calls", "calls_up", "calls_failed", "calls_dropped")})
    res["gen_max_stall_ms"] = g.get("gen_max_stall_ms")
    res["phases"] = {p["name"]: {
        "runqueue_wait_pct": p.get("runqueue_wait_pct"),
        "loss_pct": p["loss_pct"], "late": p["late"], "max_gap_ms": p["max_gap_ms"],
        "max_lost_run": p["max_lost_run"], "cpu_pct": p["cpu_pct"],
        "added_latency_ms": p["excess_ms"],
        "added_latency_beyond_jb_ms": p.get("excess_beyond_jb_ms")} for p in g["phases"]}
    rl = [p for p in g["phases"] if p["name"] == "reload"]
    if rl:
        res["longest_gap_ms"] = rl[0]["max_gap_ms"]
        res["longest_lost_run_packets"] = rl[0]["max_lost_run"]
    return [table([phase_row(p["name"], p) + [p["max_lost_run"]] for p in g["phases"]],
                  PHASE_HEAD + ["max lost run"])]


def anchor_one(g):
    """One program's figures of one round (its generator's last phase)."""
    p = g["phases"][-1]
    return {"streams": p["streams_active"], "cpu_pct": p["cpu_pct"],
            "cpu_us_per_stream_s": p["cpu_us_per_stream_s"],
            "cpu_us_per_packet": p["cpu_us_per_packet"],
            "pps_in": p["pps_in"], "pps_out": p["pps_out"], "loss_pct": p["loss_pct"],
            "rss_kb": p["rss_kb"], "gen_cpu_pct": p["gen_cpu_pct"],
            "runqueue_wait_pct": p.get("runqueue_wait_pct"), "threads": p.get("threads"),
            "other_cpu_pct": p.get("other_cpu_pct"),
            "gen_max_stall_ms": g.get("gen_max_stall_ms"), **drops(p)}


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def anchor(res, raw):
    """Each program ran once per round, in turn; with several rounds a
    program's figures are the medians over them (its round closest to the
    median CPU for the rest), and each ratio the median of the rounds'
    ratios, which the drift of the machine's speed between rounds moves
    less than one pair taken minutes apart."""
    names = ("pstnbridged", "rtpengine", "minrelay")
    # per round, None where that round of the program failed (the ratios
    # pair the programs of one round only)
    runs = {n: [anchor_one(g) if g else None for g in (raw.get(n) or [])] for n in names}
    rounds = max(len(v) for v in runs.values())
    per, rows = {}, []
    for name in names:
        rs = [r for r in runs[name] if r]
        if not rs:
            per[name] = None
            continue
        m = median([r["cpu_us_per_stream_s"] for r in rs])
        rep = dict(min(rs, key=lambda r: abs(r["cpu_us_per_stream_s"] - m)))
        rep["cpu_us_per_stream_s"] = round(m, 2)
        rep["cpu_pct"] = round(median([r["cpu_pct"] for r in rs]), 2)
        rep["cpu_us_per_packet"] = round(median([r["cpu_us_per_packet"] for r in rs]), 3)
        rep["loss_pct"] = max(r["loss_pct"] for r in rs)
        rep["by_round_cpu_us_per_stream_s"] = [r["cpu_us_per_stream_s"] for r in rs]
        per[name] = rep
        for i, r in enumerate(runs[name]):
            if r:
                rows.append([name, i + 1, r["streams"], r["cpu_pct"], r["cpu_us_per_stream_s"],
                             r["cpu_us_per_packet"], r["pps_in"], r["pps_out"], r["loss_pct"],
                             r["rss_kb"]])
    res["results"] = per
    res["rounds"] = rounds
    ours = runs["pstnbridged"]
    ratios, by_round = {}, {}
    for other in ("rtpengine", "minrelay"):
        key = "pstnbridged_over_" + other
        rs = [round(a["cpu_us_per_stream_s"] / b["cpu_us_per_stream_s"], 3)
              for a, b in zip(ours, runs[other]) if a and b and b["cpu_us_per_stream_s"] > 0]
        by_round[key] = rs
        ratios[key] = round(median(rs), 3) if rs else None
    res["ratios"] = ratios
    res["ratios_by_round"] = by_round
    lines = [table(rows, ["program", "round", "streams", "CPU %", "CPU us/stream-s",
                          "CPU us/pkt", "pps in", "pps out", "loss %", "RSS kB"])]
    lines.append("ratios (median of %d round%s): " % (rounds, "" if rounds == 1 else "s") +
                 ", ".join("%s = %s %s" % (k, fmt(v, 3), by_round[k]) for k, v in ratios.items()))
    return lines


def setup_rate(res, raw):
    steps = raw["steps"]
    res["steps"] = steps
    ok = [s for s in steps if s.get("ok")]
    best = max(ok, key=lambda s: s["rate"]) if ok else None
    res["max_rate_cps"] = best["rate"] if best else 0
    res["p99_invite_to_200_ms_at_max"] = best.get("p99_ms") if best else None
    rows = [[s["rate"], s["calls"], s["ok_calls"], s["failed"], s["fail_pct"], s.get("p50_ms"),
             s.get("p99_ms"), s.get("cpu_pct"), "yes" if s.get("ok") else "no"] for s in steps]
    return [table(rows, ["rate cps", "calls", "ok", "failed", "fail %", "p50 ms",
                         "p99 ms", "daemon CPU %", "< 0.1% failed"])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["concurrent", "setup-rate", "flood", "reload", "anchor"])
    ap.add_argument("--raw", action="append", default=[])
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--spans", action="append", default=[],
                    help="NAME=FILE: the output of pstnbridgectl spans")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    raw = {}
    for r in a.raw:
        name, _, path = r.partition("=")
        try:
            g = load_json(path)
        except (OSError, ValueError) as e:
            print("report: %s: %s" % (path, e), file=sys.stderr)
            g = None
        if a.kind == "anchor":      # one per round
            raw.setdefault(name, []).append(g)
        else:
            raw[name] = g
    for r in a.spans:
        name, _, path = r.partition("=")
        raw["spans_" + name] = spans_clock(path)
    res = {"benchmark": a.kind}
    for s in a.set:
        k, _, v = s.partition("=")
        res[k] = val(v)
    res["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    fn = {"concurrent": concurrent, "flood": flood, "reload": reload_, "anchor": anchor,
          "setup-rate": setup_rate}[a.kind]
    need = {"concurrent": "gen", "flood": "gen", "reload": "gen", "setup-rate": "steps"}
    if a.kind in need and not raw.get(need[a.kind]):
        print("report: no raw figures", file=sys.stderr)
        return 1
    if a.kind == "setup-rate":
        lines = fn(res, raw[need[a.kind]] if isinstance(raw[need[a.kind]], dict) else
                   {"steps": raw["steps"]})
    else:
        lines = fn(res, raw)
    # Was the run disturbed by other load? (the daemon waited for a CPU, or
    # the generator stalled past the echo path's slack)
    waits, stalls = [], []
    gens = [g for v in raw.values() for g in (v if isinstance(v, list) else [v])]
    for g in gens:
        if isinstance(g, dict) and "phases" in g:
            # a process of several threads on one core (rtpengine) waits
            # for its own threads too: that is not other load
            waits += [p.get("runqueue_wait_pct") or 0 for p in g["phases"]
                      if (p.get("threads") or 1) <= 1]
            stalls.append(g.get("gen_max_stall_ms") or 0)
    # how the generator read its sockets (pbload --rx-poll: "poll")
    for g in gens:
        if isinstance(g, dict) and "gen_rx" in g:
            res["generator_rx"] = g["gen_rx"]
    res["max_runqueue_wait_pct"] = max(waits) if waits else None
    res["max_gen_stall_ms"] = max(stalls) if stalls else None
    res["disturbed"] = bool((waits and max(waits) > DISTURBED_WAIT_PCT) or
                            (stalls and max(stalls) > DISTURBED_STALL_MS))
    if res["disturbed"]:
        lines.append("WARNING: disturbed run: the process under test waited for a CPU up to %s %% "
                     "of a phase, the generator stalled up to %s ms (other load on the machine); "
                     "loss and latency are not the daemon's alone"
                     % (fmt(res["max_runqueue_wait_pct"]), fmt(res["max_gen_stall_ms"])))
    m = res.get("machine", {})
    if isinstance(m, dict):
        print("%s on %s x %s, kernel %s, %s, load average %s at start, %s at end" % (
            a.kind, m.get("cores", "?"), m.get("cpu_model", "?"), m.get("kernel", "?"),
            m.get("date_utc", "?"), " ".join(m.get("loadavg_at_start", [])),
            " ".join(res["loadavg_at_end"])))
    for l in lines:
        print(l)
    with open(a.out, "w") as f:
        json.dump(res, f, sort_keys=True)
        f.write("\n")
    print(json.dumps(res, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
