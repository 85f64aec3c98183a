#!/usr/bin/python3
"""Kernel cost of copy_file_range by alignment of the copied range: the experiment behind FileRangeCopier's page split.

Copies SRC to DST (same file system) in five ways, interleaved over ROUNDS rounds, each after deleting DST and `sync`:
  cp        the whole file from offset 0 in one call per 2 GiB (what coreutils cp does)
  mid-page  header [0, S) written with pwrite, then [S, end) in 64 MiB copy_file_range calls (S = 3586176, 2176
            bytes into a page: the layout of bench/LongRopeGguf.Bench's 3 GiB model; the old FileRangeCopier)
  split     as mid-page, but the 1920 bytes up to the first page boundary copied by a call of their own, then 64 MiB
            calls from the boundary (the current FileRangeCopier)
  shifted   the data moved by 32 bytes (a header that grew by 32): source calls page-aligned, target calls not
With "all" as the fourth argument, two user-space alternatives for the shifted case as well:
  shifted-rw    pread/pwrite through a 4 MiB buffer
  shifted-mmap  the source mapped, pwrite from the mapping in 4 MiB pieces
Prints the median wall and CPU (user+sys) time of each and the per-round CPU ratio to cp.
Usage: copy_alignment.py SRC DST [ROUNDS [all]]   (SRC: a file of a few GiB, e.g. from `LongRopeGguf.Bench gen-gguf`)
"""
import mmap
import os
import resource
import statistics
import sys
import time

S = 3586176
CHUNK = 64 << 20


def run(src, dst, mode):
    if os.path.exists(dst):
        os.remove(dst)
    os.sync()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    n = os.fstat(fi).st_size
    if mode == "cp":
        off = 0
        while off < n:
            off += os.copy_file_range(fi, fo, n - off, off, off)
    else:
        start, shift = (S + 1920, 32) if mode.startswith("shifted") else (S, 0)
        os.pwrite(fo, os.pread(fi, start, 0) + b"\0" * shift, 0)
        off = start
        if mode == "shifted-rw":
            buf = memoryview(bytearray(4 << 20))
            while off < n:
                k = os.preadv(fi, [buf[:min(n - off, len(buf))]], off)
                os.pwrite(fo, buf[:k], off + shift)
                off += k
        elif mode == "shifted-mmap":
            with mmap.mmap(fi, 0, prot=mmap.PROT_READ) as m:
                view = memoryview(m)
                while off < n:
                    k = min(n - off, 4 << 20)
                    os.pwrite(fo, view[off:off + k], off + shift)
                    off += k
                view.release()
        while off < n:
            head = (4096 - off % 4096) % 4096
            chunk = head if mode == "split" and head else min(n - off, CHUNK)
            off += os.copy_file_range(fi, fo, chunk, off, off + shift)
    os.close(fi)
    os.close(fo)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    if len(sys.argv) < 3 or len(sys.argv) > 5 or (len(sys.argv) > 3 and not sys.argv[3].isdigit()):
        sys.exit("usage: copy_alignment.py SRC DST [ROUNDS [all]]")
    src, dst = sys.argv[1], sys.argv[2]
    # Each round deletes DST first: the same file as SRC would be deleted before it is read.
    if not os.path.isfile(src):
        sys.exit(f"copy_alignment.py: {src}: no such file")
    if os.path.exists(dst) and os.path.samefile(src, dst):
        sys.exit(f"copy_alignment.py: {dst} is {src} itself; give another DST (it is deleted before each round)")
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    modes = ["cp", "mid-page", "split", "shifted"]
    if len(sys.argv) > 4 and sys.argv[4] == "all":
        modes += ["shifted-rw", "shifted-mmap"]
    res = {m: [] for m in modes}
    for i in range(rounds):
        for m in (modes if i % 2 == 0 else modes[::-1]):
            res[m].append(run(src, dst, m))
    os.remove(dst)
    for m, acc in res.items():
        ratio = statistics.median(a[1] / b[1] for a, b in zip(acc, res["cp"]))
        print(f"{m:>9}: wall median {statistics.median(w for w, _ in acc):.3f} s, "
              f"cpu median {statistics.median(c for _, c in acc):.3f} s, per-round cpu ratio to cp {ratio:.3f}")


if __name__ == "__main__":
    main()
