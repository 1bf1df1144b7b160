#!/usr/bin/env bash
# Where a release build of steplab spends its time, on machines whose CPU
# counters `perf stat` cannot read (these, under KVM) but whose timer
# samples `perf record` can: every pass runs inside one large function
# compiled per instruction set (pulp's `vectorize`), so perf's symbols say
# nothing, and the samples are binned by address instead:
#
#   bash benches/profile.sh [THREADS] -- target/release/steplab run --algorithm mlp ...
#
# THREADS (a regular expression, default `^steplab(-rows-[0-9]+)?$`) picks
# the threads whose samples count: by default the passes' threads (the
# calling thread, `steplab` in `steplab run`, takes the first range and
# its helpers `steplab-rows-K` the others), `load` the loader's, `.` all.
# Prints the 24 busiest 64-byte stretches of the executable (and the
# kernel's and the libraries' samples as two more) with their share of
# the samples; `objdump -d --no-show-raw-insn --start-address=A
# --stop-address=B EXE` shows what each one is (a kernel's inner loop is
# usually recognizable from its instructions). A busy stretch just after
# a division or a prefetch is usually time spent waiting on it.
set -euo pipefail

threads='^steplab(-rows-[0-9]+)?$'
if [ "${1:-}" != "--" ]; then
  threads=${1:?usage: benches/profile.sh [THREADS] -- EXE ARGS...}
  shift
fi
[ "${1:-}" = "--" ] || { echo "usage: benches/profile.sh [THREADS] -- EXE ARGS..." >&2; exit 2; }
shift
exe=$(readlink -f "$1")
data=$(mktemp)
trap 'rm -f "$data"' EXIT

perf record -q -o "$data" -- "$@" >/dev/null
# Where the executable's code was mapped, and where its code sits in the file.
mapping=$(perf script -i "$data" --show-mmap-events 2>/dev/null |
  grep -F "r-xp $exe" | head -n 1 |
  sed -E 's/.*\[(0x[0-9a-f]+)\(0x[0-9a-f]+\) @ (0x[0-9a-f]+) .*/\1 \2/')
segment=$(readelf -lW "$exe" | awk '$1 == "LOAD" && $8 == "E" {print $2, $3}')
perf script -i "$data" -F comm,ip 2>/dev/null |
  awk -v t="$threads" '$1 ~ t {print $2}' |
  python3 -c '
import collections, sys
start, offset = (int(v, 16) for v in sys.argv[1].split())
file_offset, address = (int(v, 16) for v in sys.argv[2].split())
bins = collections.Counter()
for line in sys.stdin:
    ip = int(line, 16)
    if ip >= 1 << 63:
        bins["the kernel"] += 1
    elif start <= ip < start + (1 << 32):
        at = (ip - start + offset - file_offset + address) // 64 * 64
        bins[f"{at:#x}-{at + 64:#x}"] += 1
    else:
        bins["libraries"] += 1
total = sum(bins.values()) or 1
print(f"{total} samples")
for where, n in bins.most_common(24):
    print(f"{where:<22} {100 * n / total:5.1f}%")
' "$mapping" "$segment"
