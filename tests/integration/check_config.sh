# check_config.sh - revgate check-config as an operator uses it: exact FILE:LINE:COL messages,
# every error collected, the environment and --set overrides with their precedence, and
# --print-config output that check-config accepts again.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# --- a valid file ------------------------------------------------------------------------

cat >valid.yaml <<'EOF'
http:
  securePort: 9000
  mtls:
    required: true
    certificateVerification:
      failureMode: fail-closed
proxy:
  backend: http://127.0.0.1:9001
EOF

run check-config --syntax-only -c valid.yaml
assert_exit 0
assert_stderr "revgate: configuration valid.yaml is valid"
assert_stdout ""

# --- every error of a broken file, in file order, then the count --------------------------

cat >broken.yaml <<'EOF'
# every setting below is wrong in its own way
securePort: 8443
http:
  securePort: 70000
  securPort: 8443
  threads: [1, 2]
  mtls:
    required: yes
    certificateVerification:
      failureMode: fail-closd
      ocsp:
        timeout: eight
log:
  level: verbose
  level: info
EOF

run check-config --syntax-only -c broken.yaml
assert_exit 1
assert_stderr 'broken.yaml:2:1: securePort: unknown key; did you mean http.securePort?
broken.yaml:4:15: http.securePort: expected an integer from 0 to 65535, got "70000"
broken.yaml:5:3: http.securPort: unknown key; did you mean securePort?
broken.yaml:6:12: http.threads: expected a single value, got a list
broken.yaml:8:15: http.mtls.required: expected true or false, got "yes"
broken.yaml:10:20: http.mtls.certificateVerification.failureMode: expected one of fail-closed, fail-open, got "fail-closd"; did you mean fail-closed?
broken.yaml:12:18: http.mtls.certificateVerification.ocsp.timeout: expected milliseconds or a duration such as 15s or 12h, got "eight"
broken.yaml:14:10: log.level: expected one of error, warn, info, debug, got "verbose"
broken.yaml:15:3: log.level: duplicate key (first set at line 14); remove one of them
revgate: configuration broken.yaml has 9 error(s)'
assert_stdout ""

run check-config --syntax-only -c broken.yaml --print-config
assert_exit 1
assert_stdout ""

# The README's example: environment errors come first, then the file's.
cat >readme.yaml <<'EOF'
http:
  securPort: 8443
  mtls:
    certificateVerification:
      ocsp:
        timeout: eight
EOF
run REVGATE_HTTP_SECURPORT=1 check-config --syntax-only -c readme.yaml
assert_exit 1
assert_stderr 'environment: REVGATE_HTTP_SECURPORT: unknown setting; did you mean REVGATE_HTTP_SECUREPORT?
readme.yaml:2:3: http.securPort: unknown key; did you mean securePort?
readme.yaml:6:18: http.mtls.certificateVerification.ocsp.timeout: expected milliseconds or a duration such as 15s or 12h, got "eight"
revgate: configuration readme.yaml has 3 error(s)'

# Contradictions are errors too; unsafe but legal settings are warnings and exit 0.
cat >contradiction.yaml <<'EOF'
http:
  mtls:
    certificateVerification:
      crl: false
      ocsp: false
EOF
run check-config --syntax-only -c contradiction.yaml
assert_exit 1
assert_stderr 'contradiction.yaml:3:5: http.mtls.certificateVerification: both crl and ocsp are disabled, so no certificate could ever be checked; enable one of them, or set certificateVerification: false
revgate: configuration contradiction.yaml has 1 error(s)'

cat >failopen.yaml <<'EOF'
http:
  mtls:
    certificateVerification:
      failureMode: fail-open
EOF
run check-config --syntax-only -c failopen.yaml
assert_exit 0
assert_stderr 'warning: failopen.yaml:4:20: http.mtls.certificateVerification.failureMode: fail-open admits a client whose revocation status cannot be determined
revgate: configuration failopen.yaml is valid'

# --- YAML syntax errors carry file:line:col -----------------------------------------------

printf 'http: securePort: 8443\n' >syntax.yaml
run check-config --syntax-only -c syntax.yaml
assert_exit 1
assert_stderr 'syntax.yaml:1:17: YAML syntax error: mapping values are not allowed in this context
revgate: configuration syntax.yaml has 1 error(s)'

printf 'http:\n\tsecurePort: 8443\n' >tab.yaml
run check-config --syntax-only -c tab.yaml
assert_exit 1
assert_stderr 'tab.yaml:2:1: YAML syntax error: found character that cannot start any token while scanning for the next token
revgate: configuration tab.yaml has 1 error(s)'

run check-config --syntax-only -c does-not-exist.yaml
assert_exit 1
assert_stderr 'does-not-exist.yaml: cannot open configuration file: No such file or directory
revgate: configuration does-not-exist.yaml has 1 error(s)'

# --- environment and --set: --set beats environment beats file beats default -------------

cat >port.yaml <<'EOF'
http:
  securePort: 9000
EOF

run check-config --syntax-only -c port.yaml --print-config
assert_exit 0
assert_line "file value and its origin" "$out" "  securePort: 9000  # port.yaml:2:15"
assert_line "untouched key: default" "$out" "  threads: auto  # default"

run REVGATE_HTTP_SECUREPORT=9443 check-config --syntax-only -c port.yaml --print-config
assert_exit 0
assert_line "environment beats file" "$out" \
    "  securePort: 9443  # environment REVGATE_HTTP_SECUREPORT"
assert_stderr "revgate: configuration port.yaml is valid"

run REVGATE_HTTP_SECUREPORT=9443 check-config --syntax-only -c port.yaml --print-config \
    --set http.securePort=9555
assert_exit 0
assert_line "--set beats environment" "$out" \
    "  securePort: 9555  # command line --set http.securePort"

run check-config --syntax-only -c port.yaml --print-config -s http.securePort=9555 -s http.securePort=9556
assert_exit 0
assert_line "the last --set wins" "$out" \
    "  securePort: 9556  # command line --set http.securePort"

: >empty.yaml
run REVGATE_HTTP_SECUREPORT=9443 check-config --syntax-only -c empty.yaml --print-config
assert_exit 0
assert_line "environment beats default" "$out" \
    "  securePort: 9443  # environment REVGATE_HTTP_SECUREPORT"

run 'REVGATE_HTTP_HOST=127.0.0.1, ::1' check-config --syntax-only -c port.yaml --print-config
assert_exit 0
assert_line "a list from the environment is comma-separated" "$out" \
    '  host: ["127.0.0.1", "::1"]  # environment REVGATE_HTTP_HOST'

run REVGATE_TLS_PRIVATEKEYPASSWORD=hunter2 check-config --syntax-only -c port.yaml --print-config
assert_exit 0
assert_line "secrets are printed redacted" "$out" \
    '  privateKeyPassword: "(redacted)"  # environment REVGATE_TLS_PRIVATEKEYPASSWORD'
assert_not_contains "the secret itself is never printed" "$out$err" "hunter2"

# Mistakes in overrides are reported with where they came from.
run REVGATE_HTTP_SECURPORT=9443 check-config --syntax-only -c port.yaml
assert_exit 1
assert_stderr 'environment: REVGATE_HTTP_SECURPORT: unknown setting; did you mean REVGATE_HTTP_SECUREPORT?
revgate: configuration port.yaml has 1 error(s)'

run REVGATE_HTTP_SECUREPORT=abc check-config --syntax-only -c port.yaml
assert_exit 1
assert_stderr 'environment REVGATE_HTTP_SECUREPORT: http.securePort: expected an integer from 0 to 65535, got "abc"
revgate: configuration port.yaml has 1 error(s)'

run check-config --syntax-only -c port.yaml --set http.securPort=1 --set http=1
assert_exit 1
assert_stderr 'command line: http.securPort: unknown key; did you mean securePort?
command line: http: is a section; set one of its keys
revgate: configuration port.yaml has 2 error(s)'

# --- durations -------------------------------------------------------------------------------

cat >durations.yaml <<'EOF'
http:
  mtls:
    certificateVerification:
      crl:
        timeout: 1500
        cacheTtl: 12h
        gracePeriod: 1h30m
      ocsp:
        cacheTtl: 86400000
EOF
run check-config --syntax-only -c durations.yaml --print-config
assert_exit 0
assert_line "milliseconds that are no whole second" "$out" "        timeout: 1500ms  # durations.yaml:5:18"
assert_line "\"12h\" stays 12h" "$out" "        cacheTtl: 12h  # durations.yaml:6:19"
assert_line "\"1h30m\" is 90m" "$out" "        gracePeriod: 90m  # durations.yaml:7:22"
assert_line "86400000 ms is 1d" "$out" "        cacheTtl: 1d  # durations.yaml:9:19"

cat >toolong.yaml <<'EOF'
http:
  mtls:
    certificateVerification:
      ocsp:
        cacheTtl: 8d
EOF
run check-config --syntax-only -c toolong.yaml
assert_exit 1
assert_stderr 'toolong.yaml:5:19: http.mtls.certificateVerification.ocsp.cacheTtl: expected a duration from 1s to 7d, got "8d"
revgate: configuration toolong.yaml has 1 error(s)'

# --- paths: "~" is $HOME, relative paths are relative to the file -----------------------

cat >home.yaml <<'EOF'
rootPath: ~/state
log:
  file: ~/logs/revgate.log
EOF
run HOME="$work" check-config --syntax-only -c home.yaml --print-config
assert_exit 0
assert_line "~ expands to HOME" "$out" "rootPath: \"$work/state\"  # home.yaml:1:11"
assert_line "~ in log.file" "$out" "  file: \"$work/logs/revgate.log\"  # home.yaml:3:9"
assert_line "tls paths derive from the expanded rootPath" "$out" \
    "  certificate: \"$work/state/keys/certificate.pem\"  # default (rootPath/keys)"

run --unset=HOME check-config --syntax-only -c home.yaml
assert_exit 1
assert_stderr 'home.yaml:1:11: rootPath: cannot expand "~" in "~/state": HOME is not set; write an absolute path
home.yaml:3:9: log.file: cannot expand "~" in "~/logs/revgate.log": HOME is not set; write an absolute path
revgate: configuration home.yaml has 2 error(s)'

printf 'log:\n  file: ~bob/revgate.log\n' >tilde-user.yaml
run check-config --syntax-only -c tilde-user.yaml
assert_exit 1
assert_stderr 'tilde-user.yaml:2:9: log.file: "~user" paths are not supported, got "~bob/revgate.log"; write an absolute path
revgate: configuration tilde-user.yaml has 1 error(s)'

mkdir sub
printf 'log:\n  file: logs/revgate.log\n' >sub/relative.yaml
run check-config --syntax-only -c "$work/sub/relative.yaml" --print-config
assert_exit 0
assert_line "a relative path is relative to the file" "$out" \
    "  file: \"$work/sub/logs/revgate.log\"  # $work/sub/relative.yaml:2:9"

# --- --print-config output is a configuration that means the same -------------------------

cat >rich.yaml <<'EOF'
rootPath: /srv/revgate
http:
  host: [127.0.0.1, "::1"]
  securePort: 0
  threads: 4
  maxHeaderSize: 32KiB
  mtls:
    certificateVerification:
      scope: chain
      crl:
        timeout: 1500
        gracePeriod: 12h
        files: [crl/a.pem, /etc/revgate/b.crl]
      ocsp:
        responder: http://127.0.0.1:8888/ocsp
        nonce: false
tls:
  ciphersuites: TLS_AES_128_GCM_SHA256
proxy:
  backend: [http://127.0.0.1:9001, "http://[::1]:9002/"]
  headers:
    subject: X-Subject
admin: false
log:
  level: debug
  access: false
EOF
run REVGATE_TLS_MINVERSION=TLSv1.3 check-config --syntax-only -c "$work/rich.yaml" --print-config \
    --set proxy.keepalive=8
assert_exit 0
assert_line "print: header names the source" "$out" \
    "# effective configuration of revgate $("$REVGATE" version | sed -n 's/^revgate //p') (source: $work/rich.yaml)"
printf '%s\n' "$out" >printed.yaml
first=$out

run check-config --syntax-only -c "$work/printed.yaml"
assert_exit 0
assert_stderr "revgate: configuration $work/printed.yaml is valid"

run check-config --syntax-only -c "$work/printed.yaml" --print-config
assert_exit 0
assert_eq "round trip: the printed configuration means the same" \
    "$(printf '%s\n' "$first" | strip_origins)" "$(printf '%s\n' "$out" | strip_origins)"
assert_line "round trip: values now come from the printed file" "$out" \
    "  keepalive: 8  # $work/printed.yaml:$(grep -n '^  keepalive:' printed.yaml | cut -d: -f1):14"
