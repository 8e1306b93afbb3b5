#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Loads YAML named "revgate.yaml" with an optional environment and --set list. */
static struct conf *
load_with(const char *yaml, char *const *envp, const char *const *sets, struct conf_diag *diag)
{
	struct conf_overrides ov = { 0, (char **)sets };

	while (sets != NULL && sets[ov.n] != NULL)
		ov.n++;
	memset(diag, 0, sizeof(*diag));
	return conf_load_buffer("revgate.yaml", yaml, strlen(yaml), envp, &ov, diag);
}

/* Loads YAML that must be valid and warning-free. */
static struct conf *
load_ok(const char *yaml)
{
	struct conf_diag diag;
	struct conf *cfg = load_with(yaml, NULL, NULL, &diag);

	ck_assert_msg(cfg != NULL, "load failed: %s",
	    diag.errors.n > 0 ? diag.errors.v[0] : "(no message)");
	ck_assert_msg(diag.warnings.n == 0, "unexpected warning: %s",
	    diag.warnings.n > 0 ? diag.warnings.v[0] : "");
	conf_diag_clear(&diag);
	return cfg;
}

/* Loading must fail with exactly one error, EXPECTED, and no configuration. */
static void
assert_error_with(const char *yaml, char *const *envp, const char *const *sets,
    const char *expected)
{
	struct conf_diag diag;
	struct conf *cfg = load_with(yaml, envp, sets, &diag);

	ck_assert_ptr_null(cfg);
	ck_assert_msg(diag.errors.n == 1, "expected 1 error, got %zu (first: %s)",
	    diag.errors.n, diag.errors.n > 0 ? diag.errors.v[0] : "none");
	ck_assert_str_eq(diag.errors.v[0], expected);
	conf_diag_clear(&diag);
}

static void
assert_error(const char *yaml, const char *expected)
{
	assert_error_with(yaml, NULL, NULL, expected);
}

/* Loading succeeds with exactly one warning, EXPECTED. */
static void
assert_warning_with(const char *yaml, const char *const *sets, const char *expected)
{
	struct conf_diag diag;
	struct conf *cfg = load_with(yaml, NULL, sets, &diag);

	ck_assert_msg(cfg != NULL, "load failed: %s",
	    diag.errors.n > 0 ? diag.errors.v[0] : "(no message)");
	ck_assert_uint_eq(diag.warnings.n, 1);
	ck_assert_str_eq(diag.warnings.v[0], expected);
	conf_diag_clear(&diag);
	conf_free(cfg);
}

/* --- defaults ---------------------------------------------------------------------------- */

START_TEST(empty_file_yields_documented_defaults)
{
	struct conf *cfg = load_ok("");
	const struct conf_verification *v = &cfg->http.mtls.verification;

	ck_assert_str_eq(cfg->root_path, "/var/lib/revgate");
	ck_assert_uint_eq(cfg->http.hosts.n, 1);
	ck_assert_str_eq(cfg->http.hosts.v[0], "0.0.0.0");
	ck_assert_int_eq(cfg->http.secure_port, 8443);
	ck_assert_int_eq(cfg->http.threads, 0);
	ck_assert(cfg->http.mtls.enabled);
	ck_assert(cfg->http.mtls.required);
	ck_assert(!v->enabled);
	ck_assert_int_eq(v->failure_mode, CONF_FAIL_CLOSED);
	ck_assert_int_eq(v->scope, CONF_SCOPE_LEAF);
	ck_assert(v->crl.enabled);
	ck_assert_int_eq(v->crl.timeout_ms, 10000);
	ck_assert_int_eq(v->crl.cache_ttl_ms, 24 * 3600 * 1000);
	ck_assert_int_eq(v->crl.grace_period_ms, 24 * 3600 * 1000);
	ck_assert_uint_eq(v->crl.files.n, 0);
	ck_assert(v->ocsp.enabled);
	ck_assert_int_eq(v->ocsp.timeout_ms, 5000);
	ck_assert_int_eq(v->ocsp.cache_ttl_ms, 3600 * 1000);
	ck_assert_int_eq(v->ocsp.error_cache_ttl_ms, 300 * 1000);
	ck_assert_ptr_null(v->ocsp.responder);
	ck_assert(v->ocsp.nonce);
	ck_assert_str_eq(cfg->tls.certificate, "/var/lib/revgate/keys/certificate.pem");
	ck_assert_str_eq(cfg->tls.private_key, "/var/lib/revgate/keys/privateKey.pem");
	ck_assert_str_eq(cfg->tls.certificate_authority, "/var/lib/revgate/keys/ca.pem");
	ck_assert_uint_eq(cfg->proxy.backends.n, 1);
	ck_assert_str_eq(cfg->proxy.backends.v[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->proxy.backends.v[0].port, 9925);
	ck_assert(cfg->admin.enabled);
	ck_assert_str_eq(cfg->admin.listen.v[0].host, "127.0.0.1");
	ck_assert_int_eq(cfg->admin.listen.v[0].port, 9926);
	ck_assert_int_eq(cfg->log.level, LOG_LEVEL_INFO);
	ck_assert_ptr_null(cfg->log.file);
	conf_free(cfg);
}
END_TEST

START_TEST(certificate_verification_true_takes_harperdb_defaults)
{
	struct conf *cfg = load_ok("http:\n  mtls:\n    certificateVerification: true\n");

	ck_assert(cfg->http.mtls.verification.enabled);
	ck_assert(cfg->http.mtls.verification.crl.enabled);
	ck_assert(cfg->http.mtls.verification.ocsp.enabled);
	ck_assert_int_eq(cfg->http.mtls.verification.failure_mode, CONF_FAIL_CLOSED);
	conf_free(cfg);
}
END_TEST

START_TEST(harperdb_production_example_loads)
{
	struct conf *cfg = load_ok(
	    "http:\n"
	    "  mtls:\n"
	    "    required: true\n"
	    "    certificateVerification:\n"
	    "      failureMode: fail-closed\n"
	    "      crl:\n"
	    "        timeout: 15000\n"
	    "        cacheTtl: 43200000\n"
	    "      ocsp:\n"
	    "        timeout: 8000\n"
	    "        cacheTtl: 7200000\n");
	const struct conf_verification *v = &cfg->http.mtls.verification;

	ck_assert(v->enabled);
	ck_assert_int_eq(v->crl.timeout_ms, 15000);
	ck_assert_int_eq(v->crl.cache_ttl_ms, 43200000);
	ck_assert_int_eq(v->ocsp.timeout_ms, 8000);
	ck_assert_int_eq(v->ocsp.cache_ttl_ms, 7200000);
	ck_assert_int_eq(v->ocsp.error_cache_ttl_ms, 300000);
	conf_free(cfg);
}
END_TEST

START_TEST(mtls_accepts_a_boolean)
{
	struct conf *cfg = load_ok("http:\n  mtls: false\n");

	ck_assert(!cfg->http.mtls.enabled);
	conf_free(cfg);
	cfg = load_ok("http:\n  mtls: true\n");
	ck_assert(cfg->http.mtls.enabled);
	ck_assert(cfg->http.mtls.required);
	conf_free(cfg);
}
END_TEST

START_TEST(a_section_mapping_turns_its_toggle_on)
{
	struct conf *cfg = load_ok(
	    "http:\n  mtls:\n    certificateVerification:\n      scope: chain\n");

	ck_assert(cfg->http.mtls.verification.enabled);
	ck_assert_int_eq(cfg->http.mtls.verification.scope, CONF_SCOPE_CHAIN);
	conf_free(cfg);
}
END_TEST

START_TEST(null_values_keep_the_default)
{
	struct conf *cfg = load_ok("http:\n  securePort: ~\n  threads:\ntls:\n  certificate: null\n");

	ck_assert_int_eq(cfg->http.secure_port, 8443);
	ck_assert_str_eq(cfg->tls.certificate, "/var/lib/revgate/keys/certificate.pem");
	conf_free(cfg);
}
END_TEST

/* --- values ------------------------------------------------------------------------------ */

START_TEST(durations_accept_milliseconds_and_units)
{
	struct conf *cfg = load_ok(
	    "http:\n  mtls:\n    certificateVerification:\n"
	    "      crl: {timeout: 15s, cacheTtl: 12h, gracePeriod: 1h30m}\n"
	    "      ocsp: {timeout: 250ms, errorCacheTtl: 0}\n");
	const struct conf_verification *v = &cfg->http.mtls.verification;

	ck_assert_int_eq(v->crl.timeout_ms, 15000);
	ck_assert_int_eq(v->crl.cache_ttl_ms, 43200000);
	ck_assert_int_eq(v->crl.grace_period_ms, 5400000);
	ck_assert_int_eq(v->ocsp.timeout_ms, 250);
	ck_assert_int_eq(v->ocsp.error_cache_ttl_ms, 0);
	conf_free(cfg);
}
END_TEST

START_TEST(hosts_and_backends_take_one_value_or_a_list)
{
	struct conf *cfg = load_ok(
	    "http:\n  host: [127.0.0.1, \"::1\", localhost]\n  threads: 3\n"
	    "proxy:\n  backend:\n    - http://10.0.0.1:9925\n    - http://[::1]:8080/\n"
	    "    - http://db.internal\n"
	    "admin:\n  listen: \"[::1]:0\"\n");

	ck_assert_uint_eq(cfg->http.hosts.n, 3);
	ck_assert_str_eq(cfg->http.hosts.v[1], "::1");
	ck_assert_int_eq(cfg->http.threads, 3);
	ck_assert_uint_eq(cfg->proxy.backends.n, 3);
	ck_assert_str_eq(cfg->proxy.backends.v[1].host, "::1");
	ck_assert_int_eq(cfg->proxy.backends.v[1].port, 8080);
	ck_assert_str_eq(cfg->proxy.backends.v[2].host, "db.internal");
	ck_assert_int_eq(cfg->proxy.backends.v[2].port, 80);
	ck_assert_str_eq(cfg->admin.listen.v[0].host, "::1");
	ck_assert_int_eq(cfg->admin.listen.v[0].port, 0);
	conf_free(cfg);
}
END_TEST

START_TEST(tilde_expands_to_home)
{
	struct conf *cfg;

	setenv("HOME", "/home/op", 1);
	cfg = load_ok("tls:\n  certificate: ~/revgate/keys/certificate.pem\n"
	    "rootPath: ~/rg\n");
	ck_assert_str_eq(cfg->tls.certificate, "/home/op/revgate/keys/certificate.pem");
	ck_assert_str_eq(cfg->root_path, "/home/op/rg");
	ck_assert_str_eq(cfg->tls.private_key, "/home/op/rg/keys/privateKey.pem");
	conf_free(cfg);
}
END_TEST

START_TEST(relative_paths_are_relative_to_the_file)
{
	struct conf_diag diag = { { 0, NULL }, { 0, NULL } };
	static const char yaml[] = "tls:\n  certificate: keys/node.pem\n"
	    "http:\n  mtls:\n    certificateVerification:\n      crl:\n        files: [a.crl, /abs.crl]\n";
	struct conf *cfg = conf_load_buffer("/etc/revgate/revgate.yaml", yaml, strlen(yaml),
	    NULL, NULL, &diag);

	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->tls.certificate, "/etc/revgate/keys/node.pem");
	ck_assert_str_eq(cfg->http.mtls.verification.crl.files.v[0], "/etc/revgate/a.crl");
	ck_assert_str_eq(cfg->http.mtls.verification.crl.files.v[1], "/abs.crl");
	conf_free(cfg);
	conf_diag_clear(&diag);
}
END_TEST

/* --- errors: one per class, with the exact message ------------------------------------ */

START_TEST(unknown_key_suggests_a_sibling)
{
	assert_error("http:\n  securPort: 8443\n",
	    "revgate.yaml:2:3: http.securPort: unknown key; did you mean securePort?");
	assert_error("http:\n  secureport: 8443\n",
	    "revgate.yaml:2:3: http.secureport: unknown key; did you mean securePort?");
}
END_TEST

START_TEST(unknown_key_at_the_wrong_level_suggests_its_path)
{
	assert_error("securePort: 8443\n",
	    "revgate.yaml:1:1: securePort: unknown key; did you mean http.securePort?");
}
END_TEST

START_TEST(unknown_key_without_a_near_match)
{
	assert_error("tls:\n  zebra: 1\n", "revgate.yaml:2:3: tls.zebra: unknown key; see "
	    "revgate.yaml(5) for the keys this section accepts");
}
END_TEST

START_TEST(type_errors_name_the_expected_type)
{
	assert_error("http:\n  mtls:\n    required: yes\n",
	    "revgate.yaml:3:15: http.mtls.required: expected true or false, got \"yes\"");
	assert_error("http: 8443\n",
	    "revgate.yaml:1:7: http: expected a mapping of settings, got a single value");
	assert_error("http:\n  securePort: [1, 2]\n",
	    "revgate.yaml:2:15: http.securePort: expected a single value, got a list");
	assert_error("http:\n  mtls: [1]\n",
	    "revgate.yaml:2:9: http.mtls: expected true, false or a mapping of settings, got a list");
	assert_error("http:\n  mtls: maybe\n",
	    "revgate.yaml:2:9: http.mtls: expected true, false or a mapping of settings, got \"maybe\"");
	assert_error("- a\n- b\n", "revgate.yaml:1:1: the top level must be a mapping of "
	    "settings (rootPath, http, tls, proxy, admin, log), got a list");
}
END_TEST

START_TEST(range_errors_give_the_bounds)
{
	assert_error("http:\n  securePort: 70000\n", "revgate.yaml:2:15: http.securePort: "
	    "expected an integer from 0 to 65535, got \"70000\"");
	assert_error("http:\n  threads: 0\n", "revgate.yaml:2:12: http.threads: "
	    "expected auto or an integer from 1 to 256, got \"0\"");
	assert_error("http:\n  mtls:\n    certificateVerification:\n      ocsp:\n"
	    "        timeout: 1h\n",
	    "revgate.yaml:5:18: http.mtls.certificateVerification.ocsp.timeout: "
	    "expected a duration from 1ms to 10m, got \"1h\"");
}
END_TEST

START_TEST(duration_errors_show_the_accepted_forms)
{
	assert_error("http:\n  mtls:\n    certificateVerification:\n      ocsp:\n"
	    "        timeout: eight\n",
	    "revgate.yaml:5:18: http.mtls.certificateVerification.ocsp.timeout: "
	    "expected milliseconds or a duration such as 15s or 12h, got \"eight\"");
}
END_TEST

START_TEST(enum_errors_list_the_choices_and_suggest)
{
	assert_error("http:\n  mtls:\n    certificateVerification:\n      failureMode: closed\n",
	    "revgate.yaml:4:20: http.mtls.certificateVerification.failureMode: expected one of "
	    "fail-closed, fail-open, got \"closed\"");
	assert_error("http:\n  mtls:\n    certificateVerification:\n      failureMode: fail-opne\n",
	    "revgate.yaml:4:20: http.mtls.certificateVerification.failureMode: expected one of "
	    "fail-closed, fail-open, got \"fail-opne\"; did you mean fail-open?");
	assert_error("log:\n  level: verbose\n", "revgate.yaml:2:10: log.level: expected one of "
	    "error, warn, info, debug, got \"verbose\"");
}
END_TEST

START_TEST(address_errors_explain_the_form)
{
	assert_error("proxy:\n  backend: https://db:9925\n", "revgate.yaml:2:12: proxy.backend: "
	    "https:// backends are not supported: revgate forwards plain HTTP; use http://, "
	    "got \"https://db:9925\"");
	assert_error("proxy:\n  backend: http://db:9925/api\n", "revgate.yaml:2:12: proxy.backend: "
	    "a backend URL cannot carry a path or query; requests keep their own path, "
	    "got \"http://db:9925/api\"");
	assert_error("proxy:\n  backend: []\n",
	    "revgate.yaml:2:12: proxy.backend: needs at least one backend URL");
	assert_error("admin:\n  listen: \"::1:9926\"\n", "revgate.yaml:2:11: admin.listen: "
	    "write IPv6 addresses in brackets, such as [::1]:9926, got \"::1:9926\"");
	assert_error("admin:\n  listen: 127.0.0.1\n", "revgate.yaml:2:11: admin.listen: "
	    "the port is missing (host:port), got \"127.0.0.1\"");
	assert_error("admin:\n  listen: 127.0.0.1:99999\n", "revgate.yaml:2:11: admin.listen: "
	    "the port must be an integer from 0 to 65535, got \"127.0.0.1:99999\"");
	assert_error("http:\n  host: \"bad host\"\n", "revgate.yaml:2:9: http.host: expected an "
	    "IPv4 or IPv6 address or a host name, got \"bad host\"");
	assert_error("http:\n  mtls:\n    certificateVerification:\n      ocsp:\n"
	    "        responder: ldap://x\n",
	    "revgate.yaml:5:20: http.mtls.certificateVerification.ocsp.responder: expected an "
	    "http:// or https:// URL, got \"ldap://x\"");
}
END_TEST

START_TEST(yaml_problems_are_reported_with_position)
{
	assert_error("http:\n  securePort: [1\n", "revgate.yaml:3:1: YAML syntax error: did not "
	    "find expected ',' or ']' while parsing a flow sequence");
	assert_error("log:\n  level: info\n  level: debug\n", "revgate.yaml:3:3: log.level: "
	    "duplicate key (first set at line 2); remove one of them");
	assert_error("a: &x 1\nb: *x\n", "revgate.yaml:2:4: YAML aliases (*x) are not supported; "
	    "write the value out");
	assert_error("log: {}\n---\nlog: {}\n", "revgate.yaml:2:1: more than one YAML document; "
	    "a configuration file holds exactly one");
	assert_error("{[a]: 1}\n",
	    "revgate.yaml:1:2: a mapping key must be a plain value, not a sequence");
}
END_TEST

START_TEST(every_error_is_collected_before_failing)
{
	struct conf_diag diag;
	struct conf *cfg = load_with(
	    "http:\n  securPort: 1\n  threads: many\nlog:\n  level: loud\nzzz: 1\n", NULL, NULL,
	    &diag);

	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(diag.errors.n, 4);
	ck_assert_str_eq(diag.errors.v[0],
	    "revgate.yaml:2:3: http.securPort: unknown key; did you mean securePort?");
	ck_assert_str_eq(diag.errors.v[3], "revgate.yaml:6:1: zzz: unknown key; see "
	    "revgate.yaml(5) for the keys this section accepts");
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(nesting_and_list_lengths_are_bounded)
{
	char yaml[8192];
	size_t n = 0;

	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%*sa:\n", i, "");
	assert_error(yaml, "revgate.yaml:33:33: nesting deeper than 32 levels");
	n = (size_t)snprintf(yaml, sizeof(yaml), "http:\n  host: [");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%s127.0.0.%d", i ? ", " : "", i);
	snprintf(yaml + n, sizeof(yaml) - n, "]\n");
	assert_error(yaml, "revgate.yaml:2:768: http.host: a list holds at most 64 items");
}
END_TEST

/* --- combinations -------------------------------------------------------------------------- */

START_TEST(verification_without_mtls_is_refused)
{
	assert_error("http:\n  mtls: false\n  certificateVerification: true\n",
	    "revgate.yaml:3:3: http.certificateVerification: unknown key; did you mean "
	    "http.mtls.certificateVerification?");
	assert_error("http:\n  mtls:\n    enabled: false\n    certificateVerification: true\n",
	    "revgate.yaml:4:30: http.mtls.certificateVerification: revocation checking needs "
	    "client certificates, but http.mtls is disabled (revgate.yaml:3:14); enable "
	    "http.mtls or remove certificateVerification");
}
END_TEST

START_TEST(verification_without_any_source_is_refused)
{
	assert_error("http:\n  mtls:\n    certificateVerification:\n      crl: false\n"
	    "      ocsp: false\n",
	    "revgate.yaml:3:5: http.mtls.certificateVerification: both crl and ocsp are "
	    "disabled, so no certificate could ever be checked; enable one of them, or set "
	    "certificateVerification: false");
}
END_TEST

START_TEST(risky_combinations_warn)
{
	assert_warning_with("http:\n  mtls:\n    certificateVerification:\n"
	    "      failureMode: fail-open\n", NULL,
	    "revgate.yaml:4:20: http.mtls.certificateVerification.failureMode: fail-open admits "
	    "a client whose revocation status cannot be determined");
	assert_warning_with("http:\n  mtls:\n    required: false\n    certificateVerification: "
	    "true\n", NULL,
	    "revgate.yaml:3:15: http.mtls.required: is false, so clients that send no certificate "
	    "are admitted without any revocation check");
	assert_warning_with("admin:\n  enabled: false\n  listen: 127.0.0.1:1\n", NULL,
	    "revgate.yaml:3:3: admin: is disabled (enabled: false), so its other settings, such "
	    "as listen, have no effect");
}
END_TEST

/* --- overrides ------------------------------------------------------------------------------ */

START_TEST(command_line_beats_environment_beats_file)
{
	char *env[] = { "REVGATE_HTTP_SECUREPORT=9000", "PATH=/bin", NULL };
	const char *sets[] = { "http.securePort=9443", NULL };
	struct conf_diag diag;
	struct conf *cfg;

	cfg = load_with("http:\n  securePort: 8000\n", env, sets, &diag);
	ck_assert_int_eq(cfg->http.secure_port, 9443);
	conf_free(cfg);
	conf_diag_clear(&diag);
	cfg = load_with("http:\n  securePort: 8000\n", env, NULL, &diag);
	ck_assert_int_eq(cfg->http.secure_port, 9000);
	conf_free(cfg);
	conf_diag_clear(&diag);
	cfg = load_with("http:\n  securePort: 8000\n", NULL, NULL, &diag);
	ck_assert_int_eq(cfg->http.secure_port, 8000);
	conf_free(cfg);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(environment_names_follow_the_key_path)
{
	char *env[] = {
		"REVGATE_HTTP_MTLS_CERTIFICATEVERIFICATION_FAILUREMODE=fail-open",
		"REVGATE_HTTP_MTLS_CERTIFICATEVERIFICATION_OCSP_TIMEOUT=8s",
		"REVGATE_PROXY_BACKEND=http://a:1, http://b:2",
		"REVGATE_HTTP_HOST=127.0.0.1,::1",
		NULL,
	};
	struct conf_diag diag;
	struct conf *cfg = load_with("", env, NULL, &diag);

	ck_assert_ptr_nonnull(cfg);
	ck_assert(cfg->http.mtls.verification.enabled);
	ck_assert_int_eq(cfg->http.mtls.verification.failure_mode, CONF_FAIL_OPEN);
	ck_assert_int_eq(cfg->http.mtls.verification.ocsp.timeout_ms, 8000);
	ck_assert_uint_eq(cfg->proxy.backends.n, 2);
	ck_assert_str_eq(cfg->proxy.backends.v[1].host, "b");
	ck_assert_uint_eq(cfg->http.hosts.n, 2);
	ck_assert_str_eq(cfg->http.hosts.v[1], "::1");
	conf_free(cfg);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(override_errors_name_their_origin)
{
	char *bad_env[] = { "REVGATE_HTTP_SECUREPORT=x", NULL };
	char *unknown_env[] = { "REVGATE_HTTP_SECURPORT=1", NULL };
	const char *bad_set[] = { "http.securePort=x", NULL };
	const char *no_eq[] = { "http.securePort", NULL };
	const char *unknown_set[] = { "http.securPort=1", NULL };
	const char *section_set[] = { "http=1", NULL };

	assert_error_with("", bad_env, NULL, "environment REVGATE_HTTP_SECUREPORT: "
	    "http.securePort: expected an integer from 0 to 65535, got \"x\"");
	assert_error_with("", unknown_env, NULL, "environment: REVGATE_HTTP_SECURPORT: unknown "
	    "setting; did you mean REVGATE_HTTP_SECUREPORT?");
	assert_error_with("", NULL, bad_set, "command line --set http.securePort: "
	    "http.securePort: expected an integer from 0 to 65535, got \"x\"");
	assert_error_with("", NULL, no_eq, "command line: --set \"http.securePort\": expected "
	    "KEY=VALUE, such as http.securePort=9443");
	assert_error_with("", NULL, unknown_set, "command line: http.securPort: unknown key; "
	    "did you mean securePort?");
	assert_error_with("", NULL, section_set,
	    "command line: http: is a section; set one of its keys");
}
END_TEST

START_TEST(override_into_a_disabled_toggle_warns)
{
	const char *sets[] = { "http.mtls.required=false", NULL };

	assert_warning_with("http:\n  mtls: false\n", sets,
	    "command line --set http.mtls.required: http.mtls: is disabled (enabled: false), so "
	    "its other settings, such as required, have no effect");
}
END_TEST

START_TEST(override_replaces_a_toggle_mapping)
{
	const char *sets[] = { "http.mtls=false", NULL };
	struct conf_diag diag;
	struct conf *cfg = load_with("http:\n  mtls:\n    required: true\n", NULL, sets, &diag);

	ck_assert_ptr_nonnull(cfg);
	ck_assert(!cfg->http.mtls.enabled);
	conf_free(cfg);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(switching_a_toggle_keeps_the_settings_written_inside_it)
{
	const char *sets[] = { "http.mtls.certificateVerification=true", NULL };
	struct conf_diag diag;
	struct conf *cfg = load_with("http:\n  mtls:\n    certificateVerification:\n"
	    "      enabled: false\n      scope: chain\n", NULL, sets, &diag);

	ck_assert_ptr_nonnull(cfg);
	ck_assert(cfg->http.mtls.verification.enabled);
	ck_assert_int_eq(cfg->http.mtls.verification.scope, CONF_SCOPE_CHAIN);
	conf_free(cfg);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(override_into_a_scalar_section_is_refused)
{
	const char *sets[] = { "http.securePort=1", NULL };
	struct conf_diag diag;

	/* Both the override and the file's own value are reported: each is wrong on its own. */
	ck_assert_ptr_null(load_with("http: 5\n", NULL, sets, &diag));
	ck_assert_uint_eq(diag.errors.n, 2);
	ck_assert_str_eq(diag.errors.v[0], "command line --set http.securePort: http: cannot "
	    "apply this override: the value at revgate.yaml:1:7 is a single value, not a mapping "
	    "of settings");
	ck_assert_str_eq(diag.errors.v[1],
	    "revgate.yaml:1:7: http: expected a mapping of settings, got a single value");
	conf_diag_clear(&diag);
}
END_TEST

/* --- printing ------------------------------------------------------------------------------- */

static char *
print_to_string(const struct conf *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	conf_print(cfg, f);
	fclose(f);
	return buf;
}

/* Drops "# ..." comments so that two printings compare by value only. */
static void
strip_comments(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0';) {
		if (r[0] == ' ' && r[1] == ' ' && r[2] == '#') {
			while (*r != '\n' && *r != '\0')
				r++;
		} else if (r[0] == '#') {
			while (*r != '\n' && *r != '\0')
				r++;
			if (*r == '\n')
				r++;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

START_TEST(printed_configuration_loads_back_identically)
{
	char *env[] = { "REVGATE_LOG_LEVEL=debug", NULL };
	const char *sets[] = { "http.host=127.0.0.1,::1", NULL };
	struct conf_diag diag;
	struct conf *a = load_with("http:\n  mtls:\n    certificateVerification:\n"
	    "      crl: {files: [/x/a \"q\".crl], cacheTtl: 12h}\n      ocsp: false\n"
	    "admin: false\n", env, sets, &diag);
	struct conf *b;
	char *first, *second;

	ck_assert_ptr_nonnull(a);
	conf_diag_clear(&diag);
	first = print_to_string(a);
	ck_assert_ptr_nonnull(strstr(first, "level: debug  # environment REVGATE_LOG_LEVEL\n"));
	ck_assert_ptr_nonnull(strstr(first,
	    "host: [\"127.0.0.1\", \"::1\"]  # command line --set http.host\n"));
	ck_assert_ptr_nonnull(strstr(first, "cacheTtl: 12h  # revgate.yaml:4:46\n"));
	ck_assert_ptr_nonnull(strstr(first, "files: [\"/x/a \\\"q\\\".crl\"]"));
	ck_assert_ptr_nonnull(strstr(first, "  ocsp: false  # revgate.yaml:5:13\n"));
	ck_assert_ptr_nonnull(strstr(first, "admin: false  # revgate.yaml:6:8\n"));
	ck_assert_ptr_nonnull(strstr(first, "securePort: 8443  # default\n"));
	b = load_with(first, NULL, NULL, &diag);
	ck_assert_msg(b != NULL, "reload failed: %s", diag.errors.n ? diag.errors.v[0] : "");
	second = print_to_string(b);
	strip_comments(first);
	strip_comments(second);
	ck_assert_str_eq(first, second);
	free(first);
	free(second);
	conf_free(a);
	conf_free(b);
	conf_diag_clear(&diag);
}
END_TEST

START_TEST(worker_threads_auto_means_cpu_count)
{
	struct conf *cfg = load_ok("http:\n  threads: 3\n");

	ck_assert_uint_eq(conf_worker_threads(cfg), 3);
	conf_free(cfg);
	cfg = load_ok("http:\n  threads: auto\n");
	ck_assert_uint_ge(conf_worker_threads(cfg), 1);
	conf_free(cfg);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *defaults = tcase_create("defaults"), *values = tcase_create("values");
	TCase *errors = tcase_create("errors"), *combos = tcase_create("combinations");
	TCase *overrides = tcase_create("overrides"), *print = tcase_create("print");

	tcase_add_test(defaults, empty_file_yields_documented_defaults);
	tcase_add_test(defaults, certificate_verification_true_takes_harperdb_defaults);
	tcase_add_test(defaults, harperdb_production_example_loads);
	tcase_add_test(defaults, mtls_accepts_a_boolean);
	tcase_add_test(defaults, a_section_mapping_turns_its_toggle_on);
	tcase_add_test(defaults, null_values_keep_the_default);
	tcase_add_test(values, durations_accept_milliseconds_and_units);
	tcase_add_test(values, hosts_and_backends_take_one_value_or_a_list);
	tcase_add_test(values, tilde_expands_to_home);
	tcase_add_test(values, relative_paths_are_relative_to_the_file);
	tcase_add_test(values, worker_threads_auto_means_cpu_count);
	tcase_add_test(errors, unknown_key_suggests_a_sibling);
	tcase_add_test(errors, unknown_key_at_the_wrong_level_suggests_its_path);
	tcase_add_test(errors, unknown_key_without_a_near_match);
	tcase_add_test(errors, type_errors_name_the_expected_type);
	tcase_add_test(errors, range_errors_give_the_bounds);
	tcase_add_test(errors, duration_errors_show_the_accepted_forms);
	tcase_add_test(errors, enum_errors_list_the_choices_and_suggest);
	tcase_add_test(errors, address_errors_explain_the_form);
	tcase_add_test(errors, yaml_problems_are_reported_with_position);
	tcase_add_test(errors, every_error_is_collected_before_failing);
	tcase_add_test(errors, nesting_and_list_lengths_are_bounded);
	tcase_add_test(combos, verification_without_mtls_is_refused);
	tcase_add_test(combos, verification_without_any_source_is_refused);
	tcase_add_test(combos, risky_combinations_warn);
	tcase_add_test(overrides, command_line_beats_environment_beats_file);
	tcase_add_test(overrides, environment_names_follow_the_key_path);
	tcase_add_test(overrides, override_errors_name_their_origin);
	tcase_add_test(overrides, override_into_a_disabled_toggle_warns);
	tcase_add_test(overrides, override_replaces_a_toggle_mapping);
	tcase_add_test(overrides, switching_a_toggle_keeps_the_settings_written_inside_it);
	tcase_add_test(overrides, override_into_a_scalar_section_is_refused);
	tcase_add_test(print, printed_configuration_loads_back_identically);
	suite_add_tcase(s, defaults);
	suite_add_tcase(s, values);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, combos);
	suite_add_tcase(s, overrides);
	suite_add_tcase(s, print);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
