#!/bin/bash
# xova-test-timeout: 120
# check-lengths.sh - no source file outside tests/ over 800 lines, and no C
# function over 150 lines (issue #16: one concern per file; a function is
# cut at its natural seams long before that). Prints the longest few files
# and functions, and FAILS on any over the limit that is not in the
# allow-list tests/cli/length-allow.txt. Each line there names one file
# ("file PATH #ISSUE") or function ("function PATH:NAME #ISSUE") that is
# being split under that issue; those print as "allowed (to split)". An
# allow-list line that no longer matches an offender fails too, so the list
# only ever shrinks.
#
#   check-lengths.sh [SRCDIR]      (default $XOVA_SRCDIR, else the tree of this script)
set -u
SRC=${1:-${XOVA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
ALLOW=$SRC/tests/cli/length-allow.txt
MAX_FILE=${XOVA_MAX_FILE_LINES:-800}
MAX_FUNC=${XOVA_MAX_FUNCTION_LINES:-150}
SHOW=${XOVA_LENGTHS_SHOW:-8}
cd "$SRC" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/xova-lengths.XXXXXX")
trap 'rm -rf "$T"' EXIT

# the sources: tracked C and shell files outside tests/ (git ls-files when
# this is a checkout, else find: a dist tarball has no .git)
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SRC" ls-files -- '*.c' '*.h' '*.sh' >"$T/all"
else
    find . -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' \) -not -path './build*' | sed 's|^\./||' | sort >"$T/all"
fi
grep -v -e '^tests/' -e '^build' "$T/all" >"$T/files"
[ -s "$T/files" ] || { echo "FAIL: no sources found under $SRC"; exit 1; }

# "LINES PATH" per file
while read -r f; do printf '%s %s\n' "$(wc -l <"$f")" "$f"; done <"$T/files" | sort -rn >"$T/file-lengths"

# "LINES PATH:NAME" per C function. The style (docs/HACKING.md) puts a
# function's opening and closing braces alone in column 0, so a body is a
# "{" line up to the next "}" line, and its name is the last identifier
# before "(" on the lines just above.
grep -e '\.c$' -e '\.h$' "$T/files" | while read -r f; do
    awk -v file="$f" '
        /^\{/ { start = NR; name = lastname; next }
        /^\}/ && start { printf "%d %s:%s\n", NR - start + 1, file, name; start = 0; next }
        !start && /\(/ {
            s = $0; sub(/\(.*/, "", s); n = split(s, w, /[^A-Za-z0-9_]+/)
            for (i = n; i >= 1; i--) if (w[i] != "") { lastname = w[i]; break }
        }' "$f"
done | sort -rn >"$T/func-lengths"

allowed() { # KIND KEY: prints the issue if allowed
    awk -v k="$1" -v key="$2" '$1 == k && $2 == key { print $3; found = 1; exit } END { exit !found }' "$ALLOW" 2>/dev/null
}

fails=0
used=$T/used
: >"$used"
report() { # KIND LIMIT LENGTHS-FILE TITLE
    local kind=$1 limit=$2 file=$3 title=$4 n key issue shown=0
    echo "longest ${title}s (limit $limit lines):"
    while read -r n key; do
        if [ "$n" -gt "$limit" ]; then
            if issue=$(allowed "$kind" "$key"); then
                printf '  %5d  %s  allowed (to split, %s)\n' "$n" "$key" "$issue"
                echo "$kind $key" >>"$used"
            else
                printf '  %5d  %s  FAIL: over %d lines\n' "$n" "$key" "$limit"
                fails=$((fails + 1))
            fi
        elif [ $shown -lt "$SHOW" ]; then
            printf '  %5d  %s\n' "$n" "$key"
            shown=$((shown + 1))
        else
            break
        fi
    done <"$file"
}
report file "$MAX_FILE" "$T/file-lengths" file
report function "$MAX_FUNC" "$T/func-lengths" function

# stale allow-list entries: the file or function is short enough now (or gone)
if [ -f "$ALLOW" ]; then
    while read -r kind key issue rest; do
        case $kind in ''|'#'*) continue ;; esac
        if ! grep -qxF "$kind $key" "$used"; then
            echo "FAIL: $ALLOW lists '$kind $key' ($issue), which is no longer over the limit: remove the line"
            fails=$((fails + 1))
        fi
    done <"$ALLOW"
fi

if [ $fails -ne 0 ]; then
    echo "$fails length check(s) failed"
    exit 1
fi
echo "lengths: every file and function within limits or allow-listed"
