#!/bin/bash
# xova-test-timeout: 600
# run-console.sh - `xova run` you can type into, and --state (issue 18).
# A hello variant whose initrd runs a busybox shell on the serial console
# (prompt "xova# ") and mounts the data disk read-write on /data is built
# here; every run is driven in a tmux pane (send-keys / capture-pane), so
# xova sees a real terminal:
#   1. the banner names Ctrl-]; `uname -m` typed in reads x86_64 back; the
#      pane is raw while connected; Ctrl-] ends the run (exit 0), its QEMU
#      is gone and `stty -a` after equals before;
#   2. SIGTERM to xova mid-session: exit 130, terminal restored, no QEMU;
#      QEMU killed mid-session: exit 1, terminal restored;
#   3. --state DIR: a file written in the guest is there on the next run,
#      gone after --reset; a concurrent run on DIR is refused; the DIR used
#      with another arch is refused before QEMU starts; the bundle is never
#      written.
set -u
FIX=${XOVA_FIXTURES:-}
T=$(mktemp -d /tmp/xova-run-console.XXXXXX)
SOCK=$T/tmux.sock                     # in $T: removed with it
QEMUS=()
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null
    for q in "${QEMUS[@]}"; do kill -KILL "$q" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
fail() { echo "FAIL: $*"; [ -z "${CUR:-}" ] || pane "$CUR" | tail -25 | sed 's/^/    | /'; exit 1; }
command -v tmux >/dev/null || fail "tmux missing (scripts/install-deps.sh)"
[ -d "$FIX/grub/x86_64-efi" ] && [ -s "$FIX/x86_64/vmlinuz" ] && [ -s "$FIX/x86_64/busybox" ] ||
    fail "fixtures missing in '$FIX': run tests/fixtures/fetch.sh"
kdeb=$(ls "$FIX"/debs/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -1)
[ -n "$kdeb" ] || fail "no linux-image deb in $FIX/debs (tests/fixtures/fetch.sh)"

# ---- the guest: hello with a shell ---------------------------------------
w=$T/shell
mkdir -p "$w/ir/bin" "$w/ir/dev" "$w/ir/proc" "$w/ir/sys" "$w/ir/data" "$w/ir/lib/modules" "$w/k"
cp "$FIX/x86_64/busybox" "$w/ir/bin/busybox"
# the cloud kernel has virtio-blk as modules: the data disk needs them
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
timeout 120 dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$w/k" --wildcards '*/virtio*.ko' ||
    fail "cannot extract the virtio modules from $kdeb"
for m in $MODS; do
    f=$(find "$w/k" -name "$m.ko" | head -1)
    [ -n "$f" ] || fail "module $m.ko not in $kdeb"
    cp "$f" "$w/ir/lib/modules/"
done
echo "$MODS" > "$w/ir/lib/modules/order"
cat > "$w/ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/ PS1='xova# '
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
dmesg -n 1 2>/dev/null
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko; done
dev=
for i in $(seq 50); do dev=$(findfs LABEL=data 2>/dev/null) && break; usleep 100000; done
if [ -n "$dev" ] && mount -t ext4 -o rw "$dev" /data; then echo "XOVA-DATA $dev rw"; else echo "XOVA-DATA none"; fi
echo XOVA-SHELL-READY
setsid cttyhack sh
sync
umount /data
poweroff -f
echo o > /proc/sysrq-trigger
INIT
chmod 0755 "$w/ir/init"
(cd "$w/ir" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1n > "$w/initrd.img" ||
    fail "cannot pack the initrd"
# the root disks only have to exist (this guest lives in its initrd); the
# data disk is the one the guest writes (ext4, label "data")
for d in root-x86_64 root-aarch64 data; do
    mkdir -p "$w/$d/etc"
    echo "hello-shell $d" > "$w/$d/etc/hostname"
done
cat > "$w/xova.json" <<JSON
{
  "name": "hello-shell",
  "version": "1.0",
  "architectures": [
    { "name": "x86_64", "kernel": "$FIX/x86_64/vmlinuz", "initrd": "$w/initrd.img", "vcpus": 1, "memory": "256M" },
    { "name": "aarch64", "kernel": "$FIX/aarch64/vmlinuz", "initrd": "$w/initrd.img", "vcpus": 1, "memory": "256M" }
  ],
  "disks": [
    { "name": "root", "role": "root", "arch": "x86_64", "size": "32M", "directory": "root-x86_64", "label": "root" },
    { "name": "root", "role": "root", "arch": "aarch64", "size": "32M", "directory": "root-aarch64", "label": "root" },
    { "name": "data", "role": "data", "size": "16M", "directory": "data", "label": "data" }
  ]
}
JSON
B=$T/hello-shell.ova
timeout 300 "$XOVA" build "$w/xova.json" -o "$B" --grub-dir "$FIX/grub" >/dev/null || fail "build"
sum=$(sha256sum < "$B")

# ---- tmux driving ----------------------------------------------------------
PATH=$PATH:/usr/sbin:/sbin
export PATH
tmux -S "$SOCK" -f /dev/null new-session -d -s idle -x 100 -y 30 "sleep 900" || fail "tmux cannot start"

# session NAME XOVA-RUN-ARGS...: `xova run ARGS` in a fresh pane, stty -a
# before and after, exit status to $T/NAME.rc
session() {
    local name=$1; shift
    { printf 'stty -a > %q\n' "$T/$name.before"
      printf '%q run' "$XOVA"; printf ' %q' "$@"; printf '\n'
      printf 'echo $? > %q.tmp && mv %q.tmp %q\n' "$T/$name.rc" "$T/$name.rc" "$T/$name.rc"
      printf 'stty -a > %q\n' "$T/$name.after"
      printf 'sleep 900\n'; } > "$T/$name.sh"
    tmux -S "$SOCK" new-session -d -s "$name" -x 100 -y 30 "bash --norc --noprofile $T/$name.sh" ||
        fail "tmux new-session $name"
    CUR=$name
}
pane() { tmux -S "$SOCK" capture-pane -p -J -t "$1" -S -5000 2>/dev/null; }
# wait_pane NAME ERE SECONDS
wait_pane() {
    local i
    for ((i = 0; i < $3 * 2; i++)); do
        pane "$1" | grep -Eq "$2" && return 0
        sleep 0.5
    done
    return 1
}
wait_rc() {
    local i
    for ((i = 0; i < $2 * 2; i++)); do
        [ -s "$T/$1.rc" ] && [ -s "$T/$1.after" ] && return 0
        sleep 0.5
    done
    return 1
}
# the xova of a session (child of the pane's bash) and its QEMU
pids() {
    local sh
    sh=$(tmux -S "$SOCK" display -p -t "$1" '#{pane_pid}')
    XPID=$(pgrep -P "$sh" -x xova | head -1)
    [ -n "$XPID" ] || fail "$1: no xova process under the pane"
    QPID=$(pgrep -P "$XPID" -f qemu-system | head -1)
    [ -n "$QPID" ] || fail "$1: no QEMU under xova $XPID"
    QEMUS+=("$QPID")
    PTY=$(tmux -S "$SOCK" display -p -t "$1" '#{pane_tty}')
}
gone() { local i; for ((i = 0; i < 40; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done; return 1; }
type_in() { tmux -S "$SOCK" send-keys -t "$1" "$2" Enter; }

# ---- 1. type into the guest, Ctrl-] ---------------------------------------
session con "$B" --arch x86_64 --accel tcg
wait_pane con 'connected to the x86_64 console; Ctrl-\] to stop' 60 || fail "no banner naming Ctrl-]"
wait_pane con '^xova# ' 300 || fail "no shell prompt on the console"
pids con
stty -a -F "$PTY" | grep -q -- '-icanon' || fail "the terminal is not in raw mode while connected"
type_in con 'uname -m'
wait_pane con '^x86_64 *$' 60 || fail "typed 'uname -m', no 'x86_64' read back"
pane con | sed -n '/xova# uname -m/,$p' | grep -qx 'x86_64 *' || fail "'x86_64' is not the answer to 'uname -m'"
tmux -S "$SOCK" send-keys -t con C-]
wait_rc con 60 || fail "Ctrl-] did not end the run"
[ "$(cat "$T/con.rc")" = 0 ] || fail "Ctrl-]: exit status $(cat "$T/con.rc"), want 0"
gone "$QPID" || fail "Ctrl-]: QEMU $QPID still running"
cmp -s "$T/con.before" "$T/con.after" || { diff "$T/con.before" "$T/con.after"; fail "Ctrl-]: stty -a changed"; }
echo "ok: typed uname -m, read x86_64; Ctrl-] ended the run, QEMU gone, terminal as before"

# ---- 2. SIGTERM mid-session -------------------------------------------------
session term "$B" --arch x86_64 --accel tcg
wait_pane term '^xova# ' 300 || fail "no shell prompt on the console"
pids term
stty -a -F "$PTY" | grep -q -- '-icanon' || fail "the terminal is not in raw mode while connected"
kill -TERM "$XPID"
wait_rc term 60 || fail "SIGTERM did not end xova"
[ "$(cat "$T/term.rc")" = 130 ] || fail "SIGTERM: exit status $(cat "$T/term.rc"), want 130"
gone "$QPID" || fail "SIGTERM: QEMU $QPID still running"
cmp -s "$T/term.before" "$T/term.after" || { diff "$T/term.before" "$T/term.after"; fail "SIGTERM: stty -a changed"; }
pane term | grep -q 'interrupted by signal 15' || fail "SIGTERM: no 'interrupted' message"
echo "ok: SIGTERM: exit 130, QEMU gone, terminal as before"

# ---- 2b. QEMU crashes (SIGKILL) mid-session ----------------------------------
session crash "$B" --arch x86_64 --accel tcg
wait_pane crash '^xova# ' 300 || fail "no shell prompt on the console"
pids crash
kill -KILL "$QPID"
wait_rc crash 60 || fail "QEMU killed: xova did not end"
[ "$(cat "$T/crash.rc")" = 1 ] || fail "QEMU killed: exit status $(cat "$T/crash.rc"), want 1"
cmp -s "$T/crash.before" "$T/crash.after" || { diff "$T/crash.before" "$T/crash.after"; fail "QEMU killed: stty -a changed"; }
pane crash | grep -q 'killed by signal 9' || fail "QEMU killed: the error does not say so"
echo "ok: QEMU killed: exit 1 naming the signal, terminal as before"

# ---- 3. --state -------------------------------------------------------------
S=$T/state
token=persisted-$$-$RANDOM
session st1 "$B" --arch x86_64 --accel tcg --state "$S"
wait_pane st1 '^xova# ' 300 || fail "state run 1: no prompt"
pane st1 | grep -q 'XOVA-DATA /dev/vd[a-z0-9]* rw' || fail "state run 1: the data disk is not mounted read-write"
pane st1 | grep -q "state in $S (new)" || fail "state run 1: no 'state in DIR (new)' note"
type_in st1 "echo $token > /data/state-test; sync; cat /data/state-test; exit"
wait_rc st1 120 || fail "state run 1: the guest did not power off after exit"
[ "$(cat "$T/st1.rc")" = 0 ] || fail "state run 1: exit status $(cat "$T/st1.rc")"
cmp -s "$T/st1.before" "$T/st1.after" || fail "guest power off: stty -a changed"
for f in stamp lock disk0.qcow2 disk1.qcow2 disk2.qcow2 efi-vars.fd; do
    [ -f "$S/$f" ] || fail "state run 1: no $f in the state directory"
done
grep -qx 'arch x86_64' "$S/stamp" || fail "stamp does not record the arch: $(cat "$S/stamp")"

session st2 "$B" --arch x86_64 --accel tcg --state "$S"
wait_pane st2 '^xova# ' 300 || fail "state run 2: no prompt"
pane st2 | grep -q "state in $S (reused)" || fail "state run 2: state not reused"
# a second run on the same DIR while this one holds it
timeout 60 "$XOVA" run "$B" --arch x86_64 --accel tcg --state "$S" --no-interactive </dev/null \
    >"$T/busy.out" 2>"$T/busy.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "concurrent run on the state dir: exit $rc, want a refusal"
grep -q 'in use by another xova run' "$T/busy.err" || { cat "$T/busy.err"; fail "concurrent run: no 'in use' message"; }
type_in st2 'cat /data/state-test'
wait_pane st2 "^$token *\$" 60 || fail "state run 2: the file written in run 1 is not there"
type_in st2 'exit'
wait_rc st2 120 || fail "state run 2: no power off"
cmp -s "$T/st2.before" "$T/st2.after" || fail "guest power off: stty -a changed"
echo "ok: --state: the file survived the run; a concurrent run was refused; power off restored the terminal"

# the same DIR for the other arch: refused before any QEMU (none may start:
# a wrapper on PATH records a start)
mkdir -p "$T/bin"
printf '#!/bin/sh\necho started >> %q\nexit 1\n' "$T/qemu-started" > "$T/bin/qemu-system-aarch64"
chmod +x "$T/bin/qemu-system-aarch64"
PATH=$T/bin:$PATH timeout 60 "$XOVA" run "$B" --arch aarch64 --accel tcg --state "$S" </dev/null \
    >"$T/arch.out" 2>"$T/arch.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "state dir of x86_64 used for aarch64: exit $rc, want a refusal"
grep -q 'holds the x86_64 state of .hello-shell. 1.0, not the aarch64 one' "$T/arch.err" ||
    { cat "$T/arch.err"; fail "other arch: not the expected refusal"; }
[ ! -e "$T/qemu-started" ] || fail "other arch: QEMU was started before the refusal"
grep -qx 'arch x86_64' "$S/stamp" || fail "other arch: the stamp was changed"
echo "ok: the state dir of x86_64 is refused for aarch64 before QEMU"

# symlinks: a state dir whose overlay is a symlink, and a DIR that is one,
# are refused before QEMU, and nothing appears at the link's target
mkdir -m 0700 "$T/s-link"
cp "$S/stamp" "$T/s-link/stamp"
ln -s "$T/victim" "$T/s-link/disk0.qcow2"
timeout 60 "$XOVA" run "$B" --arch x86_64 --accel tcg --state "$T/s-link" </dev/null >/dev/null 2>"$T/link.err" &&
    fail "a symlinked overlay in the state dir was accepted"
grep -q "disk0.qcow2.*symlink; refused" "$T/link.err" || { cat "$T/link.err"; fail "symlinked overlay: no refusal"; }
ln -s "$S" "$T/s-dirlink"
timeout 60 "$XOVA" run "$B" --arch x86_64 --accel tcg --state "$T/s-dirlink" </dev/null >/dev/null 2>"$T/dlink.err" &&
    fail "a symlinked state dir was accepted"
grep -q "cannot open the state directory" "$T/dlink.err" || { cat "$T/dlink.err"; fail "symlinked DIR: no refusal"; }
[ ! -e "$T/victim" ] || fail "something was written through the symlink"
echo "ok: symlinks in or as the state dir are refused"

session st3 "$B" --arch x86_64 --accel tcg --state "$S" --reset
wait_pane st3 '^xova# ' 300 || fail "state run 3 (--reset): no prompt"
pane st3 | grep -q "state in $S (new)" || fail "--reset: the state was not started over"
type_in st3 'cat /data/state-test || echo STATE-GONE'
wait_pane st3 '^STATE-GONE *$' 60 || fail "--reset: the file is still there"
type_in st3 'exit'
wait_rc st3 120 || fail "state run 3: no power off"
[ "$(sha256sum < "$B")" = "$sum" ] || fail "the bundle changed"
echo "ok: --reset started over; the bundle was never written"
echo "PASS"
