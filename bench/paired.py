#!/usr/bin/python3
"""Interleaved timing of two commands: A B, B A, A B, ... with a preparation step before each run.

On a shared machine the load drifts over minutes; hyperfine times all runs of one command, then all of the other, so
the drift lands on one side. Pairing the runs and alternating their order puts both commands under the same load,
and the median of the per-pair ratios is robust to the outliers that remain.

Usage: paired.py RUNS PREPARE NAME_A CMD_A NAME_B CMD_B   (commands run through /bin/sh)
Prints the median wall and CPU times (user, sys of the child) of each, and the median per-pair wall and CPU ratios B/A.
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    if len(sys.argv) != 7 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 2:
        sys.exit("usage: paired.py RUNS PREPARE NAME_A CMD_A NAME_B CMD_B   (RUNS: a whole number >= 2, for a median of ratios)")
    runs, prepare, name_a, cmd_a, name_b, cmd_b = int(sys.argv[1]), sys.argv[2], *sys.argv[3:7]
    results = {name_a: [], name_b: []}
    ratios, cpu_ratios = [], []
    for i in range(runs + 1):  # the first pair warms the page cache and is not counted
        pair = {}
        order = [(name_a, cmd_a), (name_b, cmd_b)] if i % 2 == 0 else [(name_b, cmd_b), (name_a, cmd_a)]
        for name, cmd in order:
            subprocess.run(prepare, shell=True, check=True)
            pair[name] = timed(cmd)
        if i == 0:
            continue
        for name in pair:
            results[name].append(pair[name])
        ratios.append(pair[name_b][0] / pair[name_a][0])
        cpu_ratios.append(sum(pair[name_b][1:]) / sum(pair[name_a][1:]))
    for name, rs in results.items():
        walls = sorted(w for w, _, _ in rs)
        user = statistics.median(u for _, u, _ in rs)
        system = statistics.median(s for _, _, s in rs)
        print(f"{name:>16}: wall median {statistics.median(walls):.3f} s (min {walls[0]:.3f}, max {walls[-1]:.3f}), "
              f"cpu median user {user:.3f} s + sys {system:.3f} s, {len(rs)} runs")
    print(f"per-pair wall ratio {name_b}/{name_a}: median {statistics.median(ratios):.3f} "
          f"(quartiles {statistics.quantiles(ratios, n=4)[0]:.3f} .. {statistics.quantiles(ratios, n=4)[2]:.3f})")
    print(f"per-pair cpu ratio {name_b}/{name_a}: median {statistics.median(cpu_ratios):.3f} "
          f"(quartiles {statistics.quantiles(cpu_ratios, n=4)[0]:.3f} .. {statistics.quantiles(cpu_ratios, n=4)[2]:.3f})")


if __name__ == "__main__":
    main()
