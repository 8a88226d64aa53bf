#!/bin/bash
# bench/deploy.sh - deploy-to-marker time: `xova run hello.ova --expect
# XOVA-BOOT-OK` (verify the OVA, qcow2 overlays over its VMDK members read in
# place, boot) against plain QEMU booting the pre-extracted raw disks (from
# `xova build --format raw`) with the same firmware, machine and flags.
# Three appliances: hello, hello + a 16 MiB 4th (data) disk, hello + a
# 4 GiB 4th disk (small content): the time must not grow with the disk size
# (goal: 4 GiB adds < 5% over 16 MiB, which isolates size from "one more
# device for OVMF and GRUB to probe"). Goal for hello: xova/plain <= 1.10.
#
# A TCG boot here varies by +-15% from run to run, more than the effect
# measured, so: N rounds (default 11); each round boots all six (appliance x
# side) once, in an order that alternates between rounds (xova first, then
# plain first), so drift and load hit every variant alike. Reported: the
# median of each variant, the median of the per-round ratios (the main
# figure: each ratio compares two boots seconds apart), and xova's own work
# before QEMU starts (verify, overlays, vars copy; from XOVA_DEBUG
# timestamps), which boot noise does not touch. Not part of `make check`.
#
# Usage: bench/deploy.sh [BUILDDIR]   (BUILDDIR holds a built `xova`)
# Env:   N (rounds, default 11), ARCH (default x86_64), TIMEOUT (per boot,
#        default 300), XOVA_FIXTURES (default tests/fixtures/cache)
set -euo pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$SRC/build}" && pwd)
XOVA=$B/xova
FIX=${XOVA_FIXTURES:-$SRC/tests/fixtures/cache}
N=${N:-11}
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

# one appliance: the OVA, and its raw disks for this arch with pristine copies
prepare() { # label spec
    local label=$1 spec=$2 raws f i
    "$XOVA" build "$spec" -o "$T/$label.ova" -q --grub-dir "$FIX/grub"
    "$XOVA" build "$spec" -f raw -o "$T/$label-raw" -q --grub-dir "$FIX/grub"
    mapfile -t raws < <(jq -r --arg a "$ARCH" '.architectures[$a].disks[]' "$T/$label-raw/summary.json")
    for i in "${!raws[@]}"; do raws[$i]=$T/$label-raw/${raws[$i]}; done
    # restored before every plain boot (the guest may write)
    mkdir "$T/$label-pristine"
    for f in "${raws[@]}"; do cp --sparse=always "$f" "$T/$label-pristine/"; done
    printf '%s\n' "${raws[@]}" > "$T/$label.disks"
    echo "-- $label: $(du -h --apparent-size "$T/$label.ova" | cut -f1) OVA; disks for $ARCH: $(for f in "${raws[@]}"; do printf '%s(%s) ' "${f##*/}" "$(du -h --apparent-size "$f" | cut -f1)"; done)"
}

# xova run, timed; its XOVA_DEBUG timestamps give the time from "verifying"
# to the QEMU argv (= just before QEMU is spawned) in ms
boot_xova() { # label
    local t rc=0
    t=$(now)
    XOVA_DEBUG=1 "$XOVA" run "$T/$1.ova" --arch "$ARCH" --accel tcg --expect "$MARKER" --timeout "$TIMEOUT" \
        2>"$T/xova.err" || rc=$?
    sub "$t" "$(now)" >> "$T/$1.x"; echo >> "$T/$1.x"
    [ $rc = 0 ] || { echo "deploy.sh: xova run failed ($rc)" >&2; tail -5 "$T/xova.err" >&2; return 1; }
    awk -F'[][]' '/debug: \[/ && /verifying/ {s = $2} /debug: \[/ && /qemu argv: \// {e = $2}
        END {printf "%.0f\n", (e - s) * 1000}' "$T/xova.err" >> "$T/$1.pre"
}

boot_plain() { # label
    local t f raws
    mapfile -t raws < "$T/$1.disks"
    for f in "${raws[@]}"; do cp --sparse=always "$T/$1-pristine/${f##*/}" "$f"; done
    t=$(now)
    plain_boot "${raws[@]}"
    sub "$t" "$(now)" >> "$T/$1.p"; echo >> "$T/$1.p"
}

mkdir -p "$T/shared/docs"
echo "shared data for the deploy bench" > "$T/shared/README"
seq 1 2000 > "$T/shared/docs/numbers.txt"
mkspec "$T/hello.json" "" ""
mkspec "$T/hello-16m.json" "$T/shared" 16M
mkspec "$T/hello-4g.json" "$T/shared" 4G
LABELS=(hello hello+16M-data hello+4G-data)
prepare hello "$T/hello.json"
prepare hello+16M-data "$T/hello-16m.json"
prepare hello+4G-data "$T/hello-4g.json"
for l in "${LABELS[@]}"; do : > "$T/$l.x"; : > "$T/$l.p"; : > "$T/$l.pre"; done
echo "== load before runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$N"); do
    for l in "${LABELS[@]}"; do
        if [ $((r % 2)) = 1 ]; then boot_xova "$l"; boot_plain "$l"; else boot_plain "$l"; boot_xova "$l"; fi
    done
    printf '   round %d/%d done (load %s)\n' "$r" "$N" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo

declare -A MED
for l in "${LABELS[@]}"; do
    paste "$T/$l.x" "$T/$l.p" | awk '{print $1 / $2}' > "$T/$l.ratio"
    MED[$l.x]=$(median < "$T/$l.x"); MED[$l.p]=$(median < "$T/$l.p")
    MED[$l.r]=$(median < "$T/$l.ratio"); MED[$l.pre]=$(median < "$T/$l.pre")
    printf '%-16s xova run %6.2f s   plain qemu %6.2f s   ratio of medians %.3f   median ratio %.3f   xova before QEMU %s ms\n' \
        "$l" "${MED[$l.x]}" "${MED[$l.p]}" "$(awk -v a="${MED[$l.x]}" -v b="${MED[$l.p]}" 'BEGIN {print a / b}')" \
        "${MED[$l.r]}" "${MED[$l.pre]}"
    printf '    runs xova:  %s\n    runs plain: %s\n    xova before QEMU (ms): %s\n' "$(tr '\n' ' ' < "$T/$l.x")" \
        "$(tr '\n' ' ' < "$T/$l.p")" "$(tr '\n' ' ' < "$T/$l.pre")"
done
# per round: 4 GiB vs 16 MiB 4th disk, xova side (and plain, for the noise)
paste "$T/hello+4G-data.x" "$T/hello+16M-data.x" | awk '{print ($1 - $2) / $2 * 100}' > "$T/size.x"
paste "$T/hello+4G-data.p" "$T/hello+16M-data.p" | awk '{print ($1 - $2) / $2 * 100}' > "$T/size.p"
echo
awk -v r="${MED[hello.r]}" -v r4="${MED[hello+4G-data.r]}" -v sx="$(median < "$T/size.x")" -v sp="$(median < "$T/size.p")" \
    -v c="${MED[hello+4G-data.x]}" -v s="${MED[hello+16M-data.x]}" \
    -v pc="${MED[hello+4G-data.pre]}" -v ps="${MED[hello+16M-data.pre]}" 'BEGIN {
    printf "ratio xova/plain (median of %s per-round ratios): %.3f (goal <= 1.10: %s); with the 4 GiB disk %.3f\n", "'"$N"'", r, (r <= 1.10) ? "met" : "NOT met", r4
    printf "4th disk 16 MiB -> 4 GiB: xova %+.1f%% (median of per-round changes; medians %+.1f%%), plain %+.1f%% (goal < 5%%: %s)\n", sx, (c - s) / s * 100, sp, (sx < 5) ? "met" : "NOT met"
    printf "xova before QEMU: 16 MiB %s ms, 4 GiB %s ms\n", ps, pc
}'
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"
