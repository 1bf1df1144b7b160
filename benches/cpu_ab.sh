#!/usr/bin/env bash
# Alternates two steplab executables on the same arguments and reports
# each run's wall time and CPU time (user + system, all threads), then the
# medians. On a shared host that takes CPU time away from this machine
# (the steal column of /proc/stat), wall times scatter by 2x; CPU time
# counts only the cycles the process ran, so a change in the work done
# shows through it (memory stalls still count as CPU time):
#
#   bash benches/cpu_ab.sh EXE_A EXE_B [ROUNDS] -- run --algorithm mlp --data F.csv ...
#
# ROUNDS (default 5) runs of each, A then B. A build of the current tree
# is target/release/steplab; copy it aside (cp target/release/steplab
# /tmp/steplab-a) before building the other.
set -euo pipefail
usage="usage: benches/cpu_ab.sh EXE_A EXE_B [ROUNDS] -- ARGS..."
a=${1:?$usage}
b=${2:?$usage}
shift 2
rounds=5
if [ "${1:-}" != "--" ]; then
  rounds=${1:?$usage}
  shift
fi
[ "${1:-}" = "--" ] || { echo "$usage" >&2; exit 2; }
shift
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for side in A B; do
    exe=$a
    [ "$side" = B ] && exe=$b
    /usr/bin/time -f "$side %e %U %S" -o "$out" -a "$exe" "$@" >/dev/null
  done
done
python3 - "$out" <<'PY'
import statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    side, wall, user, system = line.split()
    runs[side].append((float(wall), float(user) + float(system)))
for side, r in runs.items():
    walls = " ".join(f"{w:.2f}" for w, _ in r)
    cpus = " ".join(f"{c:.2f}" for _, c in r)
    print(f"{side}: wall {walls} s (median {statistics.median(w for w, _ in r):.2f}); "
          f"cpu {cpus} s (median {statistics.median(c for _, c in r):.2f})")
PY
