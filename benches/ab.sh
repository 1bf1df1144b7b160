#!/usr/bin/env bash
# Compares two revisions on one benchmark, in alternating runs, so that the
# machine's slow and fast phases fall on both alike:
#
#   bash benches/ab.sh REV_A REV_B [BENCH] [ROUNDS]
#
# BENCH is `steps` (default) or `panel`; ROUNDS runs of each build (default
# 3) go A, B, A, B, … Each revision is built in a temporary worktree (the
# build directory is shared, so only the crate itself is compiled again).
# Prints every RATIO line of every run, then, per line, the runs of A and
# of B side by side. STEPLAB_BENCH_ROWS passes through to the benchmark;
# STEPLAB_BENCH_FILTER, when set, runs only the benchmarks whose names
# contain it.
set -euo pipefail
cd "$(dirname "$0")/.."

a=${1:?usage: benches/ab.sh REV_A REV_B [BENCH] [ROUNDS]}
b=${2:?usage: benches/ab.sh REV_A REV_B [BENCH] [ROUNDS]}
bench=${3:-steps}
rounds=${4:-3}
work=$(mktemp -d)
target=${CARGO_TARGET_DIR:-$PWD/target}
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The benchmark's executable at a revision, copied to $work/$2.
build() {
  git worktree remove --force "$work/tree" >/dev/null 2>&1 || true
  git worktree add --detach "$work/tree" "$1" >/dev/null
  local exe
  exe=$(cd "$work/tree" && CARGO_TARGET_DIR=$target cargo bench --bench "$bench" --no-run \
    --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  [ -n "$exe" ] || { echo "cannot build $bench at $1" >&2; exit 1; }
  cp "$exe" "$work/$2"
}

build "$a" A
build "$b" B
for round in $(seq 1 "$rounds"); do
  for which in A B; do
    echo "== $which ($([ $which = A ] && echo "$a" || echo "$b")), round $round, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg)"
    "$work/$which" --bench ${STEPLAB_BENCH_FILTER:+"$STEPLAB_BENCH_FILTER"} 2>/dev/null | grep '^RATIO' | sed "s/^/$which /" | tee -a "$work/all"
  done
done

echo
echo "== per line: each run's ratio, A then B"
# The label runs from RATIO to the first time in ms (its figures in
# parentheses, which change from run to run, left out); the ratio follows "=".
perl -ne 'print "$1|$2|$3\n" if /^([AB]) RATIO +(.*?) +[0-9.]+ ms .*?= +([0-9.]+)×/' "$work/all" |
  sed -E 's/ \([0-9]+ steps[^)]*\)//' |
  awk -F'|' '{ key = $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
               runs[key, $1] = runs[key, $1] " " $3 }
             END { for (i = 1; i <= n; i++) { k = order[i]
                     printf "%-48s A:%s   B:%s\n", k, runs[k, "A"], runs[k, "B"] } }'
