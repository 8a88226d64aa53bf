#!/bin/bash
# bad-spec.sh - `xova build` on hostile or mistaken specs: each must exit
# 1-125 with a message naming the file and JSON path, and write nothing.
# Each spec is generated here, into a private temp dir. Every case must:
#   - exit 1..125 (a failure, never 0, never a signal, never a hang: 124 is
#     timeout(1)'s code and counts as a hang),
#   - name the spec file and the JSON path (or the text position) on stderr,
#   - write nothing: no "$W/out", no new file anywhere in the temp dir.
. "$XOVA_SRCDIR/tests/lib.sh"

W=$T/w                  # inputs and the would-be output
L=$T/log                # our own logs, outside the watched dir
mkdir -p "$W/root" "$L"
printf 'not really a kernel\n' >"$W/vmlinuz"
printf 'hello\n' >"$W/root/hostname"
mkfifo "$W/fifo"
ln -s loop "$W/loop"


# pieces of a valid spec: the cases below break one thing each
ARCH='{ "name": "x86_64", "kernel": "vmlinuz" }'
ROOT='{ "name": "root", "role": "root", "arch": "x86_64", "size": "8M", "directory": "root" }'
HEAD='"name": "bad", "version": "1.0",'

# bad NAME EXPECTED: runs the build on $W/NAME.json; EXPECTED must appear on stderr
bad() {
    local name=$1 expect=$2 spec="$W/$1.json" rc before after
    before=$(cd "$W" && find . | LC_ALL=C sort)
    timeout 60 "$XOVA" build "$spec" -o "$W/out" --format raw >"$L/$name.out" 2>"$L/$name.err"
    rc=$?
    after=$(cd "$W" && find . | LC_ALL=C sort)
    if [ $rc -lt 1 ] || [ $rc -gt 125 ] || [ $rc -eq 124 ]; then
        fail "$name: exit status $rc, want 1..125 (124 = hang)"
    elif ! grep -qF -- "$expect" "$L/$name.err"; then
        fail "$name: stderr lacks '$expect': $(head -c 300 "$L/$name.err")"
    elif ! grep -qF -- "$name.json" "$L/$name.err"; then
        fail "$name: stderr does not name the file: $(head -c 300 "$L/$name.err")"
    elif [ -e "$W/out" ]; then
        fail "$name: output '$W/out' exists after a failure"
        rm -rf "$W/out"
    elif [ "$before" != "$after" ]; then
        fail "$name: files appeared or vanished: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
    else
        ok "$name (exit $rc): $(head -n 1 "$L/$name.err" | cut -c 1-150)"
    fi
}

# --- not JSON, or not the JSON we take -------------------------------------
printf 'hello\n' >"$W/not-json.json";                   bad not-json "line 1, column"
: >"$W/empty.json";                                      bad empty "empty"
printf '{ "name": "hel' >"$W/truncated.json";           bad truncated "end of input"
cat >"$W/trailing.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [ $ROOT ] } x
EOF
bad trailing "trailing characters"
{ printf '\xef\xbb\xbf'; cat <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
} >"$W/bom.json";                                       bad bom "byte order mark"
printf '{ "name": "b\xffd" }\n' >"$W/utf8.json";         bad utf8 "invalid UTF-8"
cat >"$W/nul.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vm\u0000linuz" } ], "disks": [ $ROOT ] }
EOF
bad nul "architectures[0].kernel"
{ printf '%0.s[' {1..100}; printf '%0.s]' {1..100}; } >"$W/deep.json"; bad deep "nested deeper"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$W/huge.json"; bad huge "limit"
cat >"$W/single-quote.json" <<EOF
{ 'name': "bad", "version": "1.0", "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
bad single-quote "double quotes"
printf '[ 1, 2 ]\n' >"$W/array.json";                   bad array "top level"

# --- keys ---------------------------------------------------------------
cat >"$W/dup-key.json" <<EOF
{ $HEAD "name": "again", "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
bad dup-key "name: duplicate key"
cat >"$W/dup-nested.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "vcpus": 1, "vcpus": 2 } ], "disks": [ $ROOT ] }
EOF
bad dup-nested "architectures[0].vcpus"
cat >"$W/typo.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "memroy": "1G" } ], "disks": [ $ROOT ] }
EOF
bad typo "did you mean 'memory'"
cat >"$W/missing-name.json" <<EOF
{ "version": "1.0", "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
bad missing-name "name: missing required key"
cat >"$W/missing-archs.json" <<EOF
{ $HEAD "disks": [ $ROOT ] }
EOF
bad missing-archs "architectures"
cat >"$W/empty-archs.json" <<EOF
{ $HEAD "architectures": [], "disks": [ $ROOT ] }
EOF
bad empty-archs "architectures"
cat >"$W/version-type.json" <<EOF
{ "name": "bad", "version": 1, "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
bad version-type "version"

# --- architectures --------------------------------------------------------
cat >"$W/alias.json" <<EOF
{ $HEAD "architectures": [ { "name": "arm64", "kernel": "vmlinuz" } ], "disks": [ $ROOT ] }
EOF
bad alias "did you mean 'aarch64'"
cat >"$W/memory-zero.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "memory": 0 } ], "disks": [ $ROOT ] }
EOF
bad memory-zero "architectures[0].memory"
cat >"$W/memory-1e30.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "memory": 1e30 } ], "disks": [ $ROOT ] }
EOF
bad memory-1e30 "architectures[0].memory"
cat >"$W/vcpus-huge.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "vcpus": 1000000000 } ], "disks": [ $ROOT ] }
EOF
bad vcpus-huge "architectures[0].vcpus"
cat >"$W/vcpus-float.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "vcpus": 1.5 } ], "disks": [ $ROOT ] }
EOF
bad vcpus-float "architectures[0].vcpus"
for c in newline dollar semicolon brace quote; do
    case $c in
    newline) v='quiet\nreboot' ;; dollar) v='a=$x' ;; semicolon) v='quiet; reboot' ;;
    brace) v='}' ;; quote) v='a=\"b' ;;
    esac
    cat >"$W/cmdline-$c.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "cmdline": "$v" } ], "disks": [ $ROOT ] }
EOF
    bad "cmdline-$c" "architectures[0].cmdline"
done

# --- names ------------------------------------------------------------------
for c in slash dotdot control long; do
    case $c in
    slash) v='a/b' ;; dotdot) v='a..b' ;; control) v='a\u0001b' ;;
    long) v=$(printf 'a%.0s' {1..65}) ;;
    esac
    cat >"$W/name-$c.json" <<EOF
{ "name": "$v", "version": "1.0", "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
    bad "name-$c" "name"
done

# --- disks --------------------------------------------------------------------
cat >"$W/no-root.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [] }
EOF
bad no-root "no root disk for architecture 'x86_64'"
cat >"$W/two-roots.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [ $ROOT,
  { "name": "root2", "role": "root", "arch": "x86_64", "size": "8M" } ] }
EOF
bad two-roots "disks[1].arch"
cat >"$W/data-arch.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [ $ROOT,
  { "name": "data", "role": "data", "arch": "x86_64", "size": "8M" } ] }
EOF
bad data-arch "disks[1].arch"
for c in word negative overflow hex odd small; do
    case $c in
    word) v='"big"' ;; negative) v='-8388608' ;; overflow) v='18446744073709551616' ;;
    hex) v='"0x10"' ;; odd) v='"8193K"' ;; small) v='"1M"' ;;
    esac
    cat >"$W/size-$c.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [ $ROOT,
  { "name": "data", "role": "data", "size": $v } ] }
EOF
    bad "size-$c" "disks[1].size"
done
cat >"$W/two-contents.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [
  { "name": "root", "role": "root", "arch": "x86_64", "size": "8M", "directory": "root", "image": "vmlinuz" } ] }
EOF
bad two-contents "disks[0].image"
cat >"$W/disk-name-slash.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [
  { "name": "../root", "role": "root", "arch": "x86_64", "size": "8M" } ] }
EOF
bad disk-name-slash "disks[0].name"
cat >"$W/layout.json" <<EOF
{ $HEAD "layout": "double", "architectures": [ $ARCH ], "disks": [ $ROOT ] }
EOF
bad layout "layout"

# --- sources (checked before anything is built) --------------------------------
for c in missing directory fifo devzero loop; do
    case $c in
    missing) v='nonexistent' ;; directory) v='root' ;; fifo) v='fifo' ;;
    devzero) v='/dev/zero' ;; loop) v='loop' ;;
    esac
    cat >"$W/kernel-$c.json" <<EOF
{ $HEAD "architectures": [ { "name": "x86_64", "kernel": "$v" } ], "disks": [ $ROOT ] }
EOF
    bad "kernel-$c" "architectures[0].kernel"
done
cat >"$W/dir-is-file.json" <<EOF
{ $HEAD "architectures": [ $ARCH ], "disks": [
  { "name": "root", "role": "root", "arch": "x86_64", "size": "8M", "directory": "vmlinuz" } ] }
EOF
bad dir-is-file "disks[0].directory"

finish
