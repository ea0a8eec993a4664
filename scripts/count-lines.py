#!/usr/bin/env python3
"""Lines of Rust in the given folders, tests excluded: `#[cfg(test)]` modules and
`tests/` are left out. Prints total lines and code lines (not blank, not comments)
per file and in all. Used for the handler-platform figures (issue 9)."""
import pathlib
import sys


def count(path):
    total = code = 0
    skipping = False
    depth = 0
    for line in path.read_text().splitlines():
        s = line.strip()
        if s.startswith("#[cfg(test)]"):
            skipping, depth = True, 0
            continue
        if skipping:
            depth += line.count("{") - line.count("}")
            if depth <= 0 and "}" in line:
                skipping = False
            continue
        total += 1
        if s and not s.startswith("//"):
            code += 1
    return total, code


grand = [0, 0]
for root in sys.argv[1:] or ["handlers/datalake/src"]:
    for f in sorted(pathlib.Path(root).rglob("*.rs")):
        t, c = count(f)
        grand[0] += t
        grand[1] += c
        print(f"{t:6} {c:6}  {f}")
print(f"{grand[0]:6} {grand[1]:6}  total (lines, code lines), tests excluded")
