#!/usr/bin/env python3
"""Print the daemon's configured buffering as one JSON object.

usage: bufinfo.py CONFIG_FILE

[rtp] jitter_min_ms / jitter_max_ms come from the config when it sets them,
else from their defaults in the key table of src/cfg/cfg.c. What sits in
the Internet-to-PSTN path is read from src/call/call.c. Both are read from
the source tree next to bench/: they describe the binary only when it was
built from this tree."""
import json
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


conf = read(sys.argv[1])
cfgsrc = read(os.path.join(here, "..", "src", "cfg", "cfg.c"))
callsrc = read(os.path.join(here, "..", "src", "call", "call.c"))
out = {}
for k in ("jitter_min_ms", "jitter_max_ms"):
    m = re.search(r"^\s*%s\s*=\s*(\d+)" % k, conf, re.M)
    if m:
        out[k] = int(m.group(1))
        continue
    m = re.search(r'X\("rtp", "%s", CFG_T_INT, "(\d+)"' % k, cfgsrc)
    if m:
        out[k] = int(m.group(1))
        out[k + "_from"] = "default"
if "media_jb_new" in callsrc:
    out["jitter_buffer"] = ("media_jb: adaptive, between the fastest packet + jitter_min_ms "
                            "and + jitter_max_ms")
else:
    m = re.search(r"#define FIFO_PRIME \((\d+) \* SPAN_FRAME_BYTES\)", callsrc)
    if m:
        out["jitter_buffer"] = "fixed FIFO in call.c, primed at %d ms" % (20 * int(m.group(1)))
out["span_tick_ms"] = 20
out["echo_path"] = ("rtt_ms = the daemon's buffering + two 20 ms ticks of the sim far end's "
                    "echo + the tick phase; added_latency_ms = rtt minus the call's best rtt")
print(json.dumps(out))
