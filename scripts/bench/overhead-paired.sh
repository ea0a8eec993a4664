#!/usr/bin/env bash
# Compares two builds of a capability's `overhead` example (examples/overhead.rs), run
# alternately in one run, so a shared machine's drift hits both alike: prints each
# route's p99 per round and the median of the rounds' new/old ratios with their spread.
#
# Usage: bash scripts/bench/overhead-paired.sh OLD_BIN NEW_BIN [ROUNDS=10] [REQUESTS=20000]
#   e.g. build the old one from another checkout:
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=~/.cache/old \
#     cargo build --release -p stackpro-messaging --example overhead)
#   bash scripts/bench/overhead-paired.sh ~/.cache/old/release/examples/overhead \
#     target/release/examples/overhead
set -euo pipefail
old=$1 new=$2 rounds=${3:-10} requests=${4:-20000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 1 "$rounds"); do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    "$bin" "$requests" 2>&1 >/dev/null | awk -v w="$which" -v r="$i" \
      'NR > 1 && NF >= 6 { print r, w, $1, $5 }' >>"$out"
  done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
p99 = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, which, route, v = line.split()
    p99[(route, r)][which] = float(v)
routes = sorted({route for route, _ in p99})
print("| route | old p99 median [us] | new p99 median [us] | new/old, median of rounds (min-max) |")
print("|---|---|---|---|")
for route in routes:
    rounds = [v for (rt, _), v in p99.items() if rt == route and len(v) == 2]
    ratios = sorted(v["new"] / v["old"] for v in rounds)
    print("| %s | %.1f | %.1f | %.2f (%.2f-%.2f) |" % (
        route, statistics.median(v["old"] for v in rounds),
        statistics.median(v["new"] for v in rounds),
        statistics.median(ratios), ratios[0], ratios[-1]))
PY
