#!/bin/bash
# SPDX-License-Identifier: MIT
#
# fuzz/run.sh [SECONDS] - builds the libFuzzer targets (if needed), makes
# the seeds, and runs each target for SECONDS (default 60), one after the
# other (CI has 2 cores: -jobs=1 -workers=1). Prints per target
#
#   fuzz: <target>: <execs> execs, <crashes> crashes
#
# and exits 1 if any target crashed (printing the crash input's path, the
# sanitizer's summary and the input in base64 when small, ready to become a
# unit-test fixture), 2 on a usage or setup error.
#
# Files (all git-ignored):
#   fuzz/corpus-gen/seeds/<target>/    seeds (fuzz/seeds.sh, remade each run)
#   fuzz/corpus-gen/corpus/<target>/   the growing corpus, kept between runs
#   fuzz/out/run/<target>/fuzz-0.log   libFuzzer's log of the last run
#   fuzz/out/crashes/<target>/         crash-*, leak-*, timeout-*, oom-* inputs
#
# Environment: XOVA (a built xova binary for the seeds; default ./xova in
# the current or the top directory, if there), FUZZ_TARGETS (default all
# six), FUZZ_FLAGS (extra libFuzzer flags), FUZZ_B64_MAX (default 4096:
# bigger crash inputs are not printed in base64).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
out=${FUZZ_OUT:-$here/out}
gen=$here/corpus-gen
secs=${1:-60}
targets=${FUZZ_TARGETS:-spec manifest cert ovf tar vmdk}
b64_max=${FUZZ_B64_MAX:-4096}

case $secs in
''|*[!0-9]*|0) echo "usage: fuzz/run.sh [SECONDS]   (a positive number of seconds, default 60)" >&2; exit 2 ;;
esac

start=$(date +%s)
FUZZ_OUT=$out bash "$here/build.sh" || { echo "fuzz/run.sh: error: build failed" >&2; exit 2; }

xova=${XOVA:-}
if [ -z "$xova" ]; then
	for c in "$PWD/xova" "$top/xova"; do
		[ -x "$c" ] && [ -f "$c" ] && { xova=$c; break; }
	done
fi
FUZZ_SEEDS=$gen/seeds bash "$here/seeds.sh" ${xova:+"$xova"} ||
	{ echo "fuzz/run.sh: error: making the seeds failed" >&2; exit 2; }

# leaks are findings too; UBSan already aborts (-fno-sanitize-recover)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export XOVA_FUZZ_CA=$gen/seeds/cert-ca.pem

crashed=0 failed=0
for t in $targets; do
	bin=$out/fuzz-$t
	[ -x "$bin" ] || { echo "fuzz/run.sh: error: no target '$bin'" >&2; failed=1; continue; }
	corpus=$gen/corpus/$t crashes=$out/crashes/$t rundir=$out/run/$t
	mkdir -p "$corpus" "$crashes" "$rundir"
	rm -f "$rundir"/fuzz-*.log
	# -jobs=1: libFuzzer runs the target in a child with output in fuzz-0.log
	# (in the current directory); new inputs go to the first corpus dir
	# shellcheck disable=SC2086
	(cd "$rundir" && "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 -jobs=1 -workers=1 -artifact_prefix="$crashes/" \
		${FUZZ_FLAGS:-} "$corpus" "$gen/seeds/$t" > "$rundir/runner.log" 2>&1)
	rc=$?
	log=$rundir/fuzz-0.log
	[ -f "$log" ] || log=$rundir/runner.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	# libFuzzer names every crash/leak/timeout/oom input it saves
	mapfile -t inputs < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
	new=${#inputs[@]}
	echo "fuzz: $t: ${execs:-?} execs, $new crashes"
	if [ "$new" -gt 0 ]; then
		crashed=1
		echo "fuzz: $t: sanitizer/abort report (from ${log#"$top"/}):"
		grep -m 1 -E '^==[0-9]+==ERROR|runtime error|^fuzz: |deadly signal|ERROR: libFuzzer' "$log" | sed 's/^/    /'
		# the first stack only (the access), at most 16 frames
		awk '/^ +#0 / { n++ } n == 1 && /^ +#[0-9]+ / { print "    " $0 }' "$log" | head -n 16
		grep -m 1 '^SUMMARY' "$log" | sed 's/^/    /'
		for f in "${inputs[@]}"; do
			size=$(stat -c %s "$f")
			echo "fuzz: $t: crash input: $f ($size bytes)"
			echo "fuzz: $t: reproduce: $bin $f"
			if [ "$size" -le "$b64_max" ]; then
				echo "fuzz: $t: base64 (decode with 'base64 -d > input'):"
				base64 -w 76 "$f" | sed 's/^/    /'
			else
				echo "fuzz: $t: input larger than $b64_max bytes: attach the file"
			fi
		done
	elif [ "$rc" -ne 0 ] || [ -z "$execs" ]; then
		echo "fuzz: $t: libFuzzer exited $rc without a crash input; see ${log#"$top"/}" >&2
		failed=1
	fi
done
echo "fuzz: done in $(( $(date +%s) - start )) s"
[ "$crashed" = 0 ] || exit 1
[ "$failed" = 0 ] || exit 2
exit 0
