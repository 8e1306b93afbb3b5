# lib.sh - helpers shared by the integration scripts. Sourced, never run.
#
# A script starts with
#     [ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
#     . "$(dirname "$0")/lib.sh"
# and then has, in $work, a fresh temporary directory that is also the current directory; an
# environment without REVGATE_* variables (REVGATE itself, the binary, is kept); and a trap
# that stops every process it started, prints the logs if anything failed, removes $work and
# exits with automake's codes: 0 pass, 1 fail, 99 hard error (the test could not run).
#
# Assertions do not stop the script: each prints "ok - ..." or "FAIL - ..." with what was
# expected and what was got, and the script fails at the end if any did. Use die when going
# on makes no sense (a server that never started).

if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh: needs bash; start the script with: [ -n \"\${BASH_VERSION:-}\" ] || exec bash \"\$0\" \"\$@\"" >&2
	exit 99
fi
set -u

test_name=$(basename "$0" .sh)
failures=0
checks=0
pids=()			# processes to stop on exit
logs=()			# files to print when the test fails
run_limit=10		# seconds any single revgate invocation may take

# hard_error MESSAGE: the test itself cannot run (automake's 99).
hard_error() {
	echo "$test_name: hard error: $*" >&2
	exit 99
}

[ -n "${REVGATE:-}" ] || hard_error "REVGATE is not set; run through make check, or set it to the built binary"
case $REVGATE in /*) ;; *) REVGATE=$(cd "$(dirname "$REVGATE")" && pwd)/$(basename "$REVGATE") ;; esac
[ -x "$REVGATE" ] || hard_error "REVGATE=$REVGATE is not an executable"

# Settings from the caller's environment must not leak into what we assert.
for _v in $(compgen -e); do
	case $_v in REVGATE_*) unset "$_v" ;; esac
done
unset _v
export LC_ALL=C		# strerror() texts and sort order as asserted

work=$(mktemp -d "${TMPDIR:-/tmp}/revgate-$test_name.XXXXXX") || hard_error "cannot create a temporary directory"
cd "$work" || hard_error "cannot enter $work"

if command -v timeout >/dev/null 2>&1; then
	bounded=(timeout -k 2 "$run_limit")
else
	bounded=()
fi

# track PID: stop PID when the script exits.
track() {
	pids+=("$1")
}

# show_log FILE: registers FILE to be printed if the test fails.
show_log() {
	logs+=("$1")
}

lib_stop_all() {
	local pid i
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "$test_name: pid $pid ignored SIGTERM for 3 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
}

lib_dump_logs() {
	local f
	for f in "${logs[@]}"; do
		echo "----- $f"
		if [ -f "$f" ]; then cat "$f"; else echo "(no such file)"; fi
	done
	echo "----- end of logs"
}

lib_on_exit() {
	local status=$?
	trap - EXIT
	lib_stop_all
	[ "$status" -eq 0 ] && [ "$failures" -gt 0 ] && status=1
	if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
		[ "${#logs[@]}" -gt 0 ] && lib_dump_logs
		echo "$test_name: $failures of $checks checks failed (exit $status)"
	else
		echo "$test_name: all $checks checks passed"
	fi
	cd / && rm -rf "$work"
	exit "$status"
}
trap lib_on_exit EXIT
trap 'echo "$test_name: interrupted" >&2; exit 99' HUP INT TERM

pass() {
	checks=$((checks + 1))
	echo "ok - $*"
}

# fail WHAT [DETAIL]: records a failed check; DETAIL (any number of lines) is printed indented.
fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL - $1"
	[ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/    /'
}

# die WHAT [DETAIL]: a failed check after which the rest of the script makes no sense.
die() {
	fail "$@"
	exit 1
}

# indent TEXT: TEXT with each line indented, for failure reports; "(empty)" when empty.
indent() {
	if [ -z "$1" ]; then
		echo "  (empty)"
	else
		printf '%s\n' "$1" | sed 's/^/  | /'
	fi
}

# run [--unset=NAME]... [NAME=VALUE]... ARG...: runs revgate with ARGs in the environment
# changed as env(1) would, bounded to $run_limit seconds. Sets cmd (for messages), rc (exit
# status), out (stdout) and err (stderr).
run() {
	local envs=()
	while [ $# -gt 0 ] && [[ $1 =~ ^--unset=. || $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
		envs+=("$1")
		shift
	done
	cmd="${envs[*]}${envs[*]:+ }revgate $*"
	rc=0
	env "${envs[@]}" "${bounded[@]}" "$REVGATE" "$@" >"$work/.out" 2>"$work/.err" || rc=$?
	out=$(cat "$work/.out")
	err=$(cat "$work/.err")
	[ "$rc" -eq 124 ] && [ "${#bounded[@]}" -gt 0 ] && err="$err
(timed out after $run_limit s)"
	return 0
}

# The output of the last run, for failure reports.
last_output() {
	echo "command: $cmd"
	echo "exit status: $rc"
	echo "stdout:"
	indent "$out"
	echo "stderr:"
	indent "$err"
}

# assert_exit CODE: the last run exited with CODE.
assert_exit() {
	if [ "$rc" -eq "$1" ]; then
		pass "$cmd: exits $1"
	else
		fail "$cmd: exits $1" "expected exit status $1, got $rc
$(last_output)"
	fi
}

# assert_eq WHAT EXPECTED GOT: two texts are identical. On failure both are printed, or only
# their differences when they are long.
assert_eq() {
	local diff
	if [ "$2" == "$3" ]; then
		pass "$1"
		return
	fi
	diff=$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | sed 's/^/  /')
	if [ "$(printf '%s\n' "$2" "$3" | wc -l)" -gt 20 ]; then
		fail "$1" "differences (- expected, + got):
$diff"
	else
		fail "$1" "expected:
$(indent "$2")
got:
$(indent "$3")
differences (- expected, + got):
$diff"
	fi
}

# assert_contains WHAT TEXT NEEDLE: TEXT contains NEEDLE (a fixed string).
assert_contains() {
	if [[ $2 == *"$3"* ]]; then
		pass "$1"
	else
		fail "$1" "expected to contain: $3
got:
$(indent "$2")"
	fi
}

# assert_not_contains WHAT TEXT NEEDLE: TEXT does not contain NEEDLE.
assert_not_contains() {
	if [[ $2 != *"$3"* ]]; then
		pass "$1"
	else
		fail "$1" "expected not to contain: $3
got:
$(indent "$2")"
	fi
}

# assert_line WHAT TEXT LINE: one line of TEXT is exactly LINE.
assert_line() {
	if printf '%s\n' "$2" | grep -Fxq -- "$3"; then
		pass "$1"
	else
		fail "$1" "expected the line: $3
got:
$(indent "$2")"
	fi
}

# assert_stdout EXPECTED / assert_stderr EXPECTED: the whole output of the last run.
assert_stdout() {
	assert_eq "$cmd: stdout" "$1" "$out"
}
assert_stderr() {
	assert_eq "$cmd: stderr" "$1" "$err"
}

# strip_origins: --print-config output without its header and "  # origin" comments, i.e.
# just the effective values.
strip_origins() {
	sed -e '/^# effective configuration/d' -e 's/  # [^"]*$//'
}

# wait_for_log FILE TEXT [PID]: waits up to 5 s for a line of FILE containing TEXT. Returns 1
# (after a failed check) on time-out, or as soon as PID, if given, has exited.
wait_for_log() {
	local file=$1 text=$2 pid=${3:-} i
	for ((i = 0; i < 50; i++)); do
		if [ -f "$file" ] && grep -Fq -- "$text" "$file"; then
			pass "$file: has \"$text\""
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			fail "$file: has \"$text\"" "the process $pid exited before writing it"
			return 1
		fi
		sleep 0.1
	done
	fail "$file: has \"$text\"" "not there after 5 s; the file holds:
$(indent "$(cat "$file" 2>/dev/null)")"
	return 1
}

# start_revgate NAME ARG...: starts revgate ARG... in the background with stdout and stderr
# in NAME.stdout and NAME.stderr; sets server_pid. The process is stopped on exit.
start_revgate() {
	local name=$1
	shift
	"$REVGATE" "$@" >"$work/$name.stdout" 2>"$work/$name.stderr" &
	server_pid=$!
	track "$server_pid"
	show_log "$work/$name.stdout"
	show_log "$work/$name.stderr"
}

# wait_exit PID [SECONDS]: waits up to SECONDS (default 5) for PID, a child of this shell, to
# exit; sets rc to its exit status, or returns 1 (rc=-1) if it is still running.
wait_exit() {
	local pid=$1 limit=${2:-5} i
	for ((i = 0; i < limit * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			rc=0
			wait "$pid" || rc=$?
			return 0
		fi
		sleep 0.1
	done
	rc=-1
	return 1
}

# alive PID: PID is still running.
alive() {
	kill -0 "$1" 2>/dev/null
}
