# tests/faults/lib-faults.sh - helpers for the fault-injection tests (sourced
# after tests/lib.sh). "Nothing lost" (docs/HACKING.md, "Atomic outputs"): the output is
# absent or unchanged, no temp debris beside it, the inputs and an unrelated
# sentinel tree unchanged.

# tree_state DIR: one hash over every name, type, mode, size, mtime, link
# target and file content under DIR (a change anywhere changes it)
tree_state() {
    (
        cd "$1" || exit 1
        find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
    ) | sha256sum | cut -d' ' -f1
}

# path_state PATH: "absent", or type + inode + size + content hash
path_state() {
    local p=$1
    if [ -L "$p" ]; then
        echo "symlink $(stat -c %i "$p") -> $(readlink "$p")"
    elif [ -d "$p" ]; then
        echo "dir $(stat -c %i "$p") $(tree_state "$p")"
    elif [ -f "$p" ]; then
        echo "$(stat -c '%F %i %s' "$p") $(sha256sum <"$p" | cut -d' ' -f1)"
    elif [ -e "$p" ]; then
        stat -c '%F %i %s' "$p"         # a FIFO, a device: never opened
    else
        echo absent
    fi
}

# debris DIR: our temps left in DIR (named atomic temps, work directories)
debris() {
    find "$1" -mindepth 1 -maxdepth 1 \( -name '.*.xova-*' -o -name 'xova-work.*' \) -printf '%f\n' 2>/dev/null
}

# the sentinel: a tree elsewhere that no xova run may touch
sentinel_init() {
    mkdir -p "$T/sentinel/sub"
    echo keep >"$T/sentinel/a.txt"
    head -c 70000 /dev/urandom >"$T/sentinel/sub/b.bin"
    ln -s a.txt "$T/sentinel/link"
    mkfifo "$T/sentinel/fifo"
    SENTINEL_STATE=$(tree_state "$T/sentinel")
}

# inputs_state: the spec directory, and the kernels/initrds it names
inputs_state() {
    {
        tree_state "$SPECDIR"
        stat -L -c '%n %i %s %Y' "$XOVA_FIXTURES"/{x86_64,aarch64}/{vmlinuz,initrd.img}
    } | sha256sum | cut -d' ' -f1
}

# check_rc CASE RC: a failure exit (1..125), not a signal and not success
check_rc() {
    if [ "$2" -ge 1 ] && [ "$2" -le 125 ]; then
        ok "$1: exit $2 (1..125)"
    else
        fail "$1: exit $2, want 1..125"
    fi
}

# check_msg CASE ERRFILE ERE: stderr names the problem
check_msg() {
    if grep -qE -- "$3" "$2"; then
        ok "$1: stderr matches /$3/"
    else
        fail "$1: stderr lacks /$3/: $(head -c 800 "$2")"
    fi
}

# check_unchanged CASE OUT BEFORE-STATE: 1. the output is absent or has the
# same inode+size+hash, 2. no debris beside it, 3. nothing outside changed
# (the sentinel tree), 4. the inputs are unchanged
check_unchanged() {
    local c=$1 out=$2 before=$3 now left dir
    now=$(path_state "$out")
    if [ "$now" = "$before" ]; then
        ok "$c: output ${before%% *} as before"
    else
        fail "$c: output changed: was '$before', now '$now'"
    fi
    dir=$(dirname "$out")
    left=$(debris "$dir" | tr '\n' ' ')
    if [ -z "$left" ]; then
        ok "$c: no debris in $dir"
    else
        fail "$c: debris left in $dir: $left"
        # clean up so that later cases start clean
        find "$dir" -mindepth 1 -maxdepth 1 \( -name '.*.xova-*' -o -name 'xova-work.*' \) -exec rm -rf {} +
    fi
    check_world "$c"
}

# check_world CASE: the inputs and the sentinel are unchanged
check_world() {
    if [ "$(inputs_state)" = "$INPUTS_STATE" ]; then
        ok "$1: inputs unchanged"
    else
        fail "$1: inputs changed"
        INPUTS_STATE=$(inputs_state)
    fi
    if [ "$(tree_state "$T/sentinel")" = "$SENTINEL_STATE" ]; then
        ok "$1: sentinel unchanged"
    else
        fail "$1: sentinel changed"
        SENTINEL_STATE=$(tree_state "$T/sentinel")
    fi
}

# quiet CMD...: CMD with its stdout discarded (for check, whose own "ok" line
# must not be discarded with it)
quiet() { "$@" >/dev/null; }

# now_ms: wall clock in milliseconds
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
