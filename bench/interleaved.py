#!/usr/bin/env python3
"""Times short commands interleaved (A B C, C B A, A B C, ...) after 3 warm-ups each, and prints the median, mean and
minimum wall time of each. On a shared VM whose speed drifts over seconds, hyperfine's blocks of runs (all of A, then
all of B) can differ by 20-30% between blocks; interleaving puts every command under the same drift.

Usage: bench/interleaved.py RUNS "COMMAND A" "COMMAND B" ...   (commands are split as a shell would, quotes included; no shell runs them)"""
import shlex
import statistics
import subprocess
import sys
import time

USAGE = 'usage: bench/interleaved.py RUNS "COMMAND A" ["COMMAND B" ...]   (RUNS: a whole number >= 1)'
if len(sys.argv) < 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
    sys.exit(USAGE)
runs = int(sys.argv[1])
names = sys.argv[2:]
commands = [shlex.split(n) for n in names]
times = [[] for _ in commands]
for c in commands:
    for _ in range(3):
        subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
for i in range(runs):
    order = range(len(commands)) if i % 2 == 0 else reversed(range(len(commands)))
    for k in order:
        start = time.perf_counter()
        subprocess.run(commands[k], stdout=subprocess.DEVNULL, check=True)
        times[k].append(time.perf_counter() - start)
for name, t in zip(names, times):
    print(f"{statistics.median(t) * 1000:7.1f} ms median, {statistics.mean(t) * 1000:7.1f} mean, "
          f"{min(t) * 1000:6.1f} min, {len(t)} runs: {name}")
