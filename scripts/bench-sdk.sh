#!/usr/bin/env bash
# Benchmarks of the generated client SDKs. Not a test, and not run by CI. Prints:
#   1. generation of every capability's clients in both languages (`stackpro sdk generate
#      --out`, the median of BENCH_RUNS runs of the debug binary); goal <= 1 s
#   2. each TypeScript client bundled and minified by esbuild (pinned in
#      sdk/typescript/package.json), bytes and gzipped bytes; goal <= 5 KB
#   3. the time each TypeScript client takes to a degraded answer with the capability
#      down: a closed loopback port (refused) and one that accepts and never answers
#      (timeoutMs 500); goal <= timeoutMs + 50 ms
#   4. the Rust client's own overhead per call in process (sdk/rust/bench, release: the
#      first run compiles for a few minutes); goal <= 50 us besides the HTTP round trip
# Knobs: BENCH_RUNS (generation runs, 5), BENCH_CALLS (Rust calls, 5000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
runs=${BENCH_RUNS:-5}
calls=${BENCH_CALLS:-5000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=sdk/typescript/node_modules/.bin

cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"

echo "== 1. generation, every capability, TypeScript and Rust ($runs runs)"
python3 - "$stackpro" "$work/out" "$runs" <<'PY'
import statistics, subprocess, sys, time
stackpro, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run([stackpro, "sdk", "generate", "--out", out], check=True, stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - start)
m = statistics.median(times)
print(f"median {m * 1000:.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); goal <= 1 s: {'ok' if m <= 1 else 'OVER'}")
PY

echo "== 2. TypeScript clients, bundled and minified (esbuild $("$tools/esbuild" --version))"
for dir in sdk/typescript/*/; do
  cap=$(basename "$dir")
  [ -f "$dir/src/index.ts" ] || continue
  "$tools/esbuild" "$dir/src/index.ts" --bundle --minify --format=esm --log-level=error --outfile="$work/$cap.min.js"
  bytes=$(stat -c %s "$work/$cap.min.js")
  gz=$(gzip -9 -c "$work/$cap.min.js" | wc -c)
  echo "$cap: $bytes bytes minified, $gz gzipped; goal <= 5120: $([ "$bytes" -le 5120 ] && echo ok || echo OVER)"
done

echo "== 3. time to a degraded answer with the capability down (timeoutMs 500)"
for dir in sdk/typescript/*/; do
  cap=$(basename "$dir")
  [ -f "$work/$cap.min.js" ] || continue
  node --input-type=module - "$work/$cap.min.js" "$cap" <<'JS'
import net from "node:net";
const [clientPath, cap] = process.argv.slice(2);
const { createClient, isUnavailable } = await import(clientPath);
const listen = (server) => new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port)));
const closed = await (async () => { const s = net.createServer(); const p = await listen(s); await new Promise((r) => s.close(r)); return p; })();
const held = [];
const silent = await listen(net.createServer((socket) => held.push(socket)));
const timeoutMs = 500;
for (const [what, port] of [["refused", closed], ["hung", silent]]) {
  const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs });
  // The first method without required arguments; health where there is one.
  const call = client.health ?? Object.values(client)[0];
  const times = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const r = await call();
    times.push(performance.now() - start);
    if (!isUnavailable(r)) throw new Error(`${cap}: not degraded: ${JSON.stringify(r)}`);
  }
  const max = Math.max(...times);
  console.log(`${cap} ${what}: max ${max.toFixed(1)} ms of 5 calls; goal <= ${timeoutMs + 50}: ${max <= timeoutMs + 50 ? "ok" : "OVER"}`);
}
for (const s of held) s.destroy();
process.exit(0);
JS
done

echo "== 4. Rust client overhead per call, in process ($calls calls, release)"
cargo run --quiet --release --locked -p stackpro-sdk-bench -- "$calls" >"$work/overhead.json"
python3 - "$work/overhead.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
verdict = "ok" if r["overhead_us"] <= 50 else "OVER"
print(f"client median {r['client_median_us']} us, bare reqwest median {r['bare_reqwest_median_us']} us: "
      f"overhead {r['overhead_us']} us per call; goal <= 50: {verdict}")
PY
