# libvirt-lib.sh - what the deploy tests need from libvirt, started by the
# test itself and torn down at its end (sourced; call lv_cleanup from the
# test's EXIT trap):
#   lv_begin            $T traversable, the cleanup trap, lv_daemons
#   lv_daemons          virtlogd and libvirtd, if qemu:///system does not
#                       answer; the ones the suite started are remembered
#                       and only those are stopped, by the last test out
#   lv_pool NAME DIR    a transient dir pool (name carries the test's PID)
#   lv_sshd             an sshd on a free loopback port with a throwaway
#                       host key and client key in $T; sets LV_SSH_URI
#   lv_forget_domain N  remembers a domain to remove at the end (if left)
# Needs $T (the test's temp dir, world-traversable: QEMU runs as
# libvirt-qemu and opens the volumes under it).
# the accelerator deploy must choose for this host's own arch: where /dev/kvm
# is known broken (CI: XOVA_TEST_KVM_BROKEN=1) TCG, else whatever the probe says
if [ -n "${XOVA_TEST_KVM_BROKEN:-}" ]; then LV_ACCEL=tcg; else LV_ACCEL='(tcg|kvm)'; fi
# Tests run in parallel (make -j) and share the daemons: each holds a shared
# lock on LV_LOCK while it uses them; the pids the suite started are listed
# in LV_STARTED; the last test out (the one that gets the lock exclusively)
# stops them. So a test never stops daemons another test is using, and
# never stops daemons no test started.
LV_LOCK=${XOVA_TEST_LIBVIRT_LOCK:-/run/xova-test-libvirt.lock}
LV_STARTED=$LV_LOCK.started
LV_LOCK_FD=
LV_POOLS=()
LV_DOMAINS=()
LV_MOUNTS=()
LV_SSHD_PID=

# lv_begin: how every deploy test starts: its temp dir $T made
# world-traversable (QEMU runs as libvirt-qemu and opens the volumes under
# it), the EXIT trap that tears down what the test made, and the daemons.
lv_begin() {
    chmod 755 "$T" || return 1
    trap 'lv_cleanup; rm -rf "$T"' EXIT
    lv_daemons
}

lv_answers() { timeout 20 virsh -q -c qemu:///system version >/dev/null 2>&1; }

lv_daemons() {
    local p i
    exec {LV_LOCK_FD}>>"$LV_LOCK" || return 1
    flock -s "$LV_LOCK_FD" || return 1
    lv_answers && return 0
    for p in virtlogd libvirtd; do
        if [ "$p" = virtlogd ] && [ -S /run/libvirt/virtlogd-sock ] && pgrep -x virtlogd >/dev/null; then
            continue
        fi
        # (without the lock's fd: a daemon holding it would keep it forever)
        "$p" -d {LV_LOCK_FD}>&- || { echo "FAIL - cannot start $p" >&2; return 1; }
        for i in $(seq 50); do [ -s "/run/$p.pid" ] && break; sleep 0.1; done
        echo "$p $(cat "/run/$p.pid")" >> "$LV_STARTED"
    done
    for i in $(seq 100); do lv_answers && return 0; sleep 0.2; done
    echo "FAIL - libvirtd does not answer on qemu:///system" >&2
    return 1
}

lv_pool() {
    mkdir -p "$2" && chmod 755 "$2" || return 1
    virsh -q -c qemu:///system pool-create-as "$1" dir --target "$2" >/dev/null || return 1
    LV_POOLS+=("$1")
}

lv_forget_domain() { LV_DOMAINS+=("$1"); }

# lv_vols POOL: the pool's volume names, sorted, one a line
lv_vols() {
    virsh -q -c qemu:///system pool-refresh "$1" >/dev/null 2>&1
    virsh -q -c qemu:///system vol-list "$1" 2>/dev/null | awk 'NF {print $1}' | sort
}

lv_has_domain() { virsh -q -c qemu:///system dominfo "$1" >/dev/null 2>&1; }

lv_sshd() {
    local port
    mkdir -p /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$T/ssh_host_key" || return 1
    ssh-keygen -q -t ed25519 -N '' -f "$T/client_key" || return 1
    cp "$T/client_key.pub" "$T/authorized_keys"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > "$T/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $T/ssh_host_key
PidFile $T/sshd.pid
PermitRootLogin prohibit-password
AuthorizedKeysFile $T/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CFG
    /usr/sbin/sshd -f "$T/sshd_config" -E "$T/sshd.log" {LV_LOCK_FD}>&- || { cat "$T/sshd.log" >&2; return 1; }
    local i
    for i in $(seq 50); do [ -s "$T/sshd.pid" ] && break; sleep 0.1; done
    LV_SSHD_PID=$(cat "$T/sshd.pid")
    # the ssh libvirt runs: no user config, known_hosts in $T (root's ~/.ssh is not touched)
    cat > "$T/ssh-wrap" <<WRAP
#!/bin/sh
exec ssh -F /dev/null -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=no -o BatchMode=yes "\$@"
WRAP
    chmod 755 "$T/ssh-wrap"
    LV_SSH_URI="qemu+ssh://root@127.0.0.1:$port/system?keyfile=$T/client_key&no_verify=1&command=$T/ssh-wrap"
}

lv_cleanup() {
    local d p m
    for d in "${LV_DOMAINS[@]}"; do
        if lv_has_domain "$d"; then
            virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1
            virsh -q -c qemu:///system undefine "$d" --nvram >/dev/null 2>&1
        fi
        rm -f "/var/log/libvirt/qemu/$d-console.log" "/var/log/libvirt/qemu/$d.log"
    done
    for p in "${LV_POOLS[@]}"; do
        for d in $(lv_vols "$p"); do virsh -q -c qemu:///system vol-delete --pool "$p" "$d" >/dev/null 2>&1; done
        virsh -q -c qemu:///system pool-destroy "$p" >/dev/null 2>&1
    done
    for m in "${LV_MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    [ -n "$LV_SSHD_PID" ] && kill "$LV_SSHD_PID" 2>/dev/null
    # the daemons the suite started, newest first (libvirtd before
    # virtlogd), by the last test that uses them
    [ -n "$LV_LOCK_FD" ] || return 0
    if flock -x -n "$LV_LOCK_FD" && [ -s "$LV_STARTED" ]; then
        tac "$LV_STARTED" | while read -r name pid; do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && kill "$pid"
        done
        rm -f "$LV_STARTED"
    fi
    exec {LV_LOCK_FD}>&-
}
