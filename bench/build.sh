#!/bin/bash
# bench/build.sh - whole `xova build` of examples/hello (OVA, split layout)
# against a scripted baseline that does the same work with the standard tools
# in one plain shell script: 2x grub-mkimage, sgdisk per disk, mkfs.fat
# --offset + mtools, mke2fs -d per ext4 filesystem, qemu-img convert to
# streamOptimized VMDK per disk, a pre-made descriptor, sha256sum manifest,
# tar. N runs each (default 5), alternating xova/baseline in one session;
# medians, ratio xova/baseline (goal <= 0.6), then a per-phase breakdown.
# Not part of `make check`.
#
# Usage: bench/build.sh [BUILDDIR]      (BUILDDIR holds a built `xova`)
# Env:   N (runs, default 5), XOVA_FIXTURES (default tests/fixtures/cache),
#        PHASE_RUNS (extra runs for the phase breakdown, default 3; 0 = skip)
set -euo pipefail
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0
PATH=$PATH:/usr/sbin:/sbin

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$SRC/build}" && pwd)
XOVA=$B/xova
FIX=${XOVA_FIXTURES:-$SRC/tests/fixtures/cache}
GRUB=$FIX/grub
SPEC=$SRC/examples/hello/xova.json
N=${N:-5}
PHASE_RUNS=${PHASE_RUNS:-3}
export XOVA_GRUB_PATH=$GRUB

[ -x "$XOVA" ] || { echo "build.sh: $XOVA missing: build first (make)" >&2; exit 1; }
for t in grub-mkimage sgdisk mkfs.fat mmd mcopy mke2fs qemu-img sha256sum tar jq perl; do
    command -v "$t" >/dev/null || { echo "build.sh: $t missing" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/xova-bench-build.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
PRE=$T/pre; mkdir "$PRE"

now() { echo "$EPOCHREALTIME"; }                       # no fork
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }

echo "== machine: $(nproc) cores, $(lscpu | grep 'Model name' | sed 's/.*: *//'), load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $($XOVA --version | head -1); $(qemu-img --version | head -1); $(mke2fs -V 2>&1 | head -1)"
echo "== work dir $T (same filesystem for both), N=$N"

###############################################################################
# Preparation (not timed): sizes, GUIDs, grub.cfg and descriptor from xova
###############################################################################
"$XOVA" build "$SPEC" -f raw -o "$PRE/raw" -q
"$XOVA" build "$SPEC" -o "$PRE/ref.ova" -q
NAME=$(jq -r .name "$PRE/raw/summary.json")
tar -xOf "$PRE/ref.ova" "$NAME.ovf" > "$PRE/$NAME.ovf"       # the "pre-made" descriptor
BOOT_OFF=$(jq -r '.disks[] | select(.role=="boot") | .partitions[0].offset' "$PRE/raw/summary.json")
MTOOLS_SKIP_CHECK=1 mcopy -i "$PRE/raw/$NAME-boot.raw@@$BOOT_OFF" ::/EFI/BOOT/grub.cfg "$PRE/grub.cfg"
cat > "$PRE/early.cfg" <<'EOF'
search --no-floppy --set=root --hint="$root" --file /EFI/BOOT/grub.cfg
set prefix=($root)/EFI/BOOT
configfile ($root)/EFI/BOOT/grub.cfg
EOF
# One line per disk: file size guid part-offset part-size part-type part-uuid part-name content label dir
SPECDIR=$(dirname "$SPEC")
jq -r --slurpfile spec "$SPEC" '
  .disks[] | . as $d | .partitions[0] as $p |
  ( if $d.role == "boot" then {label: "ESP", directory: "-"}
    else ($spec[0].disks[] | select(.role == $d.role and ((.arch // "") == ($d.arch // "")))) end ) as $s |
  [$d.file, $d.size, $d.guid, $p.offset, $p.size, $p.type, $p.uuid, $p.name, $p.content,
   ($s.label // "-"), ($s.directory // "-")] | @tsv' "$PRE/raw/summary.json" > "$PRE/disks.tsv"
MODS="part_gpt part_msdos fat search search_fs_file search_fs_uuid search_label normal configfile
      linux boot echo test true sleep reboot halt ls cat minicmd gzio all_video efi_gop"
ARCHS=$(jq -r '.architectures[].name' "$SPEC")

###############################################################################
# The baseline: one plain script, sequential, standard tools
###############################################################################
declare -A ST                     # per-step seconds of the last baseline run
lap() { ST[$1]=$(awk -v a="${ST[$1]:-0}" -v s="$2" -v e="$EPOCHREALTIME" 'BEGIN {printf "%.4f", a + e - s}'); }
baseline() { # $1 output .ova, $2 GPT tool: sgdisk (as specified) or sfdisk
    local out=$1 gpt=${2:-sgdisk} w t f size guid poff psize ptype puuid pname content label dir img
    w=$(mktemp -d "$T/base.XXXXXX")
    ST=()
    t=$(now)
    grub-mkimage -O x86_64-efi -d "$GRUB/x86_64-efi" -p /EFI/BOOT -c "$PRE/early.cfg" -o "$w/BOOTX64.EFI" $MODS efi_uga
    grub-mkimage -O arm64-efi -d "$GRUB/arm64-efi" -p /EFI/BOOT -c "$PRE/early.cfg" -o "$w/BOOTAA64.EFI" $MODS
    lap grub "$t"
    while IFS=$'\t' read -r f size guid poff psize ptype puuid pname content label dir; do
        img=$w/$f
        t=$(now)
        truncate -s "$size" "$img"
        if [ "$gpt" = sgdisk ]; then
            sgdisk -o -U "$guid" -n "1:$((poff / 512)):+$((psize / 512))" -t "1:$ptype" -u "1:$puuid" \
                -c "1:$pname" "$img" >/dev/null
        else
            printf 'label: gpt\nlabel-id: %s\nstart=%s, size=%s, type=%s, uuid=%s, name="%s"\n' \
                "$guid" $((poff / 512)) $((psize / 512)) "$ptype" "$puuid" "$pname" | sfdisk -q "$img"
        fi
        lap gpt "$t"
        t=$(now)
        case $content in
        usp)
            mkfs.fat --invariant -i 0A99B007 -F 32 -S 512 -s 1 -h $((poff / 512)) --mbr=n -n "$label" \
                --offset=$((poff / 512)) "$img" $((psize / 1024)) >/dev/null 2>&1
            M=$img@@$poff
            MTOOLS_SKIP_CHECK=1 mmd -i "$M" ::/EFI ::/EFI/BOOT $(for a in $ARCHS; do echo "::/$a"; done)
            MTOOLS_SKIP_CHECK=1 mcopy -i "$M" "$PRE/grub.cfg" "$w/BOOTX64.EFI" "$w/BOOTAA64.EFI" ::/EFI/BOOT/
            for a in $ARCHS; do   # the fixtures are already named vmlinuz / initrd.img
                MTOOLS_SKIP_CHECK=1 mcopy -i "$M" "$FIX/$a/vmlinuz" "$FIX/$a/initrd.img" "::/$a/"
            done
            lap fat "$t" ;;
        ext4)
            E2FSPROGS_FAKE_TIME=0 mke2fs -q -F -t ext4 -T default -b 4096 -I 256 -U "$puuid" \
                -E "offset=$poff,root_owner=0:0" -L "$label" -d "$SPECDIR/$dir" "$img" "$((psize / 1024))k"
            lap ext4 "$t" ;;
        esac
    done < "$PRE/disks.tsv"
    t=$(now)
    while IFS=$'\t' read -r f _; do
        qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$w/$f" "$w/${f%.raw}.vmdk"
        rm -f "$w/$f"
    done < "$PRE/disks.tsv"
    lap vmdk "$t"
    t=$(now)
    cat "$PRE/$NAME.ovf" > "$w/$NAME.ovf"
    (cd "$w" && sha256sum "$NAME.ovf" *.vmdk | sed -E 's/^([0-9a-f]+)  (.*)$/SHA256(\2)= \1/' > "$NAME.mf")
    (cd "$w" && tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=0644 \
        -cf "$out" "$NAME.ovf" "$NAME.mf" $(cut -f1 "$PRE/disks.tsv" | sed 's/\.raw$/.vmdk/'))
    lap tar+hash "$t"
    rm -rf "$w"
}

xova_build() { "$XOVA" build "$SPEC" -o "$1" -q --force; }

# warm-up (page cache, binaries), and check the baseline's output once
xova_build "$T/x.ova"
baseline "$T/s.ova" sfdisk
baseline "$T/b.ova"
[ "$(tar -tf "$T/b.ova" | sed -n 1p)" = "$NAME.ovf" ] || { echo "build.sh: baseline OVA: descriptor not first" >&2; exit 1; }
mkdir "$T/chk" && tar -xf "$T/b.ova" -C "$T/chk"
for v in "$T"/chk/*.vmdk; do qemu-img check -q -f vmdk "$v"; done
cmp -s <(MTOOLS_SKIP_CHECK=1 mdir -/ -b -i "$PRE/raw/$NAME-boot.raw@@$BOOT_OFF" :: | sort) \
       <(qemu-img convert -f vmdk -O raw "$T/chk/$NAME-boot.vmdk" "$T/chk/b.raw" &&
         MTOOLS_SKIP_CHECK=1 mdir -/ -b -i "$T/chk/b.raw@@$BOOT_OFF" :: | sort) ||
    { echo "build.sh: baseline ESP content differs from xova's" >&2; exit 1; }
mkdir "$T/chk2" && tar -xf "$T/s.ova" -C "$T/chk2"
for v in "$T"/chk2/*.vmdk; do   # the sfdisk variant writes the same GPT (same GUIDs, sizes)
    qemu-img convert -f vmdk -O raw "$v" "$T/chk2/x.raw"
    sgdisk -v "$T/chk2/x.raw" | grep -q 'No problems found' || { echo "build.sh: sfdisk GPT bad in $v" >&2; exit 1; }
done
rm -rf "$T/chk" "$T/chk2" "$T/x.ova" "$T/b.ova" "$T/s.ova"

###############################################################################
# Timed runs, alternating
###############################################################################
: > "$T/t.xova"; : > "$T/t.base"; : > "$T/t.sf"; : > "$T/t.steps"
for i in $(seq "$N"); do
    t=$(now); xova_build "$T/x.ova"; e=$(now); sub "$t" "$e" >> "$T/t.xova"; echo >> "$T/t.xova"
    rm -f "$T/x.ova"
    t=$(now); baseline "$T/b.ova"; e=$(now); sub "$t" "$e" >> "$T/t.base"; echo >> "$T/t.base"
    rm -f "$T/b.ova"
    for k in grub gpt fat ext4 vmdk tar+hash; do echo "$k ${ST[$k]}"; done >> "$T/t.steps"
    t=$(now); baseline "$T/s.ova" sfdisk; e=$(now); sub "$t" "$e" >> "$T/t.sf"; echo >> "$T/t.sf"
    rm -f "$T/s.ova"
    echo "sf-gpt ${ST[gpt]}" >> "$T/t.steps"
done
mx=$(median < "$T/t.xova"); mb=$(median < "$T/t.base"); ms=$(median < "$T/t.sf")
ratio=$(awk -v a="$mx" -v b="$mb" 'BEGIN {printf "%.2f", a / b}')
ratio_sf=$(awk -v a="$mx" -v b="$ms" 'BEGIN {printf "%.2f", a / b}')
goal() { awk -v r="$1" 'BEGIN {print (r <= 0.6) ? "met" : "NOT met"}'; }
echo
printf '%-36s %9s   %s\n' "build of $NAME (ova, split), N=$N" "median s" "runs (s)"
printf '%-36s %9.2f   %s\n' "xova build" "$mx" "$(tr '\n' ' ' < "$T/t.xova")"
printf '%-36s %9.2f   %s\n' "baseline script (sgdisk)" "$mb" "$(tr '\n' ' ' < "$T/t.base")"
printf '%-36s %9.2f   %s\n' "baseline script (sfdisk for the GPT)" "$ms" "$(tr '\n' ' ' < "$T/t.sf")"
printf 'ratio xova/baseline(sgdisk): %s (goal <= 0.60: %s)\n' "$ratio" "$(goal "$ratio")"
printf 'ratio xova/baseline(sfdisk): %s (goal <= 0.60: %s)   [sgdisk sleeps 1 s per disk on a regular file]\n' \
    "$ratio_sf" "$(goal "$ratio_sf")"
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "baseline steps (median of $N runs, s):"
for k in grub gpt sf-gpt fat ext4 vmdk tar+hash; do
    printf '  %-10s %6.3f\n' "$k" "$(awk -v k="$k" '$1 == k {print $2}' "$T/t.steps" | median)"
done

###############################################################################
# xova phases, from XOVA_DEBUG's "run:" lines stamped as they arrive
###############################################################################
[ "$PHASE_RUNS" -gt 0 ] || exit 0
: > "$T/t.phases"
for i in $(seq "$PHASE_RUNS"); do
    perl -MTime::HiRes=time -e '
        my $t0 = time;
        my $pid = open(my $fh, "-|") // die;
        if (!$pid) { open(STDERR, ">&STDOUT"); exec @ARGV or die; }
        my (%first, $last);
        while (<$fh>) {
            my $t = time - $t0;
            $first{grub} //= $t if m{run: \S*grub-mkimage};
            $first{fat}  //= $t if m{run: \S*mkfs\.fat};
            $first{ext4} //= $t if m{run: \S*mke2fs};
            $first{export} //= $t if m{atomic: .*\.ova};
        }
        close $fh; my $end = time - $t0;
        printf "plan %.4f\ngrub %.4f\nfat %.4f\next4 %.4f\nexport %.4f\ntotal %.4f\n",
            $first{grub}, $first{fat} - $first{grub}, $first{ext4} - $first{fat},
            $first{export} - $first{ext4}, $end - $first{export}, $end;
    ' env XOVA_DEBUG=1 "$XOVA" build "$SPEC" -o "$T/p.ova" --force >> "$T/t.phases"
    rm -f "$T/p.ova"
done
echo
echo "xova phases (median of $PHASE_RUNS XOVA_DEBUG runs, s; grub = 2 shims built twice,"
echo "  fat = mkfs.fat + mtools, ext4 = mke2fs -d + debugfs, export = VMDK + hash + tar + fsync):"
for k in plan grub fat ext4 export total; do
    printf '  %-10s %6.3f\n' "$k" "$(awk -v k="$k" '$1 == k {print $2}' "$T/t.phases" | median)"
done
