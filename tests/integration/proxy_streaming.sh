#!/bin/sh
# proxy_streaming.sh - bodies are streamed, never buffered whole: a 2 GiB upload and a 2 GiB
# download arrive intact while revgate's resident memory stays small, also when the client
# reads slowly (backpressure), and with chunked bodies both ways.
#
# PX_BIG_BYTES (default 2 GiB) sets the size of the big transfers, PX_RSS_LIMIT_KB the memory
# bound (default 64 MiB; 512 MiB for an AddressSanitizer build, whose quarantine keeps freed
# buffers resident).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/proxylib.sh"
set -o pipefail

big=${PX_BIG_BYTES:-2147483648}
chunked_big=$((256 * 1024 * 1024))
slow_bytes=$((192 * 1024 * 1024))
max_time=900
if px_is_asan; then
	# AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) and adds
	# shadow memory: shrink the quarantine so RSS still shows whether revgate's own buffers
	# stay bounded, and allow for the sanitizer's overhead.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
	rss_limit=${PX_RSS_LIMIT_KB:-131072}
	echo "note: $REVGATE is built with AddressSanitizer; RSS bound ${rss_limit} KiB"
else
	rss_limit=${PX_RSS_LIMIT_KB:-65536}
fi
command -v sha256sum >/dev/null 2>&1 || px_skip "sha256sum is not installed"
command -v truncate >/dev/null 2>&1 || px_skip "truncate is not installed"

px_setup
# Bodies larger than the 1 GiB default of http.maxBodySize must be allowed for the upload.
px_config "$work/revgate.yaml" http.maxBodySize=8GiB
px_start_revgate "$work/revgate.yaml"
[ -r "/proc/$revgate_pid/status" ] || px_skip "no /proc/PID/status to read RSS from"

# rss_check WHAT: the maximum RSS seen since px_rss_watch stays under the bound.
rss_check() {
	local max
	max=$(px_rss_stop "$work/rss")
	echo "note: $1: revgate's maximum RSS was $max KiB"
	assert_le "$1: revgate's RSS stays under $rss_limit KiB" "$max" "$rss_limit"
}

# --- 2 GiB download
"$px_python" "$px_dir/backend.py" --pattern-sha256 "$big" >"$work/download.want" &
hasher=$!
track "$hasher"
px_rss_watch "$revgate_pid" "$work/rss"
got=$(px_curl --max-time "$max_time" -w '%{stderr}%{http_code} %{size_download}\n' \
    "$rg_url/download?bytes=$big" 2>"$work/download.err" | sha256sum | cut -d' ' -f1)
rss_check "$big-byte download"
wait "$hasher"
assert_eq "a $big-byte download: 200 and every byte" "200 $big" \
    "$(tail -n 1 "$work/download.err")"
assert_eq "the $big-byte download arrives intact (SHA-256)" "$(cat "$work/download.want")" "$got"

# --- 2 GiB upload with Content-Length (a sparse file: no disk space needed)
truncate -s "$big" "$work/zeros.bin" || hard_error "cannot create a sparse $big-byte file"
sha256sum <"$work/zeros.bin" | cut -d' ' -f1 >"$work/upload.want" &
hasher=$!
track "$hasher"
px_rss_watch "$revgate_pid" "$work/rss"
code=$(px_curl --max-time "$max_time" -o "$work/upload.json" -w '%{http_code}' \
    -T "$work/zeros.bin" "$rg_url/upload")
rss_check "$big-byte upload"
wait "$hasher"
assert_eq "a $big-byte upload gets 200" 200 "$code"
assert_eq "the backend receives all $big bytes intact" "$big $(cat "$work/upload.want")" \
    "$(px_json "$work/upload.json" '"%d %s" % (d["length"], d["sha256"])')"
rm -f "$work/zeros.bin"

# --- chunked upload from a pipe
want=$(head -c "$chunked_big" /dev/zero | sha256sum | cut -d' ' -f1)
px_rss_watch "$revgate_pid" "$work/rss"
code=$(head -c "$chunked_big" /dev/zero | px_curl --max-time "$max_time" \
    -o "$work/chunked-up.json" -w '%{http_code}' -H 'Transfer-Encoding: chunked' -T - \
    "$rg_url/upload")
rss_check "$chunked_big-byte chunked upload"
assert_eq "a $chunked_big-byte chunked upload gets 200" 200 "$code"
assert_eq "the chunked upload arrives intact" "$chunked_big $want true" \
    "$(px_json "$work/chunked-up.json" \
    '"%d %s %s" % (d["length"], d["sha256"], str(d["chunked"]).lower())')"

# --- chunked download
chunks=$((chunked_big / 65536))
px_rss_watch "$revgate_pid" "$work/rss"
got=$(px_curl --max-time "$max_time" "$rg_url/chunked?chunks=$chunks&size=65536" |
    sha256sum | cut -d' ' -f1)
rss_check "$chunked_big-byte chunked download"
assert_eq "the chunked download arrives intact" \
    "$("$px_python" "$px_dir/backend.py" --pattern-sha256 "$chunked_big")" "$got"

# --- a slow reader: the backend is much faster, so only backpressure keeps memory small
px_rss_watch "$revgate_pid" "$work/rss"
got=$(px_curl --max-time "$max_time" --limit-rate 48M "$rg_url/download?bytes=$slow_bytes" |
    sha256sum | cut -d' ' -f1)
rss_check "a $slow_bytes-byte download read at 48 MB/s"
assert_eq "the slowly read download arrives intact" \
    "$("$px_python" "$px_dir/backend.py" --pattern-sha256 "$slow_bytes")" "$got"

rss=$(px_rss "$revgate_pid")
assert_le "after the transfers revgate's RSS is under $rss_limit KiB" "$rss" "$rss_limit"
code=$(px_curl -o /dev/null -w '%{http_code}' "$rg_url/echo")
assert_eq "revgate still answers after the big transfers" 200 "$code"
px_stop_revgate
assert_eq "revgate exits 0 on SIGTERM" 0 "$rc"
