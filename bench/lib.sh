# bench/lib.sh - sourced by the bench scripts (bash). Needs $SRC (the source
# tree) and $T (the bench's work dir).

# The example's cached root tarball for one arch (examples/debian/mkroot.sh's
# last stdout line), or $ROOT_<arch> if set. mkroot.sh is run unprivileged
# (uid 65534 when we are root), so it can only report a cached root: a
# bench never starts mmdebstrap (10-20 min of the whole machine). A missing
# root is an error saying how to make it.
root_for() { # arch
    local a=$1 v="ROOT_$1" out
    if [ -n "${!v:-}" ]; then
        [ -s "${!v}" ] || { echo "bench: $v=${!v}: no such root tarball" >&2; return 1; }
        echo "${!v}"; return 0
    fi
    if [ ! -x "$SRC/examples/debian/mkroot.sh" ]; then
        echo "bench: examples/debian/mkroot.sh missing (this checkout predates the example); set $v=TARBALL" >&2
        return 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        out=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
              bash "$SRC/examples/debian/mkroot.sh" "$a" 2>"$T/mkroot-$a.log" | tail -1) || out=
    else
        out=$(bash "$SRC/examples/debian/mkroot.sh" "$a" 2>"$T/mkroot-$a.log" | tail -1) || out=
    fi
    if [ -z "$out" ] || [ ! -s "$out" ]; then
        echo "bench: no cached root for $a ($(grep -m1 error "$T/mkroot-$a.log" || true))" >&2
        echo "bench: make it first with: sudo $SRC/examples/debian/mkroot.sh $a (a few minutes for x86_64, 10-20 min for aarch64)" >&2
        return 1
    fi
    echo "$out"
}

# A spec of the Debian example's shape (kernel and initrd from each root,
# a 1 GiB root disk per arch, the 16 MiB shared data disk) for the roots in
# the associative array ROOT (arch -> tarball), in the order of $@.
debian_spec() { # arch...
    local a con sep= data=$SRC/examples/debian/data
    if [ ! -d "$data" ]; then data=$T/data; mkdir -p "$data"; echo shared > "$data/index.html"; fi
    echo '{ "name": "debian", "version": "12", "architectures": ['
    for a in "$@"; do
        con=ttyS0; [ "$a" = aarch64 ] && con=ttyAMA0
        printf '%s { "name": "%s", "kernel": { "from-root": "/vmlinuz" }, "initrd": { "from-root": "/initrd.img" },\n    "cmdline": "console=%s", "memory": "1024M" }\n' "$sep" "$a" "$con"
        sep=,
    done
    echo '], "disks": ['
    for a in "$@"; do
        printf ' { "name": "root", "role": "root", "arch": "%s", "size": "1024M", "tarball": "%s" },\n' "$a" "${ROOT[$a]}"
    done
    printf ' { "name": "shared", "role": "data", "size": "16M", "label": "shared", "directory": "%s" } ] }\n' "$data"
}
