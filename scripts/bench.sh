#!/usr/bin/env bash
# Measures what the foundation issue sets goals for, on a release build:
#   - `stackpro render --all --env E` for every environment (goal: all capabilities x
#     environments under 50 ms), and `stackpro validate --no-lint` (every capability x
#     every environment rendered and parsed back in one process)
#   - `stackpro --help` (goal: under 10 ms)
# Uses hyperfine when installed (STACKPRO_SETUP_BENCH=1 scripts/setup.sh installs it),
# else a plain loop of RUNS runs reporting mean and min in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
BIN=$(bash scripts/build-release.sh)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cmds=()
for env in $(ls envs | sed -n 's/\.yaml$//p'); do
  cmds+=("$BIN render --all --env $env --out $OUT")
done
cmds+=("$BIN validate --no-lint" "$BIN --help")

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 5 --runs "$RUNS" -N --export-markdown "$OUT/bench.md" "${cmds[@]}" >/dev/null
  cat "$OUT/bench.md"
else
  printf '| command | mean [ms] | min [ms] |\n|---|---|---|\n'
  for cmd in "${cmds[@]}"; do
    for _ in 1 2 3; do $cmd >/dev/null 2>&1; done
    total=0; min=
    for _ in $(seq "$RUNS"); do
      t0=$(date +%s%N); $cmd >/dev/null 2>&1; t1=$(date +%s%N)
      d=$(( (t1 - t0) / 1000 )); total=$((total + d))
      if [ -z "$min" ] || [ "$d" -lt "$min" ]; then min=$d; fi
    done
    awk -v c="${cmd/$BIN/stackpro}" -v t="$total" -v n="$RUNS" -v m="$min" \
      'BEGIN { printf "| `%s` | %.2f | %.2f |\n", c, t/n/1000, m/1000 }'
  done
fi
