#!/usr/bin/env bash
# Counts the places in the CLI that build an AWS SDK client or send a request outside
# the service modules (cli/src/aws/), which are meant to be the only door to AWS
# (goal: 0). Prints each place as file:line, then the count.
# Usage: bash scripts/aws-doors.sh
set -euo pipefail
cd "$(dirname "$0")/.."
places=$(grep -rnE '(aws_sdk_[a-z0-9]+::)?Client::(new|from_conf)\(|\.send\(\)' cli/src --include='*.rs' \
  | grep -v '^cli/src/aws/' || true)
[ -n "$places" ] && echo "$places"
count=$(printf '%s' "$places" | grep -c . || true)
echo "places outside cli/src/aws/ that build an SDK client or call .send(): $count"
