#!/bin/bash
# xova-test-timeout: 1800  (many builds, each killed or starved; see tests/tools/bounded.sh)
# Real faults injected into `xova build` of examples/hello ("nothing lost"
# as in docs/HACKING.md, "Atomic outputs"), no mocks where the real thing
# can run: ENOSPC (small
# tmpfs in a mount namespace), EFBIG (ulimit -f, SIGXFSZ ignored),
# SIGINT/SIGTERM at random delays and at the XOVA_DEBUG_PAUSE phases,
# SIGKILL before the rename (the next build removes what it left, but not
# the temps of a build still alive), unwritable output places, missing and
# failing tools, a child killed by SIGKILL, tools that exit 0 but write
# nothing or too little, stdout to /dev/full. After each case:
# exit 1..125 (or death by the signal we sent), a message naming the
# problem, the output absent or unchanged, no debris, inputs and a sentinel
# tree unchanged.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/faults/lib-faults.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
SPECDIR=$(dirname "$SPEC")
B=(--no-progress -q)             # common build options

sentinel_init
INPUTS_STATE=$(inputs_state)

# user+mount namespaces are how ENOSPC and EROFS are made; without them
# this test cannot do its job, which is a failure, not a skip
if ! unshare -rm true 2>"$T/unshare.err"; then
    echo "FAIL - 'unshare -rm true' does not work here: $(cat "$T/unshare.err")" >&2
    echo "FAIL - enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)" >&2
    exit 1
fi

# build_case CASE OUT ERE [ENV...] -- ARGS...: a build expected to fail
# cleanly; the state of OUT is taken before the run
build_case() {
    local c=$1 out=$2 pat=$3 before rc
    shift 3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    before=$(path_state "$out")
    env "${envs[@]}" "$XOVA" build "$SPEC" -o "$out" "${B[@]}" "$@" >"$T/out.log" 2>"$T/err.log"
    rc=$?
    check_rc "$c" "$rc"
    check_msg "$c" "$T/err.log" "$pat"
    check_unchanged "$c" "$out" "$before"
}

# ---------------------------------------------------------------- baseline
# a normal build per format: it must work, and its duration bounds the
# random signal delays below
declare -A BUILD_MS
mkdir -p "$T/base"
for fmt in ova raw; do
    t0=$(now_ms)
    "$XOVA" build "$SPEC" -o "$T/base/h.$fmt" --format "$fmt" "${B[@]}" 2>"$T/err.log"
    rc=$?
    BUILD_MS[$fmt]=$(( $(now_ms) - t0 ))
    if ! check "baseline $fmt build exits 0 (${BUILD_MS[$fmt]} ms)" test $rc -eq 0; then
        cat "$T/err.log"
        echo "Bail out: the baseline build fails; nothing below would mean anything"
        finish
        exit 1
    fi
    check "baseline $fmt: no debris" test -z "$(debris "$T/base")"
done
check "baseline ova verifies" quiet "$XOVA" verify "$T/base/h.ova"

# ---------------------------------------------------------------- 1. ENOSPC
# ns_build CASE SIZE FMT ERE: build into an empty tmpfs of SIZE at $T/ns,
# mounted in a private mount namespace; the listing of the tmpfs after the
# run is taken inside (the tmpfs dies with the namespace)
ns_build() {
    local c=$1 size=$2 fmt=$3 pat=$4 D=$T/ns rc
    rm -rf "$D" "$D".*
    mkdir -p "$D"
    unshare -rm bash -c '
        D=$1; size=$2; shift 2
        mount -t tmpfs -o "size=$size" xova-enospc "$D" || { echo 200 >"$D.rc"; exit; }
        "$@" >/dev/null 2>"$D.err"
        echo $? >"$D.rc"
        find "$D" -mindepth 1 -printf "%P\n" >"$D.ls"
        df -k "$D" | tail -1 >"$D.df"
    ' ns "$D" "$size" "$XOVA" build "$SPEC" -o "$D/a.$fmt" --format "$fmt" "${B[@]}"
    rc=$(cat "$D.rc" 2>/dev/null || echo 255)
    if [ "$rc" = 200 ]; then
        fail "$c: cannot mount a tmpfs in 'unshare -rm'"
        return
    fi
    check_rc "$c" "$rc"
    check_msg "$c" "$D.err" "$pat"
    check_msg "$c (names ENOSPC)" "$D.err" "No space left on device"
    if [ ! -s "$D.ls" ]; then
        ok "$c: the tmpfs is empty afterwards (no output, no debris)"
    else
        fail "$c: left in the tmpfs: $(tr '\n' ' ' <"$D.ls")"
    fi
    check_world "$c"
}
ns_build "ENOSPC 4 MiB tmpfs, ova" 4m ova "hello-boot|/a\.ova"
ns_build "ENOSPC 4 MiB tmpfs, raw" 4m raw "hello-boot|/a\.raw"
# enough for the raw disks but not for the OVA: fails mid-way
ns_build "ENOSPC 50 MiB tmpfs (during VMDK conversion), ova" 50m ova "hello-|/a\.ova|disk '"
# raw: 2 MiB short of what a finished raw build takes on tmpfs (measured),
# so that ENOSPC hits late, after most of the data is written
mkdir -p "$T/ns"
RAW_KB=$(unshare -rm bash -c 'D=$1; shift; mount -t tmpfs -o size=400m t "$D" &&
    "$@" >/dev/null 2>&1 && df -k --output=used "$D" | tail -1' probe "$T/ns" \
    "$XOVA" build "$SPEC" -o "$T/ns/a.raw" --format raw "${B[@]}")
RAW_KB=${RAW_KB// /}
if check "raw build in a 400 MiB tmpfs takes ${RAW_KB:-?} KiB" test "${RAW_KB:-0}" -gt 4096; then
    ns_build "ENOSPC $(((RAW_KB - 2048) / 1024)) MiB tmpfs (late), raw" "$((RAW_KB - 2048))k" raw "hello-|/a\.raw"
fi
# ova: the VMDKs are written straight into the OVA while the raw disks are
# still there, so the peak is the raw disks plus the OVA; 2 MiB short of
# that (measured), ENOSPC hits while the last VMDK is written
OVA_KB=$(unshare -rm bash -c 'D=$1; shift; mount -t tmpfs -o size=400m t "$D" &&
    "$@" >/dev/null 2>&1 && df -k --output=used "$D" | tail -1' probe "$T/ns" \
    "$XOVA" build "$SPEC" -o "$T/ns/a.ova" --format ova "${B[@]}")
OVA_KB=${OVA_KB// /}
if check "ova build in a 400 MiB tmpfs leaves ${OVA_KB:-?} KiB" test "${OVA_KB:-0}" -gt 4096 && [ "${RAW_KB:-0}" -gt 4096 ]; then
    ns_build "ENOSPC $(((RAW_KB + OVA_KB - 2048) / 1024)) MiB tmpfs (late, writing the OVA), ova" \
        "$((RAW_KB + OVA_KB - 2048))k" ova "hello-|/a\.ova|disk '"
fi

# ---------------------------------------------------------------- 2. EFBIG
mkdir -p "$T/efbig"
for fmt in ova raw; do
    out=$T/efbig/a.$fmt
    before=$(path_state "$out")
    ( trap '' XFSZ; ulimit -f 2048; exec "$XOVA" build "$SPEC" -o "$out" --format "$fmt" "${B[@]}" ) \
        >/dev/null 2>"$T/err.log"
    rc=$?
    c="EFBIG (ulimit -f 2048, SIGXFSZ ignored), $fmt"
    check_rc "$c" "$rc"
    check_msg "$c" "$T/err.log" "File too large"
    check_msg "$c (names a file)" "$T/err.log" "hello-|$T/efbig"
    check_unchanged "$c" "$out" "$before"
done

# ---------------------------------------------------------------- 3. signals
# start_bg ERRFILE [ENV...] -- ARGS: xova build in the background with
# SIGINT/SIGTERM at their defaults (a non-interactive shell starts
# background jobs with SIGINT ignored, and xova keeps ignored signals
# ignored, nohup-style); sets PID
start_bg() {
    local err=$1
    shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    rm -f "$err"
    env "${envs[@]}" env --default-signal=INT,TERM,HUP "$XOVA" build "$SPEC" "$@" >/dev/null 2>"$err" &
    PID=$!
    # signal only xova itself: until the exec, PID is a fork of this shell,
    # which would run our EXIT trap (rm -rf "$T") on SIGTERM
    local i
    for ((i = 0; i < 2000; i++)); do
        [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$XOVA_EXE" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 0
        sleep 0.005
    done
}
XOVA_EXE=$(readlink -f "$XOVA")

# wait_paused ERRFILE PID: until xova says "paused at" (60 s at most)
wait_paused() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q "paused at" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_orphans CASE DIR: children of the killed xova (mke2fs, mcopy, ...)
# that still work under DIR must end by themselves, soon
wait_orphans() {
    local i left
    for ((i = 0; i < 100; i++)); do
        left=$(pgrep -af -- "$2/" | grep -v -e pgrep -e "^$$ ")
        [ -z "$left" ] && break
        [ "$i" -eq 0 ] && echo "# $1: child still running after xova died: $left"
        sleep 0.1
    done
    if [ -n "$left" ]; then
        fail "$1: children outlived xova by 10 s: $left"
        kill -KILL $(cut -d' ' -f1 <<<"$left") 2>/dev/null
    fi
}

# sig_case FMT SIG WHEN: WHEN is a delay in ms or a pause phase
sig_case() {
    local fmt=$1 sig=$2 when=$3 D=$T/sig-$fmt rc want c
    local out=$D/a.$fmt
    mkdir -p "$D"
    if [[ $when =~ ^[0-9]+$ ]]; then
        c="$fmt: SIG$sig after $when ms"
        start_bg "$T/sig.err" -- -o "$out" --format "$fmt" "${B[@]}"
        sleep "$(printf '%d.%03d' $((when / 1000)) $((when % 1000)))"
    else
        c="$fmt: SIG$sig paused at '$when'"
        start_bg "$T/sig.err" XOVA_DEBUG_PAUSE="$when" -- -o "$out" --format "$fmt" "${B[@]}"
        if ! wait_paused "$T/sig.err" "$PID"; then
            fail "$c: never said 'paused at $when': $(head -c 500 "$T/sig.err")"
            kill -KILL "$PID" 2>/dev/null
            wait "$PID"
            rm -rf "$out"
            return
        fi
    fi
    kill -s "$sig" "$PID" 2>/dev/null
    wait "$PID"
    rc=$?
    if [ "$rc" -eq 0 ] && [[ $when =~ ^[0-9]+$ ]] ||
        { [ -e "$out" ] && [ "$when" != disks ] && [ "$when" != commit ]; }; then
        # the build won the race (or the signal came after the rename):
        # then the output must be whole
        [ "$rc" -ne 0 ] && echo "# $c: status $rc, the signal came after the commit"
        if [ "$fmt" = ova ]; then
            check "$c: finished first, and the output verifies" quiet "$XOVA" verify "$out"
        else
            check "$c: finished first, and the output is complete" test -s "$out/summary.json"
        fi
        check "$c: no debris" test -z "$(debris "$D")"
        rm -rf "$out"
        check_world "$c"
        return
    fi
    want=$((128 + $(kill -l "$sig")))
    check "$c: died of SIG$sig (status $rc, want $want)" test "$rc" -eq "$want"
    grep -v "paused at" "$T/sig.err" | grep -q . && echo "# $c: stderr: $(head -c 300 "$T/sig.err")"
    wait_orphans "$c" "$D"
    check_unchanged "$c" "$out" absent
    rm -rf "$out"
}

for fmt in ova raw; do
    for sig in INT TERM; do
        for ((k = 0; k < 5; k++)); do
            sig_case "$fmt" "$sig" $(( (RANDOM * 32768 + RANDOM) % (BUILD_MS[$fmt] + 1) ))
        done
    done
done
# fixed phases: after all raw disks are written, and right before the rename
for fmt in ova raw; do
    for sig in INT TERM; do
        sig_case "$fmt" "$sig" disks
        sig_case "$fmt" "$sig" commit
    done
done

# a signal in the window between creating the work directory and
# registering it for removal: strace fault injection makes the first
# mkdir(2) (mkdtemp of xova-work.XXXXXX) return 3 s late, SIGTERM arrives
# then; the directory exists already and must still be removed
if command -v strace >/dev/null; then
    D=$T/race
    c="SIGTERM while the work directory is being created"
    mkdir -p "$D"
    strace -f -o /dev/null -e trace=mkdir -e inject=mkdir:delay_exit=3000000:when=1 \
        "$XOVA" build "$SPEC" -o "$D/a.ova" "${B[@]}" >/dev/null 2>"$T/race.err" &
    spid=$!
    for ((i = 0; i < 500; i++)); do
        [ -n "$(debris "$D")" ] && break
        sleep 0.01
    done
    xpid=$(pgrep -P "$spid")
    if [ -n "$(debris "$D")" ] && [ -n "$xpid" ]; then
        kill -TERM "$xpid"
        wait "$spid"
        rc=$?
        check "$c: died of SIGTERM (status $rc)" test "$rc" -eq 143
        check_unchanged "$c" "$D/a.ova" absent
    else
        fail "$c: the work directory never appeared: $(head -c 300 "$T/race.err")"
        kill -KILL "$spid" $xpid 2>/dev/null
        wait "$spid"
    fi
else
    fail "strace is missing (Debian package strace): cannot widen the mkdtemp window"
fi

# SIGKILL right before the rename: nothing can clean up, so temps stay
# (raw: the .a.raw.xova-* directory; both: the xova-work.* directory). The
# output must be absent and at most one named temp remain; their locks died
# with the process, so the next build into the same directory must remove
# them (only temps whose flock no live process holds), say so, and work
for fmt in ova raw; do
    D=$T/kill-$fmt
    out=$D/a.$fmt
    c="$fmt: SIGKILL paused at 'commit'"
    mkdir -p "$D"
    start_bg "$T/sig.err" XOVA_DEBUG_PAUSE=commit -- -o "$out" --format "$fmt" "${B[@]}"
    if ! wait_paused "$T/sig.err" "$PID"; then
        kill -KILL "$PID" 2>/dev/null
        fail "$c: never paused: $(head -c 500 "$T/sig.err")"
        kill -KILL "$PID" 2>/dev/null
        wait "$PID"
        continue
    fi
    # O_TMPFILE shows as "DIR/#INODE (deleted)"; unlinked scratch files as "NAME (deleted)"
    fds=$(find "/proc/$PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null)
    tmpfiles=$(grep -cE "^$D/#[0-9]+ \(deleted\)$" <<<"$fds")
    scratch=$(grep -E "^$D/.* \(deleted\)$" <<<"$fds" | grep -vcE "^$D/#[0-9]+ ")
    kill -KILL "$PID"
    { wait "$PID"; } 2>/dev/null        # no "Killed" job message
    rc=$?
    check "$c: died of SIGKILL (status $rc)" test "$rc" -eq 137
    check "$c: output absent" test "$(path_state "$out")" = absent
    named=$(find "$D" -mindepth 1 -maxdepth 1 -name '.*.xova-*' -printf '%f ')
    work=$(find "$D" -mindepth 1 -maxdepth 1 -name 'xova-work.*' -printf '%f ')
    echo "# $c: open at the kill: ${tmpfiles} O_TMPFILE, ${scratch} unlinked scratch files (both gone with the process); left: named temps: '${named}'; work dirs: '${work}'"
    check "$c: at most one named temp" test "$(wc -w <<<"$named")" -le 1
    if [ "$fmt" = raw ]; then
        # the case the reclaim is for: a whole tree of disks, left behind
        check "$c: the raw build's temp directory remains" \
            test "$(wc -w <<<"$named")" -eq 1 -a -d "$D/${named%% *}" -a ! -L "$D/${named%% *}"
    fi
    check "$c: its work directory remains" test "$(wc -w <<<"$work")" -eq 1
    # not -q: the note about what was removed is part of what is checked
    "$XOVA" build "$SPEC" -o "$out" --format "$fmt" --no-progress >"$T/out.log" 2>"$T/err.log"
    rc=$?
    check "$c: the next build into the same directory succeeds (status $rc)" test "$rc" -eq 0 ||
        head -c 800 "$T/err.log"
    if [ "$fmt" = ova ]; then
        check "$c: ... and its output verifies" quiet "$XOVA" verify "$out"
    else
        check "$c: ... and its output is complete" test -s "$out/summary.json"
    fi
    for s in $named $work; do
        check "$c: ... and it removed the stale '$s'" test ! -e "$D/$s" -a ! -L "$D/$s"
        check_msg "$c: ... and said so" "$T/err.log" "^xova: removed stale temp '$D/$s' left by a killed xova$"
    done
    check "$c: no debris after the next build" test -z "$(debris "$D")"
    check_world "$c"
    rm -rf "$D"
done

# a live build's temps are not stale: while one raw build is paused at
# 'commit' (alive, holding its locks), a second build of the same output
# into the same directory succeeds and leaves the first's temps exactly as
# they were (it sees them and keeps them: XOVA_DEBUG says so); the first
# then still cleans up after itself on SIGTERM
D=$T/live
out=$D/a.raw
c="raw: a second build while the first is paused at 'commit'"
mkdir -p "$D"
start_bg "$T/sig.err" XOVA_DEBUG_PAUSE=commit -- -o "$out" --format raw "${B[@]}"
if wait_paused "$T/sig.err" "$PID"; then
    first=$(debris "$D" | LC_ALL=C sort | tr '\n' ' ')
    first_state=$(for s in $first; do path_state "$D/$s"; done)
    check "$c: the first build has its temp directory and work directory ($first)" \
        test "$(wc -w <<<"$first")" -eq 2
    XOVA_DEBUG=1 "$XOVA" build "$SPEC" -o "$out" --format raw --no-progress >"$T/out.log" 2>"$T/err.log"
    rc=$?
    check "$c: the second build succeeds (status $rc)" test "$rc" -eq 0 || head -c 800 "$T/err.log"
    check "$c: ... and its output is complete" test -s "$out/summary.json"
    check "$c: the first build is still alive" kill -0 "$PID"
    check "$c: the first build's temps are unchanged" \
        test "$(for s in $first; do path_state "$D/$s"; done)" = "$first_state"
    for s in $first; do
        check_msg "$c: it saw '$s' and kept it" "$T/err.log" "kept '$D/$s': its lock is held"
    done
    check "$c: it removed nothing" test -z "$(grep 'removed stale temp' "$T/err.log")"
    kill -TERM "$PID"
    wait "$PID"
    rc=$?
    check "$c: the first build then dies of SIGTERM (status $rc)" test "$rc" -eq 143
    wait_orphans "$c" "$D"
    check "$c: ... and removes its own temps" test -z "$(debris "$D")"
    check "$c: the second build's output is still complete" test -s "$out/summary.json"
    check_world "$c"
else
    fail "$c: the first build never paused: $(head -c 500 "$T/sig.err")"
    kill -KILL "$PID" 2>/dev/null
    wait "$PID"
fi
rm -rf "$D"

# ---------------------------------------------------------------- 4. unwritable places
mkdir -p "$T/uw"
build_case "output directory missing" "$T/uw/missing/a.ova" "$T/uw/missing.*No such file or directory" -- --format ova
check "output directory missing: not created" test ! -e "$T/uw/missing"
build_case "output directory missing, raw" "$T/uw/missing/a.raw" "$T/uw/missing.*No such file or directory" -- --format raw

# read-only: a read-only bind mount of the output directory (EROFS)
mkdir -p "$T/ro"
echo old >"$T/ro/existing"
for fmt in ova raw; do
    c="read-only bind mount, $fmt"
    before=$(path_state "$T/ro")
    unshare -rm bash -c 'D=$1; shift; mount --bind -o ro "$D" "$D" || exit 200; exec "$@"' ro "$T/ro" \
        "$XOVA" build "$SPEC" -o "$T/ro/a.$fmt" --format "$fmt" "${B[@]}" >/dev/null 2>"$T/err.log"
    rc=$?
    if [ "$rc" -eq 200 ]; then
        fail "$c: 'mount --bind -o ro' fails in unshare -rm"
        continue
    fi
    check_rc "$c" "$rc"
    check_msg "$c" "$T/err.log" "$T/ro.*Read-only file system"
    check "$c: the directory is unchanged" test "$(path_state "$T/ro")" = "$before"
    check_world "$c"
done

# no permission: a 0555 directory, as nobody (root ignores the mode)
chmod 711 "$T"
mkdir -p "$T/r555"
chmod 555 "$T/r555"
for fmt in ova raw; do
    c="0555 output directory as nobody, $fmt"
    before=$(path_state "$T/r555")
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ \
        "$XOVA" build "$SPEC" -o "$T/r555/a.$fmt" --format "$fmt" "${B[@]}" >/dev/null 2>"$T/err.log"
    rc=$?
    check_rc "$c" "$rc"
    check_msg "$c" "$T/err.log" "$T/r555.*Permission denied"
    check "$c: the directory is unchanged" test "$(path_state "$T/r555")" = "$before"
    check_world "$c"
done
chmod 700 "$T"

# the output path is an existing directory
mkdir -p "$T/uw/isdir.ova"
echo keep >"$T/uw/isdir.ova/file"
build_case "ova output is a directory" "$T/uw/isdir.ova" "isdir.ova.*(exists|directory)" -- --format ova
build_case "ova output is a directory, --force" "$T/uw/isdir.ova" "isdir.ova.*directory" -- --format ova --force

# a FIFO in the way: refused, and nothing blocks on it
mkfifo "$T/uw/fifo.ova"
build_case "ova output is a FIFO" "$T/uw/fifo.ova" "fifo.ova.*exists" -- --format ova

# a dangling symlink: refused without --force; with --force the link
# itself is replaced and its target never created
ln -s "$T/uw/link-target.ova" "$T/uw/dangling.ova"
build_case "dangling symlink" "$T/uw/dangling.ova" "dangling.ova.*exists" -- --format ova
check "dangling symlink: target not created" test ! -e "$T/uw/link-target.ova"
"$XOVA" build "$SPEC" -o "$T/uw/dangling.ova" --format ova --force "${B[@]}" 2>"$T/err.log"
rc=$?
check "dangling symlink, --force: exit 0" test $rc -eq 0 || cat "$T/err.log"
check "dangling symlink, --force: the link is now a regular file" \
    test -f "$T/uw/dangling.ova" -a ! -L "$T/uw/dangling.ova"
check "dangling symlink, --force: target never created" test ! -e "$T/uw/link-target.ova"
check "dangling symlink, --force: output verifies" quiet "$XOVA" verify "$T/uw/dangling.ova"
check "dangling symlink, --force: no debris" test -z "$(debris "$T/uw")"

# an existing output: refused and unchanged without --force; replaced
# atomically (new inode) with it
cp "$T/base/h.ova" "$T/uw/exists.ova"
truncate -s -512 "$T/uw/exists.ova"        # so that a replacement shows
build_case "existing ova, no --force" "$T/uw/exists.ova" "exists.ova.*exists.*--force" -- --format ova
cp -r "$T/base/h.raw" "$T/uw/exists.raw"
build_case "existing raw dir, no --force" "$T/uw/exists.raw" "exists.raw.*exists.*--force" -- --format raw
before=$(path_state "$T/uw/exists.ova")
"$XOVA" build "$SPEC" -o "$T/uw/exists.ova" --format ova --force "${B[@]}" 2>"$T/err.log"
rc=$?
check "existing ova, --force: exit 0" test $rc -eq 0 || cat "$T/err.log"
check "existing ova, --force: replaced (new inode, new content)" \
    test "$(path_state "$T/uw/exists.ova")" != "$before" -a "$(stat -c %i "$T/uw/exists.ova")" != "$(cut -d' ' -f3 <<<"$before")"
check "existing ova, --force: output verifies" quiet "$XOVA" verify "$T/uw/exists.ova"
check "existing ova, --force: same bytes as a fresh build" cmp -s "$T/uw/exists.ova" "$T/base/h.ova"
check "existing ova, --force: no debris" test -z "$(debris "$T/uw")"
check_world "unwritable places"

# ---------------------------------------------------------------- 5. missing and failing tools
# Truly missing: PATH alone cannot hide an sbin tool (xova also searches
# /usr/sbin:/sbin, and removing /usr/bin from PATH hides everything), so
# inside `unshare -rm` an empty, non-executable file is bind-mounted over
# the tool's binary: it no longer counts as executable.
mkdir -p "$T/tools"
: >"$T/empty"
chmod 644 "$T/empty"
# (mcopy and mmd are links to one mtools binary: hiding it hides both)
for tp in mke2fs:e2fsprogs:mke2fs grub-mkimage:grub-common:grub-mkimage \
          mkfs.fat:dosfstools:mkfs.fat 'mcopy:mtools:(mcopy|mmd)'; do
    tool=${tp%%:*}
    pkg=${tp#*:}
    pat=${pkg#*:}
    pkg=${pkg%%:*}
    bin=$(command -v "$tool" || PATH=/usr/sbin:/sbin command -v "$tool")
    bin=$(readlink -f "$bin")
    c="missing $tool"
    out=$T/tools/a.ova
    unshare -rm bash -c 'E=$1; B=$2; shift 2; mount --bind "$E" "$B" || exit 200; exec "$@"' miss \
        "$T/empty" "$bin" "$XOVA" build "$SPEC" -o "$out" --format ova "${B[@]}" >/dev/null 2>"$T/err.log"
    rc=$?
    if [ "$rc" -eq 200 ]; then
        fail "$c: cannot bind-mount over $bin in unshare -rm"
        continue
    fi
    check_rc "$c" "$rc"
    check_msg "$c" "$T/err.log" "$pat.*install the Debian package '$pkg'"
    check_unchanged "$c" "$out" absent
done

# a tool that fails: the error names it and quotes its stderr
mkdir -p "$T/fake"
for tool in mke2fs grub-mkimage mkfs.fat; do
    rm -f "$T/fake"/*
    printf '#!/bin/sh\necho "fake-%s: simulated failure on purpose" >&2\nexit 1\n' "$tool" >"$T/fake/$tool"
    chmod +x "$T/fake/$tool"
    build_case "$tool fails" "$T/tools/a.ova" "$tool.*fake-$tool: simulated failure on purpose" \
        PATH="$T/fake:$PATH" -- --format ova
done

# ---------------------------------------------------------------- 6. a child killed, a child that lies
rm -f "$T/fake"/*
printf '#!/bin/sh\nkill -KILL $$\n' >"$T/fake/mke2fs"
chmod +x "$T/fake/mke2fs"
build_case "mke2fs killed by SIGKILL" "$T/tools/a.ova" "mke2fs.*killed by signal 9" PATH="$T/fake:$PATH" -- --format ova
build_case "mke2fs killed by SIGKILL, raw" "$T/tools/a.raw" "mke2fs.*killed by signal 9" PATH="$T/fake:$PATH" -- --format raw

# A child that lies: it exits 0 but writes nothing, or less than it should.
# Every step checks its tool's output and fails naming the tool and what is
# missing (bootpart/grub.c, bootpart/usp.c, appliance/fs.c).
# fake_tool TOOL BODY: $T/fake/TOOL, a bash script running BODY, is the only fake
fake_tool() {
    rm -f "$T/fake"/*
    printf '#!/bin/bash\n%s\n' "$2" >"$T/fake/$1"
    chmod +x "$T/fake/$1"
}
# lie_case CASE ERE [FORMAT]: the build with $T/fake first on PATH fails cleanly
lie_case() {
    local fmt=${3:-ova}
    build_case "$1" "$T/tools/a.$fmt" "$2" PATH="$T/fake:$PATH" -- --format "$fmt"
}
# sets $out to the argument after -o (grub-mkimage's output file)
OUTARG='for ((i = 1; i < $#; i++)); do [ "${!i}" = -o ] && { j=$((i + 1)); out=${!j}; }; done'
REAL_GRUB_MKIMAGE=$(command -v grub-mkimage)
REAL_MKFS_FAT=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.fat)
REAL_MCOPY=$(command -v mcopy)

fake_tool grub-mkimage 'exit 0'
lie_case "grub-mkimage exits 0 and writes nothing" \
    "grub-mkimage: .*exited 0 but 'BOOTX64.EFI' was not written"
fake_tool grub-mkimage "$OUTARG; : >\"\$out\""
lie_case "grub-mkimage exits 0 and writes an empty file" \
    "grub-mkimage: .*exited 0 but 'BOOTX64.EFI' is empty"
fake_tool grub-mkimage "$OUTARG; '$REAL_GRUB_MKIMAGE' \"\$@\" || exit
truncate -s \$((\$(stat -c %s \"\$out\") / 2)) \"\$out\""
lie_case "grub-mkimage exits 0 and truncates its image" \
    "grub-mkimage: .*exited 0 but 'BOOTX64.EFI' is truncated: section [0-9]+ ends at byte [0-9]+, the file has [0-9]+"

fake_tool mkfs.fat 'exit 0'
lie_case "mkfs.fat exits 0 and writes nothing" \
    "mkfs.fat: .*exited 0 but no FAT boot sector at offset 1048576 \\(no 0x55AA signature\\)"
# half the filesystem asked for (the last argument is its size in KiB)
fake_tool mkfs.fat "args=(\"\$@\"); args[-1]=\$((args[-1] / 2)); exec '$REAL_MKFS_FAT' \"\${args[@]}\""
lie_case "mkfs.fat exits 0 and makes half the filesystem" \
    "mkfs.fat: .*exited 0 but the FAT at offset 1048576 has [0-9]+ sectors of 512 bytes, want [0-9]+ bytes"

fake_tool mmd 'exit 0'
lie_case "mmd exits 0 and makes no directory" "mmd: .*exited 0 but '::/EFI' is not on the ESP"

# the gap build-faults.sh found first: an ESP without kernels, and exit 0
fake_tool mcopy 'exit 0'
lie_case "mcopy exits 0 and copies nothing" \
    "mcopy: .*exited 0 but '::/EFI/BOOT/grub.cfg' is not on the ESP"
lie_case "mcopy exits 0 and copies nothing, raw" \
    "mcopy: .*exited 0 but '::/EFI/BOOT/grub.cfg' is not on the ESP" raw
# files over 1 MiB (the kernels) copied short: the first half only
fake_tool mcopy "src=\$3; if [ \"\$(stat -c %s \"\$3\")\" -gt 1048576 ]; then
    src=$T/fake-short; head -c \$((\$(stat -c %s \"\$3\") / 2)) \"\$3\" >\"\$src\"
fi
exec '$REAL_MCOPY' \"\$1\" \"\$2\" \"\$src\" \"\$4\""
lie_case "mcopy exits 0 and copies half the kernel" \
    "mcopy: .*exited 0 but '::/x86_64/vmlinuz' has [0-9]+ bytes on the ESP, its source has [0-9]+"
rm -f "$T/fake-short"

REAL_MKE2FS=$(PATH=$PATH:/usr/sbin:/sbin command -v mke2fs)
fake_tool mke2fs 'exit 0'
lie_case "mke2fs exits 0 and writes nothing" \
    "mke2fs: .*exited 0 but no ext4 superblock at offset 1048576 \\(magic 0x0000"
lie_case "mke2fs exits 0 and writes nothing, raw" \
    "mke2fs: .*exited 0 but no ext4 superblock at offset 1048576 \\(magic 0x0000" raw
# half the filesystem asked for (the last argument is its size, "NNNk")
fake_tool mke2fs "args=(\"\$@\"); n=\${args[-1]%k}; args[-1]=\$((n / 2))k; exec '$REAL_MKE2FS' \"\${args[@]}\""
lie_case "mke2fs exits 0 and makes half the filesystem" \
    "mke2fs: .*exited 0 but the ext4 filesystem at offset 1048576 has [0-9]+ blocks of 4096 bytes, want [0-9]+ bytes"
# the wall clock instead of the time it was given: not reproducible
fake_tool mke2fs "exec env -u E2FSPROGS_FAKE_TIME '$REAL_MKE2FS' \"\$@\""
lie_case "mke2fs exits 0 but ignores E2FSPROGS_FAKE_TIME" \
    "mke2fs: .*exited 0 but the ext4 superblock at offset 1048576 says it was made at [0-9]+, want $SOURCE_DATE_EPOCH"
# (the content is written in-process by libext2fs: no debugfs, no mke2fs -d to lie)
# a later disk fails while the ones before it are already going into the
# OVA (appliance/pipeline.c writes disk i+1 while ovf/ converts disk i):
# the second mke2fs (the aarch64 root) exits 1; the build ends with its
# error, whole, not a hang, a half OVA or the first disk's success
fake_tool mke2fs "echo >> '$T/mke2fs-calls'; [ \$(wc -l < '$T/mke2fs-calls') -eq 2 ] &&
    { echo 'planted failure' >&2; exit 1; }; exec '$REAL_MKE2FS' \"\$@\""
for fmt in ova dir raw; do
    : > "$T/mke2fs-calls"
    lie_case "the second disk's mke2fs fails, $fmt" \
        "mke2fs: hello-root-aarch64.raw, partition 'root-aarch64': .*failed with exit status 1: planted failure" "$fmt"
done

# ---------------------------------------------------------------- 7. stdout to /dev/full
if [ -w /dev/full ]; then
    "$XOVA" inspect --json "$T/base/h.ova" >/dev/full 2>"$T/err.log"
    rc=$?
    check "inspect --json > /dev/full: exit 1 (got $rc)" test $rc -eq 1
    check_msg "inspect --json > /dev/full" "$T/err.log" "cannot write to standard output"
    "$XOVA" verify "$T/base/h.ova" >/dev/full 2>"$T/err.log"
    rc=$?
    check "verify > /dev/full: exit 1 (got $rc)" test $rc -eq 1
    check_msg "verify > /dev/full" "$T/err.log" "cannot write to standard output"
else
    fail "/dev/full is not writable here"
fi

finish
