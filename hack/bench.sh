#!/usr/bin/env bash
# Runs the render benchmarks and prints how long rendering 1,000 tenants takes.
#   hack/bench.sh [COUNT]     COUNT runs of 5 iterations each (default 3)
# Target (product reference §6): 1,000 tenants × 10 routes with the seed template in ≤ 0.5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-3}"
out="$(go test -run '^$' -bench 'Seed1000Tenants' -benchtime 5x -count "$count" ./pkg/render/)"
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)' || true
echo "$out" | awk '
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    for (i = 3; i < NF; i++) if ($(i+1) == "ns/op") { s = $i / 1e9; n[name]++; sum[name] += s; if (!(name in best) || s < best[name]) best[name] = s }
  }
  END {
    if (length(n) == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
    for (b in n) printf "%s: %.3f s per 1,000 tenants (best of %d), %.3f s mean; target ≤ 0.500 s\n", b, best[b], n[b], sum[b] / n[b]
  }'
