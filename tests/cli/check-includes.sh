#!/bin/bash
# check-includes: dependencies between folders point down only
# (docs/ARCHITECTURE.md). Fails when an #include "dir/..." crosses a folder
# boundary the wrong way, or reaches into another folder's -internal.h, or
# when ovf/ (formats only) starts a process (fork, exec*, posix_spawn,
# xova_run, xova_spawn, system, popen) or includes a hypervisor header
# (hv/, guestfs.h, libvirt/). Comments and strings are not code: they may
# name these.
#
# check-includes.sh [TREE]: checks TREE (default: the source tree). Without
# TREE it first proves itself: a planted violation of each ovf/ rule in a
# scratch tree must fail, the same tree without it must pass.
set -uo pipefail
self=$(readlink -f "$0")
if [ $# -eq 0 ]; then
    st=$(mktemp -d /tmp/xova-check-includes.XXXXXX) || exit 1
    trap 'rm -rf "$st"' EXIT
    mkdir -p "$st/ovf" "$st/common"
    printf '/* fork() and xova_run( in a comment are fine; "popen(" too */\n#include "common/common.h"\nint ok(void);\n' > "$st/ovf/ok.c"
    bash "$self" "$st" >/dev/null || { echo "FAIL - self-test: a clean ovf/ file is refused"; exit 1; }
    n=0
    for planted in '#include <guestfs.h>' '#include <libvirt/libvirt.h>' '#include "hv/hv.h"' \
                   'static int f(void) { return fork(); }' 'static int f(char **a) { return execvp(a[0], a); }' \
                   'int f(void); int f(void) { return xova_run ("qemu-utils", 0, 0, 0, 0); }' \
                   'int f(void); int f(void) { return system("qemu-img"); }' \
                   'int f(void); int f(void) { return posix_spawn(0, "x", 0, 0, 0, 0); }' \
                   'int f(void); int f(void) { return popen("x", "r") != 0; }'; do
        cp "$st/ovf/ok.c" "$st/ovf/bad.c"
        printf '%s\n' "$planted" >> "$st/ovf/bad.c"
        if bash "$self" "$st" >/dev/null; then
            echo "FAIL - self-test: planted '$planted' in ovf/ was not found"
            exit 1
        fi
        n=$((n + 1))
    done
    rm -f "$st/ovf/bad.c"
    echo "check-includes: self-test: $n planted ovf/ violations found"
    cd "${XOVA_SRCDIR:-$(dirname "$0")/../..}" || exit 1
else
    cd "$1" || exit 1
fi

declare -A allowed=(
    [common]=""
    [bootpart]="common"
    [ovf]="common"
    [appliance]="common bootpart ovf"
    [hv]="common ovf"
    [cli]="common bootpart ovf appliance hv"
    [tests]="common bootpart ovf appliance hv cli"
    [bench]="common bootpart ovf appliance hv"
    [fuzz]="common bootpart ovf appliance hv tests"
)
bad=0 checked=0
while IFS= read -r -d '' f; do
    dir=${f%%/*}
    [ -n "${allowed[$dir]+x}" ] || continue
    while IFS=: read -r line inc; do
        target=${inc%%/*}
        checked=$((checked + 1))
        [ "$target" = "$dir" ] && continue
        if [[ " ${allowed[$dir]} " != *" $target "* ]]; then
            echo "FAIL - $f:$line includes \"$inc\": $dir/ may not depend on $target/"
            bad=$((bad + 1))
        elif [[ "$inc" == *-internal.h && "$dir" != tests && "$dir" != fuzz ]]; then
            echo "FAIL - $f:$line includes \"$inc\": another folder's internal header"
            bad=$((bad + 1))
        fi
    done < <(grep -n -o -E '^#include "[a-z]+/[^"]+"' "$f" | sed -E 's/^([0-9]+):#include "(.*)"/\1:\2/')
done < <(find common bootpart ovf appliance hv cli tests bench fuzz -name '*.[ch]' -print0 2>/dev/null)

# ovf/ is formats only: no processes, no hypervisor headers. C comments and
# string literals are blanked first (newlines kept, so line numbers hold).
while IFS= read -r -d '' f; do
    while IFS= read -r hit; do
        echo "FAIL - $f:$hit: ovf/ holds formats only (processes and hypervisors belong in hv/)"
        bad=$((bad + 1))
    done < <(perl -0777 -ne '
        s{/\*.*?\*/}{ (my $c = $&) =~ s/[^\n]//g; $c }gse;
        s{//[^\n]*}{}g;
        my @l = split /\n/, $_, -1;
        for my $i (0 .. $#l) {
            my $x = $l[$i];
            if ($x =~ /^\s*#\s*include\s*[<"]((?:hv\/|libvirt\/|guestfs\.h)[^>"]*)[>"]/) {
                print $i + 1, ": includes $1\n"; next;
            }
            $x =~ s/"(?:\\.|[^"\\])*"/""/g;
            print $i + 1, ": calls $1()\n"
                if $x =~ /\b(fork|vfork|execv|execve|execvp|execvpe|execl|execle|execlp|fexecve|posix_spawnp?|xova_run|xova_run_with|xova_spawn|system|popen)\s*\(/;
        }' "$f")
done < <(find ovf -name '*.[ch]' -print0 2>/dev/null)
echo "check-includes: $checked includes checked"
echo "$((bad == 0 ? 1 : 0)) passed, $((bad == 0 ? 0 : 1)) failed"
[ $bad -eq 0 ]
