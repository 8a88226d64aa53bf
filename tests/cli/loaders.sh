#!/bin/bash
# xova loaders (issue 17): with an empty cache `xova build` fails naming the
# command; offline, fetch names what is missing; fetch fills the per-user cache
# ($XDG_CACHE_HOME unset: ~/.cache/xova) from Debian's archive through apt;
# a second fetch downloads nothing; a changed cached module set is noticed by
# list, by build and by fetch, which fetches it again; build then uses the
# cache. Needs Debian's apt registry (a few MB).
. "$XOVA_SRCDIR/tests/lib.sh"
export HOME=$T/home XOVA_LIBEXEC_DIR=$XOVA_SRCDIR/scripts
unset XDG_CACHE_HOME XOVA_GRUB_PATH XOVA_APT_OPTS
mkdir -p "$HOME"
C=$HOME/.cache/xova/loaders
x() { timeout 600 "$XOVA" "$@"; }

# the hello example with its kernels from the fixture cache
mkdir -p "$T/hello"
cp -a "$XOVA_SRCDIR/examples/hello/." "$T/hello/"
sed -i "s|\.\./\.\./tests/fixtures/cache|$XOVA_FIXTURES|g" "$T/hello/xova.json"

x build "$T/hello/xova.json" -o "$T/h0.ova" >"$T/b0.out" 2>"$T/b0.err"; rc=$?
check "build with an empty cache fails (exit 1)" test $rc -eq 1
check "... naming 'xova loaders fetch --arch ARCH'" grep -Eq "run 'xova loaders fetch --arch (x86_64|aarch64)'" "$T/b0.err"
check "... and the cache path it searched" grep -q "'$C/grub/" "$T/b0.err"

XOVA_APT_OPTS="-oAcquire::http::Proxy=http://127.0.0.1:9" x loaders fetch --arch aarch64 >"$T/off.out" 2>"$T/off.err"; rc=$?
check "fetch with the registry unreachable fails (exit 1)" test $rc -eq 1
check "... saying the registry cannot be reached" grep -q "registry cannot be reached" "$T/off.err"
check "... naming the set and arch" grep -q "cannot fetch grub for aarch64" "$T/off.err"
check "... and leaving no set behind" test ! -e "$C/grub/arm64-efi.manifest"
XOVA_APT_OPTS="-oDir::Etc::SourceList=/dev/null -oDir::Etc::SourceParts=/nonexistent" \
    x loaders fetch --arch x86_64 >"$T/nosrc.out" 2>"$T/nosrc.err"; rc=$?
check "fetch with no registry in the sources fails (exit 1)" test $rc -eq 1
check "... saying no archive is named for amd64" grep -q "names no Debian archive for amd64" "$T/nosrc.err"

x loaders fetch >"$T/f1.out" 2>"$T/f1.err"; rc=$?
cat "$T/f1.err"
check "first fetch succeeds" test $rc -eq 0
check "first fetch downloads grub-efi-amd64-bin" grep -q '^downloaded grub-efi-amd64-bin:amd64 ' "$T/f1.out"
check "first fetch downloads grub-efi-arm64-bin" grep -q '^downloaded grub-efi-arm64-bin:arm64 ' "$T/f1.out"
check "the cache is per user, under ~/.cache/xova" test -s "$C/grub/arm64-efi/moddep.lst"
check "the cache is tagged (CACHEDIR.TAG)" grep -q '^Signature: 8a477f597d28d172789f06886806bc55' "$C/CACHEDIR.TAG"
check "the manifest records the package version" grep -q '^package grub-efi-arm64-bin:arm64 [0-9]' "$C/grub/arm64-efi.manifest"
check "the manifest hashes every file" test "$(grep -c '^file ' "$C/grub/arm64-efi.manifest")" -eq "$(find "$C/grub/arm64-efi" -type f | wc -l)"
x loaders list >"$T/l1.out"; rc=$?
check "list exits 0" test $rc -eq 0
check "list: both sets ok" test "$(grep -c '^grub [a-z0-9_]*: ok$' "$T/l1.out")" -eq 2

x loaders fetch >"$T/f2.out" 2>&1; rc=$?
check "second fetch succeeds" test $rc -eq 0
check "second fetch downloads nothing" test "$(grep -c '^downloaded' "$T/f2.out")" -eq 0
check "second fetch: both up to date" test "$(grep -c 'up to date' "$T/f2.out")" -eq 2

sum=$(sha256sum < "$C/grub/arm64-efi/normal.mod")
printf 'tampered' >> "$C/grub/arm64-efi/normal.mod"
x loaders list >"$T/l2.out"; rc=$?
check "list of a changed set exits 3" test $rc -eq 3
check "list names the changed file" grep -q "'normal.mod' changed since it was fetched" "$T/l2.out"
x build "$T/hello/xova.json" -o "$T/h1.ova" >"$T/b1.out" 2>"$T/b1.err"; rc=$?
check "build refuses a changed cached set (exit 1)" test $rc -eq 1
check "... naming the file and the command" grep -q "'normal.mod' changed.*xova loaders fetch --arch aarch64" "$T/b1.err"
x loaders fetch >"$T/f3.out" 2>&1; rc=$?
check "fetch after tampering succeeds" test $rc -eq 0
check "... says the set changed and fetches it again" grep -q "grub aarch64: .*'normal.mod' changed since it was fetched: fetching it again" "$T/f3.out"
check "... downloads only that set" test "$(grep -c '^downloaded' "$T/f3.out")" -eq 1
check "... and restores the file" test "$(sha256sum < "$C/grub/arm64-efi/normal.mod")" = "$sum"
rm -f "$C/grub/x86_64-efi/linux.mod"
x loaders fetch --arch x86_64 >"$T/f4.out" 2>&1; rc=$?
check "a removed file is noticed and fetched again" \
    sh -c "[ $rc -eq 0 ] && grep -q 'linux.mod.* is missing' '$T/f4.out' && test -s '$C/grub/x86_64-efi/linux.mod'"

x build "$T/hello/xova.json" -o "$T/h2.ova" -q 2>"$T/b2.err"; rc=$?
cat "$T/b2.err"
check "build finds the modules in the loaders cache" test $rc -eq 0 -a -s "$T/h2.ova"
finish
