#!/bin/bash
# bash completion (completion/xova): sourced into a bash, completing `xova b`,
# `xova run --a`, `xova run --arch `, an --arch list item, --for targets, a
# verb's options and file arguments gives the expected words. Words come from
# the xova under test ($XOVA), so a verb or arch it lacks would fail here.
. "$XOVA_SRCDIR/tests/lib.sh"
COMP=$XOVA_SRCDIR/completion/xova
mkdir -p "$T/bin" "$T/files"
ln -s "$XOVA" "$T/bin/xova"
touch "$T/files/app.ova" "$T/files/app.json"

# complete LINE -> prints COMPREPLY, one word per line, sorted. Runs in a
# fresh bash (with bash-completion's helpers when installed, like a login shell)
complete_line() {
    timeout 20 env PATH="$T/bin:$PATH" LINE="$1" COMP="$COMP" bash --norc --noprofile -c '
        [ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
        . "$COMP"
        read -r -a COMP_WORDS <<<"$LINE"
        [[ $LINE == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_LINE=$LINE COMP_POINT=${#LINE}
        _xova xova "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' 2>"$T/err"
}
expect() {      # DESCRIPTION LINE WORDS...
    local d=$1 line=$2; shift 2
    got=$(complete_line "$line" | tr '\n' ' ' | sed 's/ $//')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$got" = "$want" ]; then ok "$d"; else fail "$d: got '$got', want '$want' $(cat "$T/err")"; fi
}

expect "'xova b' completes the verb build" "xova b" build
expect "'xova run --a' completes --arch and --accel" "xova run --a" --accel --arch
expect "'xova run --arch ' offers the architectures" "xova run --arch " aarch64 x86_64
expect "'xova build --arch x86_64,a' completes the list item" "xova build --arch x86_64,a" x86_64,aarch64
expect "'xova loaders ' offers the actions" "xova loaders " arches fetch list
expect "'xova loaders fetch --s' offers its options" "xova loaders fetch --s" --secure-boot --system
expect "'xova x --for v' offers the targets" "xova x --for v" virt-v2v virtualbox vmware
expect "'xova build --format ' offers the formats" "xova build --format " dir ova raw
expect "'xova run --f' completes --forward" "xova run --f" --forward
expect "'xova run --forward ' offers nothing (free text)" "xova run --forward "
expect "'xova l' completes the verb loaders" "xova l" loaders
expect "'xova --' offers the global options" "xova --" --help --version
expect "a file argument completes file names" "xova verify $T/files/app.o" "$T/files/app.ova"
finish
