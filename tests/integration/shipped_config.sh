# shipped_config.sh - the example configuration that make install puts in place is valid as
# shipped, says what its comments say, and survives a --print-config round trip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

[ -n "${TOP_SRCDIR:-}" ] || hard_error "TOP_SRCDIR is not set; run through make check"
shipped=$TOP_SRCDIR/conf/revgate.yaml
[ -f "$shipped" ] || hard_error "$shipped does not exist"

run check-config --syntax-only -c "$shipped"
assert_exit 0
assert_stderr "revgate: configuration $shipped is valid"
assert_stdout ""

run -t --syntax-only -c "$shipped"
assert_exit 0
assert_stderr "revgate: configuration $shipped is valid"

run check-config --syntax-only -c "$shipped" --print-config
assert_exit 0
first=$out
# A few values its comments promise, read back as the effective configuration.
line_of() {	# line_of REGEX: the line number of the first line of the shipped file matching REGEX
	grep -En "$1" "$shipped" | head -n 1 | cut -d: -f1
}
assert_line "securePort comes from the file" "$out" \
    "  securePort: 8443  # $shipped:$(line_of '^  securePort:'):15"
assert_line "revocation checking stays off while the shipped file keeps it commented out" \
    "$out" "    certificateVerification: false  # default"
assert_line "logs go to stderr by default" "$out" "  file: ~  # default"

printf '%s\n' "$out" >printed.yaml
run check-config --syntax-only -c "$work/printed.yaml"
assert_exit 0
assert_stderr "revgate: configuration $work/printed.yaml is valid"

run check-config --syntax-only -c "$work/printed.yaml" --print-config
assert_exit 0
assert_eq "round trip: the printed configuration means the same" \
    "$(printf '%s\n' "$first" | strip_origins)" "$(printf '%s\n' "$out" | strip_origins)"
