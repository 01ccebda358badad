#!/usr/bin/env python3
"""Turns criterion's saved estimates for benches/map_contention.rs into a
markdown table (median time per operation per reader thread, with the 95 %
confidence interval of the median). Usage: bench/map-table.py [target/criterion]"""
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
MAPS = ["papaya", "flurry", "dashmap", "rwlock-std"]
LAYOUTS = [("1t", "1 thread"), ("2t", "2 threads"), ("4t-oversub", "4 threads (oversubscribed)")]
GROUPS = [("lookup", "Lookup by key under churn (ns/op)", 1.0), ("iterate", "Full iteration (snapshot of ~1,000 apps) under churn (µs/op)", 1e3), ("churn-under-iteration", "Register + unregister while others iterate (ns/op)", 1.0)]


def cell(group, m, layout, scale):
    path = os.path.join(ROOT, group, m, layout, "new", "estimates.json")
    try:
        with open(path) as f:
            med = json.load(f)["median"]
    except (OSError, KeyError, ValueError):
        return "n/a"
    ci = med["confidence_interval"]
    return "%.1f [%.1f–%.1f]" % (med["point_estimate"] / scale, ci["lower_bound"] / scale, ci["upper_bound"] / scale)


for group, title, scale in GROUPS:
    print("### %s\n" % title)
    print("| map | " + " | ".join(label for _, label in LAYOUTS) + " |")
    print("|---|" + "---|" * len(LAYOUTS))
    for m in MAPS:
        print("| %s | " % m + " | ".join(cell(group, m, l, scale) for l, _ in LAYOUTS) + " |")
    print()
