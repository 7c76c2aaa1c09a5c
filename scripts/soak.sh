#!/usr/bin/env bash
# Runs the whole test suite N times in a row (default 10) while a CPU-heavy process (sha256sum of an
# endless stream, one full CPU) runs beside it, and says how many runs passed. The suite must not
# depend on timing: every run has to pass. Each run's TAP output is kept in $OUT/run-K.tap.
#
#   scripts/soak.sh [N]          OUT=soak-results by default; HOG=0 runs without the CPU hog
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
OUT=${OUT:-soak-results}
mkdir -p "$OUT"
hog=
if [ "${HOG:-1}" != 0 ]; then
  sha256sum /dev/zero >/dev/null &
  hog=$!
  trap 'kill $hog 2>/dev/null' EXIT
fi
passed=0
for k in $(seq 1 "$N"); do
  start=$(date +%s)
  RCUREPO_TEST_NO_INSTALL=1 npm test >"$OUT/run-$k.tap" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E '^# (tests|pass|fail) ' "$OUT/run-$k.tap" | tr '\n' ' ')
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "run $k: exit $rc, ${secs} s, ${summary}load $load" | tee -a "$OUT/summary.txt"
  [ "$rc" = 0 ] && passed=$((passed + 1))
  if [ "$rc" != 0 ]; then grep -E '^not ok|^# Subtest' "$OUT/run-$k.tap" | grep -B1 '^not ok' | head -20 | tee -a "$OUT/summary.txt"; fi
done
echo "$passed of $N runs passed" | tee -a "$OUT/summary.txt"
[ "$passed" = "$N" ]
