#!/usr/bin/env python3
"""Lengths of the functions in Rust files (rustfmt-formatted: a function's closing
brace is at its `fn` line's indentation), longest first.

Usage: python3 scripts/fn-length.py [--top N] FILE...
With no FILE: the deploy path (the runbook, the planner, the deploy command, stack,
release, record and the AWS service modules).
"""
import glob
import re
import sys

DEPLOY_PATH = [
    "cli/src/deploy.rs",
    "cli/src/planner.rs",
    "cli/src/commands/deploy.rs",
    "cli/src/stack.rs",
    "cli/src/release.rs",
    "cli/src/record.rs",
    "cli/src/template.rs",
] + sorted(glob.glob("cli/src/aws/*.rs"))

FN = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn ([a-z_0-9]+)")


def functions(path):
    lines = open(path).read().split("\n")
    in_tests = False
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            in_tests = True
        m = FN.match(line)
        if not m or in_tests:
            continue
        indent = m.group(1)
        for j in range(i, len(lines)):
            if lines[j] == indent + "}" or (j == i and lines[j].rstrip().endswith("}")):
                yield (j - i + 1, f"{path}:{i + 1}", m.group(5))
                break
            if lines[j].rstrip().endswith(";") and j == i:
                break


def main(argv):
    top = 10
    if argv[:1] == ["--top"]:
        top, argv = int(argv[1]), argv[2:]
    found = sorted((f for p in (argv or DEPLOY_PATH) for f in functions(p)), reverse=True)
    for n, where, name in found[:top]:
        print(f"{n:5} {name:32} {where}")
    if found:
        print(f"longest: {found[0][0]} lines ({found[0][2]}); {len(found)} functions")


main(sys.argv[1:])
