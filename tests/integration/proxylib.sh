# proxylib.sh - helpers for the proxy integration scripts (proxy_*.sh). Sourced, never run.
#
# A script starts with
#     [ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
#     . "$(dirname "$0")/proxylib.sh"
#     px_setup
# and gets everything lib.sh gives (a fresh $work that is the current directory, pass / fail /
# die / assert_*, a trap that stops every tracked process, prints the logs on failure and
# exits with automake's codes) plus:
#
#   px_setup                    skips (77) without python3, curl or openssl; makes a PKI in
#                               $PKI_DIR ($work/pki: root CA, "server", client "alice") and
#                               starts the test backend "b1" ($backend_port)
#   px_start_backend NAME       another backend.py; sets backend_port (and backend_pid)
#   px_config FILE KEY=VALUE... writes a revgate YAML file: the test defaults (below) with
#                               KEY=VALUE overrides in dotted paths; KEY= removes a default
#   px_start_revgate FILE [ARG...]  `revgate serve -c FILE ARG...` in the background; waits
#                               (bounded) for "https listener bound to 127.0.0.1:PORT" and
#                               "admin listener bound to 127.0.0.1:PORT"; sets revgate_pid,
#                               revgate_port, admin_port, revgate_log, rg_url
#   px_stop_revgate [SIGNAL] [SECONDS]  signals revgate (TERM) and waits; sets rc
#   px_curl ARG... / px_curl_as NAME ARG... / px_curl_anon ARG...
#                               curl -sS --max-time, trusting $PKI_DIR/ca.pem, with the client
#                               certificate of alice / NAME / none
#   px_client ARG...            client.py against revgate (port, CA and alice's certificate
#                               filled in; give --cert/--key to override, or --no-cert)
#   px_stats [PORT] / px_stat KEY [PORT]   the backend's /stats JSON / one counter in it
#   px_json FILE EXPR           evaluates the Python expression EXPR with d = the JSON in FILE
#   px_header FILE NAME         the values of request header NAME in a /echo answer, one a line
#   px_server_fingerprint [PORT]    SHA-256 of the certificate revgate serves (openssl s_client)
#   px_rss PID                  its resident set size in KiB
#   px_wait_until SECONDS CMD...    polls CMD every 0.1 s; returns 1 if it never succeeded
#
# Variables are lower case on purpose: revgate reads every REVGATE_* environment variable as a
# setting and refuses unknown ones, so nothing named REVGATE_* may ever be exported here.

px_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$px_dir/lib.sh"
. "$px_dir/pki.sh"

px_python=${PYTHON:-python3}
px_curl_max_time=${PX_CURL_MAX_TIME:-20}
px_start_timeout=${PX_START_TIMEOUT:-20}
px_revgate_n=0
revgate_pid=
revgate_port=
admin_port=
revgate_log=
rg_url=

# px_skip REASON: the test cannot apply here (automake's 77).
px_skip() {
	echo "$test_name: skipped: $*"
	exit 77
}

px_setup() {
	local tool
	for tool in "$px_python" curl openssl; do
		command -v "$tool" >/dev/null 2>&1 || px_skip "$tool is not installed"
	done
	"$px_python" -c 'import sys; sys.exit(sys.version_info < (3, 7))' ||
	    px_skip "$px_python is older than 3.7"
	mkdir -p "$work/root" || hard_error "cannot create $work/root"
	show_log "$work/pki/openssl.log"
	pki_init "$work/pki" && pki_server server && pki_client alice ||
	    hard_error "cannot create the test PKI"
	px_start_backend b1
}

# px_wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or SECONDS pass (1).
px_wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

px_start_backend() {
	local name=${1:-b1} portfile="$work/backend-${1:-b1}.port"
	rm -f "$portfile"
	"$px_python" "$px_dir/backend.py" "$portfile" --name "$name" \
	    2>"$work/backend-$name.log" </dev/null &
	backend_pid=$!
	track "$backend_pid"
	show_log "$work/backend-$name.log"
	px_wait_until 10 test -s "$portfile" ||
	    hard_error "backend $name did not report its port within 10 s"
	backend_port=$(cat "$portfile")
}

# px_free_port: a loopback TCP port nothing listens on (free a moment ago).
px_free_port() {
	"$px_python" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

px_config() {
	local file=$1
	shift
	"$px_python" - "$file" "$test_name" \
	    "rootPath=$work/root" \
	    "http.host=127.0.0.1" "http.securePort=0" "http.threads=2" \
	    "tls.certificate=$PKI_DIR/server.pem" "tls.privateKey=$PKI_DIR/server.key" \
	    "tls.certificateAuthority=$PKI_DIR/ca.pem" \
	    "proxy.backend=http://127.0.0.1:$backend_port" \
	    "admin.listen=127.0.0.1:0" \
	    "log.level=debug" \
	    "$@" <<'EOF' || hard_error "px_config: cannot write $file"
import sys

path, test, items = sys.argv[1], sys.argv[2], sys.argv[3:]
tree = {}
for item in items:
    key, sep, value = item.partition("=")
    if not sep:
        sys.exit("px_config: expected KEY=VALUE, got %r" % item)
    parts = key.split(".")
    node = tree
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    if value == "":
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def emit(node, depth, out):
    for k, v in node.items():
        if isinstance(v, dict):
            if v:
                out.append("%s%s:" % ("  " * depth, k))
                emit(v, depth + 1, out)
        else:
            out.append("%s%s: %s" % ("  " * depth, k, v))


lines = ["# written by %s (px_config)" % test]
emit(tree, 0, lines)
with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
	show_log "$file"
}

# px_bound_port LOG WHAT: the port of the line "WHAT listener bound to 127.0.0.1:PORT".
px_bound_port() {
	sed -n "s/.*$2 listener bound to 127\\.0\\.0\\.1:\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

px_start_revgate() {
	local config=$1 i
	shift
	px_revgate_n=$((px_revgate_n + 1))
	revgate_log="$work/revgate-$px_revgate_n.log"
	"$REVGATE" serve -c "$config" "$@" >"$revgate_log" 2>&1 </dev/null &
	revgate_pid=$!
	track "$revgate_pid"
	show_log "$revgate_log"
	revgate_port=
	admin_port=
	for ((i = 0; i < px_start_timeout * 10; i++)); do
		revgate_port=$(px_bound_port "$revgate_log" https)
		admin_port=$(px_bound_port "$revgate_log" admin)
		[ -n "$revgate_port" ] && [ -n "$admin_port" ] && break
		if ! alive "$revgate_pid"; then
			wait "$revgate_pid"
			die "revgate serve -c $config starts" "it exited with status $? before listening:
$(indent "$(cat "$revgate_log")")"
		fi
		sleep 0.1
	done
	[ -n "$revgate_port" ] && [ -n "$admin_port" ] ||
	    die "revgate serve -c $config starts" "no \"https listener bound to\" and \"admin \
listener bound to\" lines after $px_start_timeout s:
$(indent "$(cat "$revgate_log")")"
	rg_url="https://127.0.0.1:$revgate_port"
	pass "revgate listens on 127.0.0.1:$revgate_port (admin 127.0.0.1:$admin_port)"
}

# px_stop_revgate [SIGNAL] [SECONDS]: sends SIGNAL (TERM) and waits up to SECONDS (10) for the
# exit; rc is its exit status, or -1 if it is still running (then it gets SIGKILL).
px_stop_revgate() {
	local sig=${1:-TERM} limit=${2:-10}
	[ -n "$revgate_pid" ] || return 0
	kill -"$sig" "$revgate_pid" 2>/dev/null
	if ! wait_exit "$revgate_pid" "$limit"; then
		kill -KILL "$revgate_pid" 2>/dev/null
		wait "$revgate_pid" 2>/dev/null
		rc=-1
	fi
	revgate_pid=
}

px_curl_as() {
	local name=$1
	shift
	curl -sS --max-time "$px_curl_max_time" --cacert "$PKI_DIR/ca.pem" \
	    --cert "$PKI_DIR/$name.pem" --key "$PKI_DIR/$name.key" "$@"
}

px_curl() {
	px_curl_as alice "$@"
}

px_curl_anon() {
	curl -sS --max-time "$px_curl_max_time" --cacert "$PKI_DIR/ca.pem" "$@"
}

# px_client CMD ARG...: client.py CMD against revgate as alice. --no-cert leaves the client
# certificate out; a later --cert/--key wins over alice's.
px_client() {
	local cmd=$1 certs=(--cert "$PKI_DIR/alice.pem" --key "$PKI_DIR/alice.key") args=() a
	shift
	for a in "$@"; do
		if [ "$a" == --no-cert ]; then
			certs=()
		else
			args+=("$a")
		fi
	done
	"$px_python" "$px_dir/client.py" "$cmd" --port "$revgate_port" \
	    --cacert "$PKI_DIR/ca.pem" "${certs[@]}" "${args[@]}"
}

px_stats() {
	curl -sS --max-time 5 "http://127.0.0.1:${1:-$backend_port}/stats"
}

# px_stat KEY [PORT]: one counter of the backend's /stats ("requests", "paths./echo", ...).
px_stat() {
	px_stats "${2:-}" | "$px_python" -c '
import json, sys
d = json.load(sys.stdin)
for part in sys.argv[1].split(".", 1) if sys.argv[1].startswith("paths.") else [sys.argv[1]]:
    d = d.get(part, 0) if isinstance(d, dict) else 0
print(d)' "$1"
}

# px_json FILE EXPR: prints EXPR evaluated with d bound to the JSON in FILE (strings as they
# are, other values as JSON); prints nothing and fails when FILE is not JSON. For client.py
# output, b(I) is the body of response I parsed as JSON.
px_json() {
	"$px_python" -c '
import json, sys
def b(i):
    return json.loads(d["responses"][i]["body"])
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    v = eval(sys.argv[2])
except Exception as e:
    sys.stderr.write("px_json: %s: %s\n" % (sys.argv[1], e))
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# px_header FILE NAME: every value of request header NAME (any case) that the backend saw,
# from a /echo answer in FILE, one a line.
px_header() {
	"$px_python" -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
for n, v in d["headers"]:
    if n.lower() == sys.argv[2].lower():
        print(v)' "$1" "$2"
}

px_server_fingerprint() {
	local port=${1:-$revgate_port}
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI_DIR/ca.pem" \
	    -cert "$PKI_DIR/alice.pem" -key "$PKI_DIR/alice.key" </dev/null 2>/dev/null |
	    openssl x509 -noout -fingerprint -sha256 2>/dev/null |
	    sed 's/^[^=]*=//; s/://g' | tr A-F a-f
}

px_rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# px_rss_watch PID FILE: samples PID's RSS every 0.2 s (at most 10 minutes) into FILE as
# "max_kib"; px_rss_stop FILE ends it and prints the maximum.
px_rss_watch() {
	local pid=$1 file=$2
	rm -f "$file" "$file.stop"
	(
		max=0
		for ((i = 0; i < 3000; i++)); do
			[ -e "$file.stop" ] && break
			r=$(px_rss "$pid")
			[ -n "$r" ] || break
			# Atomically: the reader must never see a file truncated mid-write.
			[ "$r" -gt "$max" ] && max=$r && echo "$max" >"$file.tmp" &&
			    mv -f "$file.tmp" "$file"
			sleep 0.2
		done
	) &
	px_rss_watcher=$!
	track "$px_rss_watcher"
}

px_rss_stop() {
	touch "$1.stop"
	wait "$px_rss_watcher" 2>/dev/null
	cat "$1" 2>/dev/null || echo 0
}

# px_is_asan: the binary under test carries AddressSanitizer (whose quarantine inflates RSS).
px_is_asan() {
	grep -aq __asan_init "$REVGATE"
}

# assert_match WHAT TEXT REGEX: TEXT (as a whole; it may be empty) matches the extended
# regular expression REGEX.
assert_match() {
	if [[ $2 =~ $3 ]]; then
		pass "$1"
	else
		fail "$1" "expected to match: $3
got:
$(indent "$2")"
	fi
}

# assert_le WHAT NUMBER LIMIT / assert_ge WHAT NUMBER LIMIT: integer comparisons.
assert_le() {
	if [[ $2 =~ ^-?[0-9]+$ ]] && [ "$2" -le "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected at most $3, got \"$2\""
	fi
}

assert_ge() {
	if [[ $2 =~ ^-?[0-9]+$ ]] && [ "$2" -ge "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected at least $3, got \"$2\""
	fi
}

# assert_between WHAT SECONDS LOW HIGH: a decimal duration within [LOW, HIGH].
assert_between() {
	if awk -v t="$2" -v lo="$3" -v hi="$4" \
	    'BEGIN { exit !(t != "" && t + 0 >= lo && t + 0 <= hi) }'; then
		pass "$1"
	else
		fail "$1" "expected between $3 s and $4 s, got \"$2\""
	fi
}
