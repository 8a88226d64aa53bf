#!/bin/bash
# xova-test-timeout: 1200  (one libguestfs appliance under TCG; see tests/tools/bounded.sh)
# inspect --deep on the hello example: every disk seen through one libguestfs
# appliance (backend direct, TCG): the boot disk's ESP holds both GRUBs, each
# arch's root carries that arch's os-release, the data disk is ext4, and the
# bundle is not modified. Slow: one TCG appliance launch (30-90 s here).
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SRC=$XOVA_SRCDIR/examples/hello
cd "$T" || exit 1

if ! "$XOVA" build "$SRC/xova.json" -o "$T/h.ova" -q; then
    fail "build hello"
    finish
    exit
fi
sum=$(sha256sum <"$T/h.ova")
start=$(date +%s)
timeout 600 "$XOVA" inspect --deep --json "$T/h.ova" >deep.json 2>deep.err
rc=$?
echo "# inspect --deep took $(( $(date +%s) - start )) s"
check "inspect --deep --json exits 0 within 600 s (rc $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/# /' deep.err
check "the OVA is unchanged" test "$(sha256sum <"$T/h.ova")" = "$sum"

pretty() { sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' "$SRC/root-$1/etc/os-release"; }
PRETTY_X86=$(pretty x86_64) PRETTY_ARM=$(pretty aarch64) python3 - deep.json >py.out <<'PY'
import json, os, sys
ok = fail = 0
def check(what, cond):
    global ok, fail
    if cond:
        ok += 1; print("ok - " + what)
    else:
        fail += 1; print("FAIL - " + what)
try:
    deep = json.load(open(sys.argv[1]))["deep"]
except Exception as e:
    print("FAIL - deep.json is JSON with a 'deep' object: %s" % e)
    sys.exit(1)
disks = {d["id"]: d for d in deep["disks"]}
def fss(i, t):
    return [f for f in disks.get(i, {}).get("filesystems", []) if f["type"] == t]
esp = fss("boot", "vfat")
check("boot disk has a vfat ESP", len(esp) == 1)
ls = esp[0].get("efi_boot") or [] if esp else []
check("ESP /EFI/BOOT lists BOOTX64.EFI and BOOTAA64.EFI (%s)" % ls,
      "BOOTX64.EFI" in ls and "BOOTAA64.EFI" in ls)
for arch, env in (("x86_64", "PRETTY_X86"), ("aarch64", "PRETTY_ARM")):
    want = os.environ[env]
    roots = fss("root-" + arch, "ext4")
    got = [r.get("os", {}).get("pretty_name") for r in roots]
    check("root-%s has an ext4 whose PRETTY_NAME is %r (%s)" % (arch, want, got),
          len(roots) == 1 and want and got == [want])
check("data disk has ext4", len(fss("data", "ext4")) == 1)
check("every disk is reported", sorted(disks) == sorted(["boot", "root-x86_64", "root-aarch64", "data"]))
print("PY %d %d" % (ok, fail))
PY
# the python checks count like ours
read -r _ p f < <(grep '^PY ' py.out || echo "PY 0 1")
TESTS_PASSED=$((TESTS_PASSED + p))
TESTS_FAILED=$((TESTS_FAILED + f))
sed '/^PY /d' py.out
finish
