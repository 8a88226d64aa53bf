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

# The Debian example put together as examples/debian/build.sh does, in
# DIR (default $T/spec): xova.json (the example's, or, in a checkout that
# predates it, one of the same shape), data/, and roots/ARCH.tar as hard
# links to the tarballs in the associative array ROOT (arch -> tarball; a
# copy across filesystems). Only the arches given are kept. Prints the spec.
debian_spec() { # arch...
    local d=${SPEC_DIR:-$T/spec} a keep
    rm -rf "$d"; mkdir -p "$d/roots"
    if [ -f "$SRC/examples/debian/xova.json" ]; then
        cp "$SRC/examples/debian/xova.json" "$d/full.json"
        cp -a "$SRC/examples/debian/data" "$d/data"
    else
        mkdir "$d/data"; echo '<p>xova bench</p>' > "$d/data/index.html"
        cat > "$d/full.json" <<'JSON'
{ "name": "debian", "version": "12",
  "architectures": [
    { "name": "x86_64", "kernel": { "from-root": "/vmlinuz" }, "initrd": { "from-root": "/initrd.img" },
      "cmdline": "rw", "vcpus": 1, "memory": "1024M" },
    { "name": "aarch64", "kernel": { "from-root": "/vmlinuz" }, "initrd": { "from-root": "/initrd.img" },
      "cmdline": "rw", "vcpus": 1, "memory": "1024M" } ],
  "disks": [
    { "name": "root", "role": "root", "arch": "x86_64", "size": "1024M", "tarball": "roots/x86_64.tar", "label": "root" },
    { "name": "root", "role": "root", "arch": "aarch64", "size": "1024M", "tarball": "roots/aarch64.tar", "label": "root" },
    { "name": "data", "role": "data", "size": "16M", "directory": "data", "label": "data" } ] }
JSON
    fi
    keep=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
    jq --argjson k "$keep" '.architectures |= map(select(.name as $n | $k | index($n)))
        | .disks |= map(select(.role != "root" or (.arch as $a | $k | index($a))))' "$d/full.json" > "$d/xova.json"
    rm -f "$d/full.json"
    for a in "$@"; do
        ln "${ROOT[$a]}" "$d/roots/$a.tar" 2>/dev/null || cp "${ROOT[$a]}" "$d/roots/$a.tar"
    done
    echo "$d/xova.json"
}
