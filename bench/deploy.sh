#!/bin/bash
# bench/deploy.sh - deploy-to-marker time: `xova run hello.ova --expect
# XOVA-BOOT-OK` (verify the OVA, qcow2 overlays over its VMDK members read in
# place, boot) against plain QEMU booting the pre-extracted raw disks (from
# `xova build --format raw`) with the same firmware, machine and flags,
# N runs each (default 3), alternating in one session; medians and ratio
# (goal <= 1.10). Then the same with an extra 4 GiB shared data disk (small
# content) added to the spec: the time must not grow with the disk size
# (goal: adds < 5%); a 16 MiB 4th disk is the control, so that the size
# and not the extra device is measured. Not part of `make check`.
#
# Usage: bench/deploy.sh [BUILDDIR]   (BUILDDIR holds a built `xova`)
# Env:   N (default 3), ARCH (default x86_64), TIMEOUT (per boot, default 300),
#        XOVA_FIXTURES (default tests/fixtures/cache)
set -euo pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$SRC/build}" && pwd)
XOVA=$B/xova
FIX=${XOVA_FIXTURES:-$SRC/tests/fixtures/cache}
N=${N:-3}
ARCH=${ARCH:-x86_64}
TIMEOUT=${TIMEOUT:-300}
MARKER=XOVA-BOOT-OK
[ -x "$XOVA" ] || { echo "deploy.sh: $XOVA missing: build first (make)" >&2; exit 1; }
for t in jq python3 qemu-system-"$ARCH" timeout; do
    command -v "$t" >/dev/null || { echo "deploy.sh: $t missing" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/xova-bench-deploy.XXXXXX")
QPID=
cleanup() { [ -n "$QPID" ] && kill "$QPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/.*: *//'), load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $($XOVA --version | head -1); $(qemu-system-"$ARCH" --version | head -1); accel tcg; N=$N"

# The spec with absolute paths; with $3 set, plus one more data disk of that
# size holding a small directory.
mkspec() { # $1 out, $2 small content dir or "", $3 extra data size or ""
    python3 - "$SRC/examples/hello/xova.json" "$1" "$2" "$3" <<'PY'
import json, os, sys
src, out, content, size = sys.argv[1:5]
base = os.path.dirname(os.path.abspath(src))
s = json.load(open(src))
for a in s["architectures"]:
    for k in ("kernel", "initrd"):
        a[k] = os.path.normpath(os.path.join(base, a[k]))
for d in s["disks"]:
    if "directory" in d:
        d["directory"] = os.path.normpath(os.path.join(base, d["directory"]))
if size:
    s["disks"].append({"name": "shared", "role": "data", "size": size,
                       "directory": content, "label": "shared"})
json.dump(s, open(out, "w"), indent=1)
PY
}

# Plain QEMU: the argv `xova run` uses (hv/qemu.c), but raw disks straight
# from files instead of qcow2 overlays over the OVA. Returns once the marker
# is on the console; QEMU is then ended by its pid.
plain_boot() { # raw disks...
    local args=() i=0 d dev code vars m rc=0
    case $ARCH in
    x86_64) code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd m=q35 ;;
    aarch64) code=/usr/share/AAVMF/AAVMF_CODE.fd vars=/usr/share/AAVMF/AAVMF_VARS.fd m=virt ;;
    *) echo "deploy.sh: ARCH $ARCH?" >&2; return 1 ;;
    esac
    cp --sparse=always "$vars" "$T/vars.fd"     # xova also copies the vars template per run
    for d in "$@"; do
        dev="virtio-blk-pci,drive=disk$i"
        [ $i != 0 ] || dev="$dev,bootindex=0"
        args+=(-blockdev "{\"driver\":\"raw\",\"node-name\":\"disk$i\",\"file\":{\"driver\":\"file\",\"filename\":\"$d\"}}"
               -device "$dev")
        i=$((i + 1))
    done
    rm -f "$T/con"; mkfifo "$T/con"
    timeout "$TIMEOUT" qemu-system-"$ARCH" -machine "$m,accel=tcg,pflash0=fw-code,pflash1=fw-vars" \
        -cpu max -m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
        -blockdev "{\"driver\":\"raw\",\"node-name\":\"fw-code\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"$code\",\"read-only\":true}}" \
        -blockdev "{\"driver\":\"raw\",\"node-name\":\"fw-vars\",\"file\":{\"driver\":\"file\",\"filename\":\"$T/vars.fd\"}}" \
        "${args[@]}" -netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
        -chardev stdio,id=con0,signal=off -serial chardev:con0 </dev/null >"$T/con" 2>"$T/qemu.err" &
    QPID=$!
    grep -a -q -m1 -- "$MARKER" <"$T/con" || rc=1
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
    QPID=
    [ $rc = 0 ] || { echo "deploy.sh: plain QEMU: no $MARKER on the console" >&2; cat "$T/qemu.err" >&2; }
    return $rc
}

declare -A MED
bench_one() { # label spec
    local label=$1 spec=$2 ova=$T/$1.ova raws=() f i t
    "$XOVA" build "$spec" -o "$ova" -q --grub-dir "$FIX/grub"
    "$XOVA" build "$spec" -f raw -o "$T/$label-raw" -q --grub-dir "$FIX/grub"
    mapfile -t raws < <(jq -r --arg a "$ARCH" '.architectures[$a].disks[]' "$T/$label-raw/summary.json")
    for i in "${!raws[@]}"; do raws[$i]=$T/$label-raw/${raws[$i]}; done
    # pristine copies, restored before every plain boot (the guest may write)
    mkdir "$T/$label-pristine"
    for f in "${raws[@]}"; do cp --sparse=always "$f" "$T/$label-pristine/"; done
    echo "-- $label: $(du -h --apparent-size "$ova" | cut -f1) OVA; disks for $ARCH: $(for f in "${raws[@]}"; do printf '%s(%s) ' "${f##*/}" "$(du -h --apparent-size "$f" | cut -f1)"; done)"
    : > "$T/$label.x"; : > "$T/$label.p"
    for i in $(seq "$N"); do
        t=$(now)
        "$XOVA" run "$ova" --arch "$ARCH" --accel tcg --expect "$MARKER" --timeout "$TIMEOUT" 2>/dev/null ||
            { echo "deploy.sh: xova run failed ($?)" >&2; return 1; }
        sub "$t" "$(now)" >> "$T/$label.x"; echo >> "$T/$label.x"
        for f in "${raws[@]}"; do cp --sparse=always "$T/$label-pristine/${f##*/}" "$f"; done
        t=$(now)
        plain_boot "${raws[@]}"
        sub "$t" "$(now)" >> "$T/$label.p"; echo >> "$T/$label.p"
    done
    local mx mp
    mx=$(median < "$T/$label.x"); mp=$(median < "$T/$label.p")
    MED[$label.x]=$mx; MED[$label.p]=$mp
    printf '%-16s xova run %6.2f s   plain qemu %6.2f s   ratio %.2f   (runs: xova %s/ plain %s)\n' \
        "$label" "$mx" "$mp" "$(awk -v a="$mx" -v b="$mp" 'BEGIN {print a / b}')" \
        "$(tr '\n' ' ' < "$T/$label.x")" "$(tr '\n' ' ' < "$T/$label.p")"
    rm -rf "$T/$label-raw" "$T/$label-pristine" "$ova"
}

mkdir -p "$T/shared/docs"
echo "shared data for the deploy bench" > "$T/shared/README"
seq 1 2000 > "$T/shared/docs/numbers.txt"
mkspec "$T/hello.json" "" ""
mkspec "$T/hello-16m.json" "$T/shared" 16M
mkspec "$T/hello-4g.json" "$T/shared" 4G
echo "== load before runs: $(cut -d' ' -f1-3 /proc/loadavg)"
bench_one hello "$T/hello.json"
bench_one hello+16M-data "$T/hello-16m.json"
bench_one hello+4G-data "$T/hello-4g.json"
echo
# The 4 GiB disk is a 4th disk: compare it with the same 4th disk at 16 MiB
# (size effect, the goal) and with the 3-disk appliance (size + one more
# device for OVMF and GRUB to probe).
awk -v a="${MED[hello.x]}" -v b="${MED[hello.p]}" -v s="${MED[hello+16M-data.x]}" -v sp="${MED[hello+16M-data.p]}" \
    -v c="${MED[hello+4G-data.x]}" -v d="${MED[hello+4G-data.p]}" 'BEGIN {
    r = a / b; r2 = c / d
    printf "ratio xova/plain: %.2f (goal <= 1.10: %s); with the 4 GiB disk %.2f\n", r, (r <= 1.10) ? "met" : "NOT met", r2
    g = (c - s) / s * 100; gp = (d - sp) / sp * 100
    printf "4th disk 16 MiB -> 4 GiB: xova %+.1f%%, plain %+.1f%% (goal < 5%%: %s)\n", g, gp, (g < 5) ? "met" : "NOT met"
    printf "3 disks -> 4 disks (4 GiB): xova %+.1f%%, plain %+.1f%%\n", (c - a) / a * 100, (d - b) / b * 100
}'
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"
