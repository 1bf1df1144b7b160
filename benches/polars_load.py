"""Loading a CSV with polars against Steplab's whole `steplab run` on it
(read, validate, standardize, one linear-regression step, JSON out),
alternating, in the same minutes: the issue's load target is at most
polars' time. Five rounds; prints each time and the medians.

    python3 benches/polars_load.py DATA.csv [STEPLAB_EXE]

STEPLAB_EXE defaults to target/release/steplab (build it first).
"""
import statistics, subprocess, sys, time
import polars as pl

path = sys.argv[1]
exe = sys.argv[2] if len(sys.argv) > 2 else "target/release/steplab"
run = [exe, "run", "--algorithm", "linear-regression", "--data", path,
       "--steps", "1", "--standardize"]
times = {"polars read_csv": [], "steplab run": []}
for _ in range(5):
    t = time.perf_counter(); df = pl.read_csv(path)
    times["polars read_csv"].append(time.perf_counter() - t)
    del df
    t = time.perf_counter(); subprocess.run(run, check=True, stdout=subprocess.DEVNULL)
    times["steplab run"].append(time.perf_counter() - t)
for name, ts in times.items():
    print(f"{name}: {' '.join(f'{t * 1e3:.0f}' for t in ts)} ms, "
          f"median {statistics.median(ts) * 1e3:.0f} ms")
print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
