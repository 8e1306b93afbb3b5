# serve_signals.sh - revgate serve under a process supervisor: it refuses a bad configuration,
# reopens its log on SIGUSR1, reloads on SIGHUP (keeping the running configuration when the
# new one is invalid) and exits 0 on SIGTERM and SIGINT.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/integration/pki.sh"

# Serving needs a certificate and free ports; the files below stay about logging and signals.
pki_init "$work/pki" && pki_server || hard_error "cannot create the test PKI"
export REVGATE_TLS_CERTIFICATE="$work/pki/server.pem"
export REVGATE_TLS_PRIVATEKEY="$work/pki/server.key"
export REVGATE_TLS_CERTIFICATEAUTHORITY="$work/pki/ca.pem"
export REVGATE_HTTP_HOST=127.0.0.1 REVGATE_HTTP_SECUREPORT=0 REVGATE_HTTP_THREADS=2
export REVGATE_ADMIN_LISTEN=127.0.0.1:0 REVGATE_LOG_ACCESS=false

log_line='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z revgate\[[0-9]+\]: (error|warn|info|debug): '

# --- serve refuses to start on an invalid configuration ------------------------------------

cat >invalid.yaml <<'EOF'
http:
  securePort: eighty
EOF
run --unset=REVGATE_HTTP_SECUREPORT serve -c "$work/invalid.yaml"
assert_exit 1
assert_stderr "$work/invalid.yaml:2:15: http.securePort: expected an integer from 0 to 65535, got \"eighty\"
revgate: configuration $work/invalid.yaml has 1 error(s)"
assert_stdout ""

cat >nologdir.yaml <<'EOF'
log:
  file: no-such-dir/revgate.log
EOF
run serve -c "$work/nologdir.yaml"
assert_exit 1
assert_contains "$cmd: says why the log cannot be opened" "$err" \
    "error: log.file: cannot open \"$work/no-such-dir/revgate.log\": No such file or directory; check the directory exists and is writable"
assert_not_contains "$cmd: never starts" "$err" "started"

# --- a running server: SIGUSR1, SIGHUP, SIGTERM ------------------------------------------

write_config() {	# write_config LEVEL LOGFILE
	printf 'log:\n  file: %s\n  level: %s\n' "$2" "$1" >serve.yaml
}
write_config info revgate.log
show_log "$work/revgate.log"
show_log "$work/revgate.log.1"
show_log "$work/revgate2.log"

start_revgate serve serve -c "$work/serve.yaml"
pid=$server_pid
wait_for_log revgate.log "started (configuration: $work/serve.yaml, pid $pid)" "$pid" ||
    die "revgate serve did not start"
if grep -Eq "$log_line" revgate.log; then
	pass "log lines carry time, pid and level"
else
	fail "log lines carry time, pid and level" "expected lines matching $log_line; got:
$(indent "$(cat revgate.log)")"
fi

# SIGUSR1 after logrotate moved the file: a new file is created and written.
mv revgate.log revgate.log.1
kill -USR1 "$pid"
wait_for_log revgate.log "info: SIGUSR1: log file reopened" "$pid"
alive "$pid" && pass "alive after SIGUSR1" || die "revgate exited on SIGUSR1"

# SIGHUP with an invalid file: the errors are logged and the running configuration kept.
write_config verbose revgate.log
kill -HUP "$pid"
wait_for_log revgate.log "keeping the running configuration" "$pid"
log=$(cat revgate.log)
assert_contains "reload names the file" "$log" \
    "info: SIGHUP: reloading configuration from $work/serve.yaml"
assert_contains "reload logs the error with its position" "$log" \
    "error: $work/serve.yaml:3:10: log.level: expected one of error, warn, info, debug, got \"verbose\""
assert_contains "reload logs the verdict" "$log" \
    "error: configuration reload failed with 1 error(s); keeping the running configuration"
alive "$pid" && pass "alive after a SIGHUP with an invalid file" ||
    die "revgate exited on a SIGHUP with an invalid file"

# SIGHUP with a valid file whose log cannot be opened: also rejected, the old log kept.
write_config info no-such-dir/revgate.log
kill -HUP "$pid"
wait_for_log revgate.log "configuration reload failed; keeping the running configuration" "$pid"
assert_contains "unopenable log.file on reload is named" "$(cat revgate.log)" \
    "error: log.file: cannot open \"$work/no-such-dir/revgate.log\": No such file or directory"
alive "$pid" && pass "alive after a SIGHUP with an unopenable log file" ||
    die "revgate exited on a SIGHUP with an unopenable log file"

# SIGHUP with a valid edit: it takes effect (here: the log moves to another file).
write_config debug revgate2.log
kill -HUP "$pid"
wait_for_log revgate2.log "info: configuration reloaded" "$pid"
assert_not_contains "the old log is no longer written after the reload" "$(cat revgate.log)" \
    "configuration reloaded"

# SIGTERM: a clean exit with status 0, bounded in time.
kill -TERM "$pid"
if wait_exit "$pid" 5; then
	assert_eq "exit status after SIGTERM" 0 "$rc"
else
	fail "exits within 5 s of SIGTERM" "still running"
fi
log=$(cat revgate2.log)
assert_contains "SIGTERM is logged" "$log" "info: SIGTERM: shutting down"
assert_contains "the stop is logged" "$log" "info: stopped"
assert_eq "after SIGUSR1 the rotated file got nothing more: it ends with the start line" \
    "started" "$(tail -n 1 revgate.log.1 | grep -o 'started')"
assert_eq "nothing on stderr when log.file is set" "" "$(cat serve.stderr)"
assert_eq "nothing on stdout" "" "$(cat serve.stdout)"

# --- SIGINT, logging to stderr, with a start-up warning ----------------------------------

cat >stderr.yaml <<'EOF'
http:
  mtls:
    certificateVerification:
      enabled: false
      failureMode: fail-open
EOF
start_revgate stderr serve -c "$work/stderr.yaml"
pid=$server_pid
wait_for_log stderr.stderr "started (configuration: $work/stderr.yaml, pid $pid)" "$pid" ||
    die "revgate serve (logging to stderr) did not start"
assert_eq "the first stderr line is the configuration warning" \
    "warning: $work/stderr.yaml:5:7: http.mtls.certificateVerification: is disabled (enabled: false), so its other settings, such as failureMode, have no effect" \
    "$(head -n 1 stderr.stderr)"
kill -INT "$pid"
if wait_exit "$pid" 5; then
	assert_eq "exit status after SIGINT" 0 "$rc"
else
	fail "exits within 5 s of SIGINT" "still running"
fi
assert_contains "SIGINT is logged" "$(cat stderr.stderr)" "info: SIGINT: shutting down"

# --- --set overrides outlive a reload ----------------------------------------------------

printf 'log:\n  file: from-file.log\n' >override.yaml
show_log "$work/from-set.log"
show_log "$work/from-file.log"
start_revgate override serve -c "$work/override.yaml" --set "log.file=$work/from-set.log"
pid=$server_pid
wait_for_log from-set.log "started (configuration: $work/override.yaml" "$pid" ||
    die "revgate serve --set log.file=... did not start"
kill -HUP "$pid"
wait_for_log from-set.log "info: configuration reloaded" "$pid"
assert_eq "the file's log.file stays overridden after SIGHUP" "no" \
    "$([ -e from-file.log ] && echo yes || echo no)"
kill -TERM "$pid"
if wait_exit "$pid" 5; then
	assert_eq "exit status after SIGTERM" 0 "$rc"
else
	fail "exits within 5 s of SIGTERM" "still running"
fi
