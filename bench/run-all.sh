#!/usr/bin/env bash
# Runs every benchmark one after another (they must not share the machine) and keeps each output in
# $OUT (default ./bench-results). BENCHMARKS.md records the figures of such a run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
npm run build >/dev/null
run() { local name=$1; shift; echo "== $name: $*"; node --import tsx "$@" 2>&1 | tee "$OUT/$name.txt"; }
run files-import bench/files-import.ts --sizes=1000,10000,100000 --runs=5
run eopkg-import bench/eopkg-import.ts --sizes=1000,10000,50000 --runs=5
run eopkg-bulk bench/eopkg-import.ts --sizes=10000 --runs=3 --payload-kib=64
run lifecycle-pull bench/lifecycle-pull.ts --sizes=50000 --updates=1000 --runs=5 --xz-presets=3,6
run group-commit bench/group-commit.ts --packages 10000 --callers 50 --rounds 3
run reap bench/reap.ts 100000 5
run sweep bench/sweep.ts 3
run serve bench/serve.ts
run deb bench/deb.ts --sizes=10000,50000 --runs=5 --anchors-max=10000
run deb-apt-loop bench/deb-apt-loop.ts --runs=300 --grace=10
