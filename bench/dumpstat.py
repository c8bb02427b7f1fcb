#!/usr/bin/env python3
"""Where the added latency of an echo run comes from: reads the records of
pbload --dump (BENCH_DUMP=FILE for any benchmark) and prints the latency
beyond the jitter buffer's own steps (as pbload defines it, but with each
call's best taken over the dumped phase only) by group of calls (the calls
of one sim span are consecutive: --group 30 for E1) and by slice of time.

    bench/dumpstat.py FILE [--group N] [--slice-ms MS]
"""
import argparse
import struct
import sys


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--group", type=int, default=30, help="calls per group (30: an E1)")
    ap.add_argument("--slice-ms", type=float, default=0, help="also by time slices of MS")
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        data = f.read()
    recs = list(struct.iter_unpack("=5Q", data))
    if not recs:
        sys.exit("no records")
    best = {}
    norm = []
    for rx, tx, sid, _seq, jbk in recs:
        if jbk >= 1 << 63:
            jbk -= 1 << 64
        v = rx - tx - jbk * 20000000
        norm.append(v)
        if sid not in best or v < best[sid]:
            best[sid] = v
    exc = [(norm[i] - best[r[2]]) / 1e6 for i, r in enumerate(recs)]
    allv = sorted(exc)
    print("packets %d  beyond jb ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f" % (
        len(allv), pct(allv, 50), pct(allv, 99), pct(allv, 99.9), allv[-1]))
    groups = {}
    for i, r in enumerate(recs):
        groups.setdefault(r[2] // a.group, []).append(i)
    print("%-12s %8s %8s %8s %14s" % ("calls", "p50", "p99", "p99.9", "send phase ms"))
    for g in sorted(groups):
        v = sorted(exc[i] for i in groups[g])
        # the phase of the daemon's sends in the 20 ms period (their median)
        ph = sorted((recs[i][0] % 20000000) / 1e6 for i in groups[g])
        print("%5d-%-6d %8.3f %8.3f %8.3f %14.2f" % (
            g * a.group, g * a.group + a.group - 1, pct(v, 50), pct(v, 99), pct(v, 99.9),
            ph[len(ph) // 2]))
    if a.slice_ms > 0:
        t0 = min(r[1] for r in recs)
        sl = {}
        for i, r in enumerate(recs):
            sl.setdefault(int((r[1] - t0) / (a.slice_ms * 1e6)), []).append(exc[i])
        print("%-10s %8s %8s %8s" % ("from s", "p50", "p99", "max"))
        for k in sorted(sl):
            v = sorted(sl[k])
            print("%-10.2f %8.3f %8.3f %8.3f" % (k * a.slice_ms / 1000.0, pct(v, 50),
                                                 pct(v, 99), v[-1]))


if __name__ == "__main__":
    main()
