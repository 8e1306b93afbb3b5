#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "forward.h"
#include "http1.h"

static const struct forward_names names = {
	"X-Client-Verify", "X-Client-Cert-Subject", "X-Client-Cert-Issuer",
	"X-Client-Cert-Serial", "X-Client-Cert-Fingerprint", "X-Client-Cert",
	"X-Client-Cert-Revocation",
};

/* Rewrites REQ (a complete request head) with ID and returns the result as a string. */
static char *
rewrite_request(const char *req, const struct forward_identity *id)
{
	struct http1_head h;
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *s;

	ck_assert_int_eq(http1_parse_request(req, strlen(req), &h), HTTP1_OK);
	ck_assert_int_eq(forward_request_head(&h, &names, id, out), 0);
	len = evbuffer_get_length(out);
	s = calloc(1, len + 1);
	evbuffer_remove(out, s, len);
	evbuffer_free(out);
	return s;
}

static char *
rewrite_response(const char *resp, const char *method, int minor, bool keep, bool upgrade)
{
	struct http1_span m = { method, strlen(method) };
	struct http1_head h;
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *s;

	ck_assert_int_eq(http1_parse_response(resp, strlen(resp), &m, &h), HTTP1_OK);
	ck_assert_int_eq(forward_response_head(&h, minor, keep, upgrade, out), 0);
	len = evbuffer_get_length(out);
	s = calloc(1, len + 1);
	evbuffer_remove(out, s, len);
	evbuffer_free(out);
	return s;
}

START_TEST(forged_identity_headers_are_replaced_by_revgates_own)
{
	struct forward_identity id = { .client_addr = "192.0.2.7", .verify = "SUCCESS",
	    .subject = "CN=alice", .serial = "0A" };
	char *s = rewrite_request("GET /a HTTP/1.1\r\nHost: db\r\n"
	    "x-client-verify: SUCCESS\r\nX-CLIENT-CERT-SUBJECT: CN=admin\r\n"
	    "X-Client-Cert-Serial: 01\r\nX-Client-Cert-Revocation: good\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: evil\r\n\r\n", &id);

	ck_assert_str_eq(s, "GET /a HTTP/1.1\r\nHost: db\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: db\r\n"
	    "X-Client-Verify: SUCCESS\r\nX-Client-Cert-Subject: CN=alice\r\n"
	    "X-Client-Cert-Serial: 0A\r\n\r\n");
	free(s);
}
END_TEST

START_TEST(hop_by_hop_headers_and_those_named_by_connection_are_dropped)
{
	struct forward_identity id = { 0 };
	char *s = rewrite_request("POST /p HTTP/1.1\r\nHost: db\r\nConnection: keep-alive, "
	    "X-Secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Secret: 1\r\n"
	    "Proxy-Connection: close\r\nTransfer-Encoding: chunked\r\nX-Keep: yes\r\n\r\n", &id);

	ck_assert_str_eq(s, "POST /p HTTP/1.1\r\nHost: db\r\nTransfer-Encoding: chunked\r\n"
	    "X-Keep: yes\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: db\r\n\r\n");
	free(s);
}
END_TEST

START_TEST(x_forwarded_for_is_extended_not_replaced)
{
	struct forward_identity id = { .client_addr = "127.0.0.1" };
	char *s = rewrite_request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\n"
	    "X-Forwarded-For: 10.0.0.2\r\n\r\n", &id);

	ck_assert_ptr_nonnull(strstr(s, "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"));
	ck_assert_ptr_null(strstr(s, "X-Forwarded-For: 10.0.0.1\r\n"));
	free(s);
}
END_TEST

START_TEST(http10_requests_go_out_as_http11)
{
	struct forward_identity id = { 0 };
	char *s = rewrite_request("GET /old HTTP/1.0\r\n\r\n", &id);

	ck_assert_str_eq(s, "GET /old HTTP/1.1\r\nX-Forwarded-Proto: https\r\n\r\n");
	free(s);
}
END_TEST

START_TEST(upgrade_requests_keep_their_upgrade_headers)
{
	struct forward_identity id = { 0 };
	char *s = rewrite_request("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n", &id);

	ck_assert_str_eq(s, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: h\r\n\r\n");
	free(s);
}
END_TEST

START_TEST(responses_lose_hop_by_hop_headers_and_get_revgates_connection)
{
	char *s = rewrite_response("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
	    "Keep-Alive: timeout=9\r\nContent-Length: 2\r\n\r\n", "GET", 1, false, false);

	ck_assert_str_eq(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
	free(s);
	s = rewrite_response("HTTP/1.1 204 No Content\r\n\r\n", "GET", 0, true, false);
	ck_assert_str_eq(s, "HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n");
	free(s);
	s = rewrite_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n", "GET", 1, false, true);
	ck_assert_str_eq(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\n\r\n");
	free(s);
}
END_TEST

START_TEST(only_idempotent_methods_may_be_retried)
{
	static const char *yes[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" };
	static const char *no[] = { "POST", "PATCH", "get", "GETX", "CONNECT" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct http1_span m = { yes[i], strlen(yes[i]) };

		ck_assert_msg(forward_method_idempotent(&m), "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct http1_span m = { no[i], strlen(no[i]) };

		ck_assert_msg(!forward_method_idempotent(&m), "%s", no[i]);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("forward");
	TCase *t = tcase_create("heads");
	SRunner *sr;
	int failed;

	tcase_add_test(t, forged_identity_headers_are_replaced_by_revgates_own);
	tcase_add_test(t, hop_by_hop_headers_and_those_named_by_connection_are_dropped);
	tcase_add_test(t, x_forwarded_for_is_extended_not_replaced);
	tcase_add_test(t, http10_requests_go_out_as_http11);
	tcase_add_test(t, upgrade_requests_keep_their_upgrade_headers);
	tcase_add_test(t, responses_lose_hop_by_hop_headers_and_get_revgates_connection);
	tcase_add_test(t, only_idempotent_methods_may_be_retried);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
