#!/bin/bash
# The Debian package (issue 17): dpkg-buildpackage -us -uc -b builds
# xova_<version>_<arch>.deb from a copy of this tree; lintian reports no error
# and no warning that debian/ does not explain (overrides); dpkg -i installs it
# on this machine (purged at the end, any earlier state restored); the installed
# /usr/bin/xova is the one just built (same --version and --help as the tree's
# $XOVA, same ELF build id as the binary in the .deb); then, with an empty HOME
# and no cache (XDG_CACHE_HOME, XOVA_GRUB_PATH unset), the installed
# `xova loaders fetch` (through the installed helper) and `xova build` of
# examples/hello succeed and `xova run` of the result reaches the marker on
# both arches. Needs root and Debian's apt registry; takes a few minutes.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
[ "$(id -u)" -eq 0 ] || { echo "FAIL - deb.sh installs a package: it needs root" >&2; exit 1; }
for t in dpkg-buildpackage dh lintian readelf; do
    command -v "$t" >/dev/null || { echo "FAIL - '$t' missing: run scripts/install-deps.sh" >&2; exit 1; }
done
VERSION=$("$XOVA" --version | sed -n '1s/^xova //p')
DEB_ARCH=$(dpkg --print-architecture)

# 1. the package, from a copy of the tree (dpkg-buildpackage writes into ..)
mkdir -p "$T/src/xova"
if git -C "$XOVA_SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new files, as in the work tree (uncommitted changes included)
    git -C "$XOVA_SRCDIR" ls-files -z --cached --others --exclude-standard \
        | (cd "$XOVA_SRCDIR" && tar --null -T - -cf - 2>/dev/null) | tar -xf - -C "$T/src/xova"
else
    (cd "$XOVA_SRCDIR" && tar --exclude=./tests/fixtures/cache --exclude='./build*' -cf - .) | tar -xf - -C "$T/src/xova"
fi
# The package build runs its own `make check`: it must not inherit this make's
# TESTS (through MAKEFLAGS) or it would run this test again, recursively.
[ -z "${XOVA_IN_DEB_TEST:-}" ] || { echo "FAIL - deb.sh started inside its own package build" >&2; exit 1; }
(cd "$T/src/xova" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEFILES -u TESTS XOVA_IN_DEB_TEST=1 \
    DEB_BUILD_OPTIONS="parallel=$(nproc)" timeout 1800 dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -30 "$T/build.log"
DEB=$T/src/xova_${VERSION}_${DEB_ARCH}.deb
check "dpkg-buildpackage -us -uc -b succeeds" test $rc -eq 0
check "it builds xova_${VERSION}_${DEB_ARCH}.deb" test -s "$DEB"
[ -s "$DEB" ] || { finish; exit 1; }
dpkg-deb -f "$DEB" Depends >"$T/depends"
for p in grub-common dosfstools mtools e2fsprogs qemu-utils libc6; do
    check "Depends names $p" grep -qE "(^|, )$p( |,|$)" "$T/depends"
done
for p in qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64 libvirt-clients; do
    check "Recommends names $p" sh -c "dpkg-deb -f '$DEB' Recommends | grep -qE '(^|, )$p(,|\$)'"
done
dpkg-deb -c "$DEB" >"$T/contents"
for f in ./usr/bin/xova ./usr/libexec/xova/xova-fetch-debs ./usr/share/man/man1/xova-loaders.1.gz \
         ./usr/share/man/man5/xova.json.5.gz ./usr/share/bash-completion/completions/xova \
         ./usr/share/zsh/vendor-completions/_xova; do
    check "the package ships $f" grep -q " $f\$" "$T/contents"
done

timeout 600 lintian --tag-display-limit 0 "$DEB" >"$T/lintian" 2>&1
cat "$T/lintian"
check "lintian: no errors" test "$(grep -c '^E: ' "$T/lintian")" -eq 0
check "lintian: no unexplained warnings" test "$(grep -c '^W: ' "$T/lintian")" -eq 0

# 2. install on this machine; the trap restores what was there
prior=$(dpkg-query -W -f='${Status} ${Version}' xova 2>/dev/null || true)
if [[ $prior == "install ok installed"* ]]; then
    old=$(ls /var/cache/apt/archives/xova_"${prior##* }"_*.deb 2>/dev/null | head -n1)
    [ -n "$old" ] || { echo "FAIL - xova ${prior##* } is installed and its .deb is not in apt's cache: cannot restore it afterwards" >&2; exit 1; }
    cp "$old" "$T/prior.deb"
elif [ -e /usr/bin/xova ]; then
    echo "FAIL - /usr/bin/xova exists and no package owns it: not overwriting it" >&2; exit 1
fi
# dpkg -i waits for the dpkg lock (another apt or dpkg may hold it)
dpkg_locked() { for _ in $(seq 180); do "$@" && return 0; grep -q 'lock' "$T/dpkg.err" || return 1; sleep 5; done; return 1; }
dpkg_do() { dpkg_locked sh -c "$* 2>'$T/dpkg.err'"; }
restore() {
    dpkg_do dpkg --purge xova >/dev/null
    [ ! -e "$T/prior.deb" ] || dpkg_do dpkg -i "$T/prior.deb" >/dev/null
    rm -rf "$T"
}
trap restore EXIT
dpkg_do dpkg -i "$DEB" >"$T/dpkg.out"; rc=$?
[ $rc -eq 0 ] || cat "$T/dpkg.err"
check "dpkg -i installs it" test $rc -eq 0
check "dpkg says xova $VERSION is installed" test "$(dpkg-query -W -f='${Status} ${Version}' xova)" = "install ok installed $VERSION"
check "/usr/bin/xova belongs to the package" sh -c "dpkg -S /usr/bin/xova | grep -q '^xova: '"

# 3. the installed binary is the one under test
check "installed --version equals the tree's" test "$(/usr/bin/xova --version)" = "$("$XOVA" --version)"
check "installed --help equals the tree's" test "$(/usr/bin/xova --help)" = "$("$XOVA" --help)"
mkdir -p "$T/x" && dpkg-deb -x "$DEB" "$T/x"
id_deb=$(readelf -n "$T/x/usr/bin/xova" | sed -n 's/.*Build ID: //p')
id_inst=$(readelf -n /usr/bin/xova | sed -n 's/.*Build ID: //p')
check "installed binary has the build id of the one in the .deb ($id_deb)" test -n "$id_deb" -a "$id_deb" = "$id_inst"

# 4. a new user: empty HOME, no cache, the installed xova and helper only
export HOME=$T/home
unset XDG_CACHE_HOME XOVA_GRUB_PATH XOVA_LIBEXEC_DIR XOVA_APT_OPTS
mkdir -p "$HOME"
X=/usr/bin/xova
mkdir -p "$T/hello"
cp -a "$XOVA_SRCDIR/examples/hello/." "$T/hello/"
sed -i "s|\.\./\.\./tests/fixtures/cache|$XOVA_FIXTURES|g" "$T/hello/xova.json"
timeout 900 "$X" loaders fetch >"$T/fetch.out" 2>&1; rc=$?
cat "$T/fetch.out"
check "installed 'xova loaders fetch' with an empty HOME succeeds" test $rc -eq 0
check "... into ~/.cache/xova" test -s "$HOME/.cache/xova/loaders/grub/arm64-efi/moddep.lst" -a -s "$HOME/.cache/xova/loaders/grub/x86_64-efi.manifest"
timeout 900 "$X" build "$T/hello/xova.json" -o "$T/hello.ova" >"$T/build.out" 2>&1; rc=$?
cat "$T/build.out"
check "installed 'xova build' of examples/hello succeeds" test $rc -eq 0 -a -s "$T/hello.ova"
for arch in x86_64 aarch64; do
    timeout 400 "$X" run "$T/hello.ova" --arch $arch --accel auto --expect XOVA-BOOT-OK --timeout 300 \
        >"$T/run-$arch.out" 2>&1; rc=$?
    [ $rc -eq 0 ] || tail -15 "$T/run-$arch.out"
    check "installed 'xova run --arch $arch' reaches the marker" test $rc -eq 0
done
finish
