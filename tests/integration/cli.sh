# cli.sh - the command line as a user meets it: help, version, misuse, and -t as check-config.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

commands="serve check-config version cert help"

cat >good.yaml <<'EOF'
http:
  securePort: 9443
EOF

# --- help --------------------------------------------------------------------------------

for args in "--help" "-h" "help"; do
	run $args
	assert_exit 0
	assert_line "$cmd: usage line" "$out" "Usage: revgate [COMMAND] [OPTIONS]"
	for c in $commands; do
		assert_contains "$cmd: names the $c command" "$out" "  $c "
	done
	assert_contains "$cmd: explains the environment" "$out" "REVGATE_HTTP_SECUREPORT"
	assert_stderr ""
done

run help check-config
assert_exit 0
assert_line "$cmd: usage" "$out" "Usage: revgate check-config [-c FILE] [--set KEY=VALUE]... [--print-config]"
assert_line "$cmd: -t form" "$out" "       revgate -t [-c FILE]"
assert_contains "$cmd: message format" "$out" "FILE:LINE:COLUMN: KEY: message"
assert_contains "$cmd: --set" "$out" "-s, --set KEY=VALUE"
assert_stderr ""

run check-config --help
assert_exit 0
assert_line "$cmd: same help as help check-config" "$out" \
    "Usage: revgate check-config [-c FILE] [--set KEY=VALUE]... [--print-config]"

run help serve
assert_exit 0
assert_contains "$cmd: signals" "$out" "SIGHUP reloads the configuration"

run help version
assert_exit 0
assert_line "$cmd: usage" "$out" "Usage: revgate version"

run help chek-config
assert_exit 2
assert_stderr 'revgate: unknown command "chek-config" (did you mean check-config?); see revgate --help'
assert_stdout ""

# --- version -----------------------------------------------------------------------------

for args in "version" "--version" "-V"; do
	run $args
	assert_exit 0
	assert_eq "$cmd: one line per component, in order" "revgate OpenSSL libevent libcurl libyaml" \
	    "$(printf '%s\n' "$out" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }')"
	for lib in revgate OpenSSL libevent libcurl libyaml; do
		if printf '%s\n' "$out" | grep -Eq "^$lib [0-9][^ ]*\$"; then
			pass "$cmd: \"$lib VERSION\""
		else
			fail "$cmd: \"$lib VERSION\"" "expected a line \"$lib <version>\"; got:
$(indent "$out")"
		fi
	done
	assert_stderr ""
done

# --- misuse: exit 2 with one line that says what to do ------------------------------------

run chek-config
assert_exit 2
assert_stderr 'revgate: unknown command "chek-config" (did you mean check-config?); see revgate --help'
assert_stdout ""

run srve
assert_exit 2
assert_stderr 'revgate: unknown command "srve" (did you mean serve?); see revgate --help'

run frobnicate
assert_exit 2
assert_stderr 'revgate: unknown command "frobnicate"; see revgate --help'

run check-config --bogus
assert_exit 2
assert_stderr 'revgate: unknown option "--bogus"; see revgate --help'

run --bogus
assert_exit 2
assert_stderr 'revgate: unknown option "--bogus"; see revgate --help'

run check-config -x
assert_exit 2
assert_stderr 'revgate: unknown option "-x"; see revgate --help'

run check-config --set
assert_exit 2
assert_stderr 'revgate: option --set needs a value; see revgate --help'

run check-config -c
assert_exit 2
assert_stderr 'revgate: option -c needs a value; see revgate --help'

run check-config extra
assert_exit 2
assert_stderr 'revgate: unexpected argument "extra"; see revgate --help'

run check-config --syntax-only -c good.yaml --set nokey
assert_exit 1
assert_stderr 'command line: --set "nokey": expected KEY=VALUE, such as http.securePort=9443
revgate: configuration good.yaml has 1 error(s)'

# --- -t is check-config, nginx style ------------------------------------------------------

cat >bad.yaml <<'EOF'
http:
  securePort: 99999
EOF

run -t --syntax-only -c good.yaml
assert_exit 0
assert_stderr "revgate: configuration good.yaml is valid"
assert_stdout ""

run -c good.yaml -t --syntax-only
assert_exit 0
assert_stderr "revgate: configuration good.yaml is valid"

run --test --syntax-only --config good.yaml
assert_exit 0
assert_stderr "revgate: configuration good.yaml is valid"

run serve -t --syntax-only -c good.yaml
assert_exit 0
assert_stderr "revgate: configuration good.yaml is valid"

bad_stderr='bad.yaml:2:15: http.securePort: expected an integer from 0 to 65535, got "99999"
revgate: configuration bad.yaml has 1 error(s)'
run -t --syntax-only -c bad.yaml
assert_exit 1
assert_stderr "$bad_stderr"
t_err=$err
run check-config --syntax-only -c bad.yaml
assert_exit 1
assert_eq "-t and check-config report the same" "$t_err" "$err"

run -t --syntax-only -c missing.yaml
assert_exit 1
assert_stderr 'missing.yaml: cannot open configuration file: No such file or directory
revgate: configuration missing.yaml has 1 error(s)'
