#!/bin/bash
# check-includes: dependencies between folders point down only
# (docs/ARCHITECTURE.md). Fails when an #include "dir/..." crosses a folder
# boundary the wrong way, or reaches into another folder's -internal.h.
set -uo pipefail
cd "${XOVA_SRCDIR:-$(dirname "$0")/../..}" || exit 1

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
echo "check-includes: $checked includes checked"
echo "$((bad == 0 ? 1 : 0)) passed, $((bad == 0 ? 0 : 1)) failed"
[ $bad -eq 0 ]
