#!/bin/bash
# bench/deploy.sh - deploy-to-marker of the Debian example on one arch
# (default x86_64): `xova run debian.ova --expect MARKER` (verify the OVA:
# SHA-256 of every member, every VMDK grain inflated and checked; qcow2
# overlays over the VMDK members read in place; boot) against plain QEMU
# booting the pre-extracted disks (raw, from `xova build --format raw` of the
# same spec, untimed) with the very argv xova used (taken from its
# XOVA_DEBUG "qemu argv:" lines: same machine, CPU, memory, firmware,
# devices), only the disk nodes and the vars copy swapped for raw files.
# Goal (issue 11): xova/plain <= 1.05.
# A third side, plain QEMU on the VMDK members themselves (extracted from
# the OVA, each under a fresh qcow2 overlay as xova's are), splits the gap:
# vmdk/plain is what reading streamOptimized grains costs inside QEMU,
# xova/vmdk what xova adds around it (verification, fds, offsets).
#
# A TCG boot varies by +-15% from run to run and more under load, so: N
# rounds (default 5), each boots both once, in alternating order; reported
# are the medians, the median of the per-round ratios (the main figure:
# each compares two boots seconds apart), and xova's own work before QEMU
# starts (from its XOVA_DEBUG timestamps: verification, overlays, vars
# copy), which boot noise does not touch, with the verification alone
# (`xova verify` of the OVA, timed separately, and its share of a boot).
# Not part of `make check`.
#
# Usage: bench/deploy.sh [BUILDDIR]   (BUILDDIR holds a built `xova`)
# Env:   N (rounds, default 5), ARCH (default x86_64), TIMEOUT (per boot,
#        default 600), MARKER (default the example's
#        "XOVA-BOOT-OK arch=ARCH service=up"), ROOT_<arch>, XOVA_FIXTURES
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=1700000000

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$SRC/build}" && pwd)
XOVA=$B/xova
FIX=${XOVA_FIXTURES:-$SRC/tests/fixtures/cache}
N=${N:-5}
ARCH=${ARCH:-x86_64}
TIMEOUT=${TIMEOUT:-600}
MARKER=${MARKER:-XOVA-BOOT-OK arch=$ARCH service=up}
export XOVA_GRUB_PATH=$FIX/grub
[ -x "$XOVA" ] || { echo "deploy.sh: $XOVA missing: build first (make)" >&2; exit 1; }
for t in jq qemu-system-"$ARCH" qemu-img timeout; do
    command -v "$t" >/dev/null || { echo "deploy.sh: $t missing" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/var/tmp}/xova-bench-deploy.XXXXXX")
QPID=
cleanup() { if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null || true; fi; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$SRC/bench/lib.sh"
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

declare -A ROOT
ROOT[$ARCH]=$(root_for "$ARCH") || exit 1
LOAD0=$(load)
echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load before: $LOAD0"
echo "== $("$XOVA" --version | head -1); $(qemu-system-"$ARCH" --version | head -1); TCG; N=$N; marker '$MARKER'"
echo "== root $ARCH: ${ROOT[$ARCH]}"

# Preparation (untimed): the OVA, the raw disks, pristine copies
SPEC=$(debian_spec "$ARCH")
"$XOVA" build "$SPEC" -o "$T/debian.ova" -q
"$XOVA" build "$SPEC" -f raw -o "$T/raw" -q
mapfile -t RAWS < <(jq -r --arg a "$ARCH" '.architectures[$a].disks[]' "$T/raw/summary.json")
mkdir "$T/pristine" "$T/vmdk"
tar -xf "$T/debian.ova" -C "$T/vmdk" --wildcards '*.vmdk'
mapfile -t VMDKS < <(jq -r --arg a "$ARCH" '.architectures[$a].disks[] | sub("\\.raw$"; ".vmdk")' "$T/raw/summary.json")
for f in "${RAWS[@]}"; do cp --sparse=always "$T/raw/$f" "$T/pristine/"; done
echo "== OVA $(( $(stat -c %s "$T/debian.ova") >> 20 )) MiB; disks for $ARCH: ${RAWS[*]}"

# xova run, timed; its XOVA_DEBUG timestamps give the time from "verifying"
# to the QEMU argv (just before QEMU is spawned) in ms
boot_xova() {
    local t rc=0
    t=$(now)
    XOVA_DEBUG=1 "$XOVA" run "$T/debian.ova" --arch "$ARCH" --accel tcg --expect "$MARKER" --timeout "$TIMEOUT" \
        >/dev/null 2>"$T/xova.err" || rc=$?
    sub "$t" "$(now)" >> "$T/t.x"; echo >> "$T/t.x"
    [ $rc = 0 ] || { echo "deploy.sh: xova run failed ($rc)" >&2; tail -5 "$T/xova.err" >&2; return 1; }
    awk -F'[][]' '/debug: \[/ && /verifying/ && !s {s = $2} /debug: \[/ && /qemu argv: \// {e = $2}
        END {printf "%.0f\n", (e - s) * 1000}' "$T/xova.err" >> "$T/t.pre"
}

# The argv of xova's first run, one element a line
boot_xova; : > "$T/t.x"; : > "$T/t.pre"
sed -n 's/^xova: debug: \[[0-9. ]*\] qemu argv: //p' "$T/xova.err" > "$T/argv"
[ -s "$T/argv" ] || { echo "deploy.sh: no 'qemu argv:' lines in xova's debug output" >&2; exit 1; }

# Plain QEMU: xova's argv, the disk nodes diskN now raw files, fw-vars a
# fresh copy of the template (the code file with CODE -> VARS, as OVMF and
# AAVMF name them); returns once the marker is on the console
plain_boot() {
    local args=() a code vars rc=0 n
    mapfile -t args < "$T/argv"
    for n in "${!args[@]}"; do
        a=${args[$n]}
        case $a in
        *'"node-name":"fw-code"'*) code=$(jq -r '.file.filename' <<< "$a") ;;
        esac
    done
    vars=${code/CODE/VARS}
    [ -f "$vars" ] || { echo "deploy.sh: no vars template $vars for $code" >&2; return 1; }
    cp --sparse=always "$vars" "$T/vars.fd"
    for n in "${!args[@]}"; do
        a=${args[$n]}
        case $a in
        *'"node-name":"fw-vars"'*)
            args[$n]=$(jq -c --arg f "$T/vars.fd" '.file = {driver: "file", filename: $f}' <<< "$a") ;;
        *'"node-name":"disk'[0-9]*)
            i=$(jq -r '."node-name" | ltrimstr("disk")' <<< "$a")
            if [ "$DISKS" = raw ]; then
                args[$n]=$(jq -nc --arg n "disk$i" --arg f "$T/raw/${RAWS[$i]}" \
                    '{driver: "raw", "node-name": $n, file: {driver: "file", filename: $f}}')
            else
                args[$n]=$(jq -nc --arg n "disk$i" --arg f "$T/vmdk/${VMDKS[$i]}.qcow2" \
                    '{driver: "qcow2", "node-name": $n, file: {driver: "file", filename: $f}}')
            fi ;;
        esac
    done
    rm -f "$T/con"; mkfifo "$T/con"
    timeout "$TIMEOUT" "${args[@]}" </dev/null >"$T/con" 2>"$T/qemu.err" &
    QPID=$!
    grep -a -q -m1 -F -- "$MARKER" <"$T/con" || rc=1
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
    QPID=
    [ $rc = 0 ] || { echo "deploy.sh: plain QEMU: no '$MARKER' on the console" >&2; cat "$T/qemu.err" >&2; }
    return $rc
}
boot_plain() {
    local t f
    for f in "${RAWS[@]}"; do cp --sparse=always "$T/pristine/$f" "$T/raw/$f"; done   # the guest writes
    t=$(now)
    DISKS=raw plain_boot
    sub "$t" "$(now)" >> "$T/t.p"; echo >> "$T/t.p"
}
boot_vmdk() {
    local t f
    for f in "${VMDKS[@]}"; do   # fresh overlays: the guest writes
        rm -f "$T/vmdk/$f.qcow2"
        qemu-img create -q -f qcow2 -F vmdk -b "$T/vmdk/$f" "$T/vmdk/$f.qcow2"
    done
    t=$(now)
    DISKS=vmdk plain_boot
    sub "$t" "$(now)" >> "$T/t.k"; echo >> "$T/t.k"
}

# the verification alone: xova verify of the same OVA (page cache warm)
: > "$T/t.v"
for r in 1 2 3; do
    t=$(now); "$XOVA" verify "$T/debian.ova" >/dev/null; sub "$t" "$(now)" >> "$T/t.v"; echo >> "$T/t.v"
done

: > "$T/t.p"; : > "$T/t.k"
echo "== load before runs: $(load)"
for r in $(seq "$N"); do
    if [ $((r % 2)) = 1 ]; then boot_xova; boot_plain; boot_vmdk; else boot_vmdk; boot_plain; boot_xova; fi
    printf '   round %d/%d done (load %s)\n' "$r" "$N" "$(load)"
done
LOAD1=$(load)
paste "$T/t.x" "$T/t.p" | awk '{print $1 / $2}' > "$T/t.r"
mx=$(median < "$T/t.x"); mp=$(median < "$T/t.p"); mr=$(median < "$T/t.r"); pre=$(median < "$T/t.pre")
mv=$(median < "$T/t.v")
paste "$T/t.k" "$T/t.p" | awk '{print $1 / $2}' > "$T/t.kr"
paste "$T/t.x" "$T/t.k" | awk '{print $1 / $2}' > "$T/t.xk"
mk=$(median < "$T/t.k"); mkr=$(median < "$T/t.kr"); mxk=$(median < "$T/t.xk")
echo
printf 'debian %s, N=%s   xova run %.2f s   plain QEMU %.2f s   ratio of medians %.3f   median of per-round ratios %.3f\n' \
    "$ARCH" "$N" "$mx" "$mp" "$(awk -v a="$mx" -v b="$mp" 'BEGIN {print a / b}')" "$mr"
printf '  runs xova:  %s\n  runs plain: %s\n  ratios:     %s\n' "$(tr '\n' ' ' < "$T/t.x")" "$(tr '\n' ' ' < "$T/t.p")" \
    "$(tr '\n' ' ' < "$T/t.r")"
printf 'plain QEMU on the VMDK members (qcow2 overlays): median %.2f s (runs: %s)\n' "$mk" "$(tr '\n' ' ' < "$T/t.k")"
printf '  per-round vmdk/plain (QEMU reading streamOptimized): median %.3f (%s)\n' "$mkr" "$(tr '\n' ' ' < "$T/t.kr")"
printf '  per-round xova/vmdk (what xova adds around it): median %.3f (%s)\n' "$mxk" "$(tr '\n' ' ' < "$T/t.xk")"
printf 'goal xova/plain <= 1.05: %s\n' "$(awk -v r="$mr" 'BEGIN {print (r <= 1.05) ? "met" : "NOT met"}')"
printf 'xova before QEMU starts: median %s ms (runs: %s); xova verify alone: median %.2f s (runs: %s) = %.1f%% of the plain boot\n' \
    "$pre" "$(tr '\n' ' ' < "$T/t.pre")" "$mv" "$(tr '\n' ' ' < "$T/t.v")" "$(awk -v v="$mv" -v p="$mp" 'BEGIN {print v / p * 100}')"
echo "load before $LOAD0, after $LOAD1"
