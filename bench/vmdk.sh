#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/vmdk.sh - our streamOptimized VMDK writer against qemu-img, same inputs,
# same run, interleaved, N runs each, medians. Not part of `make check`.
#
#   bench/vmdk.sh [BUILD_DIR [RUNS]]       (BUILD_DIR: a configured+built tree)
#
# Inputs (made once per run under $TMPDIR, removed at exit):
#   mid: 100 MiB ext4 made with mke2fs -d from /usr/share/perl + /usr/lib/python3.*
#   big: 1 GiB ext4 made with mke2fs -d from /usr/bin + /usr/lib/gcc + /usr/share/doc
# Both are real file systems: text, ELF binaries, already-compressed files and
# zero runs, the mix an appliance disk has.
#
# The driver bench/vmdk-bench.c is compiled here against the build's static
# convenience libraries (bench/ has no build rules of its own yet).
# Env: THREADS (default 0 = all online cores), INPUTS (default "mid big"),
# KEEP=1 keeps the work dir.
#
# Wall time depends on what else the machine runs; the CPU seconds (user+sys,
# via GNU time) do not, and CPU ratio / cores is what wall time would show on
# an otherwise idle machine (qemu-img compresses on one thread).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
runs=${2:-5}
threads=${THREADS:-0}

for lib in "$build/.libs/libxova-ovf.a" "$build/.libs/libxova-common.a"; do
        [ -f "$lib" ] || { echo "vmdk.sh: $lib missing: run 'make libxova-ovf.la libxova-common.la' in $build" >&2; exit 1; }
done
command -v qemu-img >/dev/null || { echo "vmdk.sh: qemu-img missing: install qemu-utils" >&2; exit 1; }
command -v mke2fs >/dev/null || PATH=$PATH:/usr/sbin:/sbin

work=$(mktemp -d "${TMPDIR:-/tmp}/xova-bench-vmdk.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT INT TERM

cc -O2 -Wall -Wextra -I"$top" -I"$build" -o "$work/vmdk-bench" "$top/bench/vmdk-bench.c" \
        "$build/.libs/libxova-ovf.a" "$build/.libs/libxova-common.a" -ldeflate -lz -lcrypto -pthread

mkfs() {        # mkfs IMAGE SIZE DIR...
        img=$1 size=$2; shift 2
        rm -rf "$work/stage" && mkdir "$work/stage"
        for d in "$@"; do [ -d "$d" ] && cp -a "$d" "$work/stage/"; done
        truncate -s "$size" "$img"
        E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -F -U 6b1c3f0e-2b7a-4e59-9a1e-6f0d0c6c0001 \
                -E hash_seed=6b1c3f0e-2b7a-4e59-9a1e-6f0d0c6c0002 -d "$work/stage" "$img"
        rm -rf "$work/stage"
}
echo "making inputs in $work ..." >&2
mkfs "$work/mid.raw" 100M /usr/share/perl /usr/lib/python3.11
mkfs "$work/big.raw" 1G /usr/bin /usr/lib/gcc /usr/share/doc

now() { date +%s.%N; }
# timed OUT_WALL OUT_CPU CMD...: appends wall and user+sys seconds
timed() {
        w=$1 c=$2; shift 2
        s=$(now)
        /usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >/dev/null
        e=$(now)
        echo "$e - $s" | bc >>"$w"
        awk '{ print $1 + $2 }' "$work/cpu" >>"$c"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

[ -x /usr/bin/time ] || { echo "vmdk.sh: /usr/bin/time missing: install the Debian package 'time'" >&2; exit 1; }
printf '%-6s %-9s %10s %9s %10s %14s\n' input tool median_s MiB/s cpu_s output_bytes
for input in ${INPUTS:-mid big}; do
        raw=$work/$input.raw
        mib=$(( $(stat -c %s "$raw") / 1048576 ))
        cat "$raw" >/dev/null   # both tools start from a warm page cache
        : >"$work/t.ours"; : >"$work/t.qemu"; : >"$work/c.ours"; : >"$work/c.qemu"
        i=0
        while [ "$i" -lt "$runs" ]; do
                timed "$work/t.ours" "$work/c.ours" "$work/vmdk-bench" write "$raw" "$work/ours.vmdk" "$threads"
                timed "$work/t.qemu" "$work/c.qemu" qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
                        "$raw" "$work/qemu.vmdk"
                i=$((i + 1))
        done
        # the output must be right, or the speed is meaningless
        qemu-img check -q -f vmdk "$work/ours.vmdk"
        qemu-img convert -f vmdk -O raw "$work/ours.vmdk" "$work/back.raw"
        cmp -s "$raw" "$work/back.raw" || { echo "vmdk.sh: $input: round trip differs" >&2; exit 1; }
        rm -f "$work/back.raw"
        to=$(median <"$work/t.ours"); tq=$(median <"$work/t.qemu")
        co=$(median <"$work/c.ours"); cq=$(median <"$work/c.qemu")
        so=$(stat -c %s "$work/ours.vmdk"); sq=$(stat -c %s "$work/qemu.vmdk")
        printf '%-6s %-9s %10.2f %9.1f %10.2f %14s\n' "$input" xova "$to" "$(echo "$mib / $to" | bc -l)" "$co" "$so"
        printf '%-6s %-9s %10.2f %9.1f %10.2f %14s\n' "$input" qemu-img "$tq" "$(echo "$mib / $tq" | bc -l)" "$cq" "$sq"
        printf '%-6s throughput ours/qemu %.2fx (wall), CPU qemu/ours %.2fx, size ours/qemu %.4f\n' "$input" \
                "$(echo "$tq / $to" | bc -l)" "$(echo "$cq / $co" | bc -l)" "$(echo "$so / $sq" | bc -l)"
        printf '%-6s runs wall: ours %s; qemu %s\n' "$input" "$(tr '\n' ' ' <"$work/t.ours")" "$(tr '\n' ' ' <"$work/t.qemu")"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), threads=$threads, $(qemu-img --version | head -1)"
