#!/usr/bin/env python3
"""Start-up of two builds of stackpro, run alternately in one run: `BIN --help` wall
time per run, and the median of the rounds' B/A ratios with their spread (a shared
machine drifts; only paired runs compare).

Usage: python3 scripts/bench/startup-paired.py A_BIN B_BIN [ROUNDS=300] [ARGS...=--help]
"""
import statistics
import subprocess
import sys
import time


def run(binary, args):
    t0 = time.perf_counter_ns()
    subprocess.run([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter_ns() - t0) / 1e6


def main():
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    args = sys.argv[4:] or ["--help"]
    for _ in range(20):  # warm the page cache
        run(a, args), run(b, args)
    ta, tb = [], []
    for i in range(rounds):
        if i % 2:
            tb.append(run(b, args)); ta.append(run(a, args))
        else:
            ta.append(run(a, args)); tb.append(run(b, args))
    ratios = sorted(y / x for x, y in zip(ta, tb))
    print("A %s: median %.2f ms, min %.2f" % (a, statistics.median(ta), min(ta)))
    print("B %s: median %.2f ms, min %.2f" % (b, statistics.median(tb), min(tb)))
    lo, hi = ratios[len(ratios) // 10], ratios[len(ratios) * 9 // 10]
    print("B/A, median of %d rounds: %.2fx (10th-90th percentile %.2f-%.2f)"
          % (rounds, statistics.median(ratios), lo, hi))


if __name__ == "__main__":
    main()
