#!/usr/bin/env python3
"""Start-up of the commands that only print (`--help`, `--version`, `completions bash`,
`man`) on one build of stackpro, run in turn within each round so the machine's drift
falls on all alike: each one's median wall time and its median ratio to `--help` in the
same round, with the 10th-90th percentile spread.

Usage: python3 scripts/bench/startup-commands.py BIN [ROUNDS=300]
Run it from the project directory (completions then include its names, as users run it).
"""
import statistics
import subprocess
import sys
import time

COMMANDS = [["--help"], ["--version"], ["completions", "bash"], ["man"]]


def run(binary, args):
    t0 = time.perf_counter_ns()
    subprocess.run([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter_ns() - t0) / 1e6


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    for _ in range(20):  # warm the page cache
        for args in COMMANDS:
            run(binary, args)
    times = {tuple(c): [] for c in COMMANDS}
    for i in range(rounds):
        order = COMMANDS if i % 2 == 0 else list(reversed(COMMANDS))
        for args in order:
            times[tuple(args)].append(run(binary, args))
    base = times[("--help",)]
    for args in COMMANDS:
        t = times[tuple(args)]
        ratios = [x / h for x, h in zip(t, base)]
        print(f"{' '.join(args):<18} median {statistics.median(t):6.2f} ms   "
              f"vs --help {statistics.median(ratios):.2f}x ({pct(ratios, 0.1):.2f}-{pct(ratios, 0.9):.2f})")


if __name__ == "__main__":
    main()
