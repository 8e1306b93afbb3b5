#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static enum http1_status
req(const char *text, struct http1_head *h)
{
	return http1_parse_request(text, strlen(text), h);
}

/* The request must be refused with STATUS and the reason WHY. */
static void
assert_refused(const char *text, enum http1_status status, const char *why)
{
	struct http1_head h;
	enum http1_status st = req(text, &h);

	ck_assert_msg(st == status, "status %d, expected %d for: %s", st, status, text);
	ck_assert_str_eq(h.error, why);
}

START_TEST(simple_get_is_parsed)
{
	struct http1_head h;
	const char *text = "GET /a?b=c HTTP/1.1\r\nHost: db:9925\r\nUser-Agent: t\r\n\r\nrest";

	ck_assert_int_eq(req(text, &h), HTTP1_OK);
	ck_assert_uint_eq(h.method.len, 3);
	ck_assert(memcmp(h.method.p, "GET", 3) == 0);
	ck_assert_uint_eq(h.target.len, 6);
	ck_assert_int_eq(h.minor, 1);
	ck_assert_uint_eq(h.nheaders, 2);
	ck_assert_uint_eq(h.head_len, strlen(text) - 4);
	ck_assert_ptr_eq(h.host, &h.headers[0]);
	ck_assert_int_eq(h.framing, HTTP1_BODY_NONE);
	ck_assert(h.keep_alive);
}
END_TEST

START_TEST(every_prefix_of_a_head_is_incomplete)
{
	struct http1_head h;
	const char *text = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";

	for (size_t n = 0; n < strlen(text); n++)
		ck_assert_int_eq(http1_parse_request(text, n, &h), HTTP1_INCOMPLETE);
	ck_assert_int_eq(http1_parse_request(text, strlen(text), &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 3);
}
END_TEST

START_TEST(header_values_are_trimmed)
{
	struct http1_head h;

	ck_assert_int_eq(req("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v w \t\r\nX-E:\r\n\r\n", &h),
	    HTTP1_OK);
	ck_assert_uint_eq(h.headers[1].value.len, 3);
	ck_assert(memcmp(h.headers[1].value.p, "v w", 3) == 0);
	ck_assert_uint_eq(h.headers[2].value.len, 0);
}
END_TEST

START_TEST(connection_semantics_follow_the_version)
{
	struct http1_head h;

	ck_assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &h),
	    HTTP1_OK);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(req("GET / HTTP/1.0\r\n\r\n", &h), HTTP1_OK);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), HTTP1_OK);
	ck_assert(h.keep_alive);
	ck_assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n", &h), HTTP1_OK);
	ck_assert(h.upgrade);
	ck_assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", &h),
	    HTTP1_OK);
	ck_assert(!h.upgrade);
	ck_assert_int_eq(req("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 1\r\n\r\n", &h), HTTP1_OK);
	ck_assert(h.expect_continue);
}
END_TEST

START_TEST(chunked_requests_are_framed_as_chunked)
{
	struct http1_head h;

	ck_assert_int_eq(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
	    &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_CHUNKED);
}
END_TEST

START_TEST(identical_duplicate_content_lengths_are_accepted)
{
	struct http1_head h;

	ck_assert_int_eq(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", &h), HTTP1_OK);
	ck_assert_uint_eq(h.content_length, 5);
}
END_TEST

START_TEST(smuggling_vectors_are_refused)
{
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP1_BAD_REQUEST,
	    "both Content-Length and Transfer-Encoding");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    HTTP1_BAD_REQUEST, "conflicting Content-Length headers");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
	    HTTP1_BAD_REQUEST, "invalid Content-Length");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	    HTTP1_BAD_REQUEST, "invalid Content-Length");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    HTTP1_BAD_REQUEST, "invalid Content-Length");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n",
	    HTTP1_BAD_REQUEST, "whitespace before colon in header");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP1_BAD_REQUEST,
	    "more than one Transfer-Encoding header");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	    HTTP1_BAD_REQUEST, "unsupported Transfer-Encoding (only chunked)");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	    HTTP1_NOT_IMPLEMENTED, "unsupported Transfer-Encoding (only chunked)");
	assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	    HTTP1_NOT_IMPLEMENTED, "unsupported Transfer-Encoding (only chunked)");
	assert_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    HTTP1_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
	    HTTP1_BAD_REQUEST, "obsolete line folding");
	assert_refused("GET / HTTP/1.1\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "line not terminated by CRLF");
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", HTTP1_BAD_REQUEST,
	    "line not terminated by CRLF");
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP1_BAD_REQUEST,
	    "more than one Host header");
}
END_TEST

START_TEST(malformed_requests_are_refused)
{
	struct http1_head h;
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";

	ck_assert_int_eq(http1_parse_request(nul, sizeof(nul) - 1, &h), HTTP1_BAD_REQUEST);
	ck_assert_str_eq(h.error, "invalid byte in header value");
	assert_refused("GET / HTTP/1.1\r\n\r\n", HTTP1_BAD_REQUEST, "missing Host header");
	assert_refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed request target");
	assert_refused("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed request method");
	assert_refused("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed HTTP version");
	assert_refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HTTP1_BAD_VERSION,
	    "unsupported HTTP version");
	assert_refused("GET / http/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed HTTP version");
	assert_refused("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed request target");
	assert_refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP1_BAD_REQUEST,
	    "invalid Host header");
	assert_refused("GET / HTTP/1.1\r\n: x\r\nHost: a\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed header name");
	assert_refused("GET / HTTP/1.1\r\nHost: a\r\nX-\x01: 1\r\n\r\n", HTTP1_BAD_REQUEST,
	    "malformed header name");
}
END_TEST

START_TEST(header_count_is_bounded)
{
	char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	struct http1_head h;

	for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	ck_assert_int_eq(req(buf, &h), HTTP1_TOO_MANY_HEADERS);
	ck_assert_int_eq(http1_status_code(HTTP1_TOO_MANY_HEADERS), 431);
}
END_TEST

START_TEST(leading_empty_lines_are_skipped)
{
	struct http1_head h;

	ck_assert_int_eq(req("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), HTTP1_OK);
	ck_assert(memcmp(h.method.p, "GET", 3) == 0);
}
END_TEST

static const struct http1_span get_method = { "GET", 3 }, head_method = { "HEAD", 4 };

START_TEST(response_framing_follows_status_and_method)
{
	struct http1_head h;
	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";

	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(h.framing, HTTP1_BODY_LENGTH);
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &head_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_NONE);
	ck_assert(h.keep_alive);
	cl = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_NONE);
	cl = "HTTP/1.1 304 Not Modified\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_NONE);
	cl = "HTTP/1.1 100 Continue\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_NONE);
	cl = "HTTP/1.0 200 OK\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_UNTIL_CLOSE);
	ck_assert(!h.keep_alive);
	cl = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert(h.upgrade);
	cl = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_int_eq(h.framing, HTTP1_BODY_CHUNKED);
	cl = "HTTP/1.1 200\r\n\r\n";
	ck_assert_int_eq(http1_parse_response(cl, strlen(cl), &get_method, &h), HTTP1_OK);
	ck_assert_uint_eq(h.reason.len, 0);
}
END_TEST

START_TEST(malformed_responses_are_refused)
{
	struct http1_head h;
	static const char *bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(http1_parse_response(bad[i], strlen(bad[i]), &get_method, &h) !=
		    HTTP1_OK, "accepted: %s", bad[i]);
}
END_TEST

/* Feeds TEXT to a fresh decoder in pieces of STEP bytes; returns consumed or -1. */
static long
feed_chunked(const char *text, size_t len, size_t step, uint64_t *payload, bool *done)
{
	struct http1_chunked c;
	size_t off = 0;

	http1_chunked_init(&c);
	*payload = 0;
	*done = false;
	while (off < len && !*done) {
		size_t n = len - off < step ? len - off : step;
		long used = http1_chunked_feed(&c, text + off, n, payload, done);

		if (used < 0)
			return -1;
		off += (size_t)used;
		if ((size_t)used < n && !*done)
			return -1;
	}
	return (long)off;
}

START_TEST(chunked_bodies_end_exactly_at_the_last_chunk)
{
	static const char body[] = "5\r\nhello\r\n1a;name=v\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	    "0\r\nX-Trailer: 1\r\n\r\nGET / HTTP/1.1\r\n";
	size_t body_len = strlen(body) - strlen("GET / HTTP/1.1\r\n");

	for (size_t step = 1; step <= sizeof(body); step++) {
		uint64_t payload;
		bool done;
		long used = feed_chunked(body, strlen(body), step, &payload, &done);

		ck_assert_int_eq(used, (long)body_len);
		ck_assert(done);
		ck_assert_uint_eq(payload, 31);
	}
}
END_TEST

START_TEST(bad_chunk_framing_is_refused)
{
	static const char *bad[] = {
		"x\r\n", "\r\n", "5 \r\n", "-5\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n", "5\nhello\r\n0\r\n\r\n", "0\r\n\x01\r\n\r\n",
		"11111111111111111\r\n", "5;\x01\r\n", "0\r\nX: 1\rY\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t payload;
		bool done;

		ck_assert_msg(feed_chunked(bad[i], strlen(bad[i]), 1, &payload, &done) == -1,
		    "accepted: %s", bad[i]);
	}
}
END_TEST

START_TEST(chunk_lines_and_trailers_are_bounded)
{
	char *big = malloc(HTTP1_TRAILERS_MAX + 64);
	uint64_t payload;
	bool done;
	size_t n;

	n = (size_t)sprintf(big, "1;");
	memset(big + n, 'e', HTTP1_CHUNK_LINE_MAX);
	ck_assert_int_eq(feed_chunked(big, n + HTTP1_CHUNK_LINE_MAX, 100, &payload, &done), -1);
	n = (size_t)sprintf(big, "0\r\nX: ");
	memset(big + n, 'v', HTTP1_TRAILERS_MAX);
	ck_assert_int_eq(feed_chunked(big, n + HTTP1_TRAILERS_MAX, 100, &payload, &done), -1);
	free(big);
}
END_TEST

START_TEST(whitespace_before_a_chunk_extension_is_allowed)
{
	uint64_t payload;
	bool done;
	const char *t = "3 ;x=y\r\nabc\r\n0\r\n\r\n";

	ck_assert_int_eq(feed_chunked(t, strlen(t), 1, &payload, &done), (long)strlen(t));
	ck_assert(done);
	ck_assert_uint_eq(payload, 3);
}
END_TEST

START_TEST(list_tokens_match_case_insensitively)
{
	struct http1_span v = { " Keep-Alive ,\tUPGRADE,foo", 25 };

	ck_assert(http1_list_has(&v, "keep-alive"));
	ck_assert(http1_list_has(&v, "upgrade"));
	ck_assert(http1_list_has(&v, "foo"));
	ck_assert(!http1_list_has(&v, "fo"));
	ck_assert(!http1_list_has(&v, "close"));
}
END_TEST

static Suite *
http1_suite(void)
{
	Suite *s = suite_create("http1");
	TCase *rq = tcase_create("requests"), *rs = tcase_create("responses");
	TCase *ch = tcase_create("chunked");

	tcase_add_test(rq, simple_get_is_parsed);
	tcase_add_test(rq, every_prefix_of_a_head_is_incomplete);
	tcase_add_test(rq, header_values_are_trimmed);
	tcase_add_test(rq, connection_semantics_follow_the_version);
	tcase_add_test(rq, chunked_requests_are_framed_as_chunked);
	tcase_add_test(rq, identical_duplicate_content_lengths_are_accepted);
	tcase_add_test(rq, smuggling_vectors_are_refused);
	tcase_add_test(rq, malformed_requests_are_refused);
	tcase_add_test(rq, header_count_is_bounded);
	tcase_add_test(rq, leading_empty_lines_are_skipped);
	tcase_add_test(rq, list_tokens_match_case_insensitively);
	tcase_add_test(rs, response_framing_follows_status_and_method);
	tcase_add_test(rs, malformed_responses_are_refused);
	tcase_add_test(ch, chunked_bodies_end_exactly_at_the_last_chunk);
	tcase_add_test(ch, bad_chunk_framing_is_refused);
	tcase_add_test(ch, chunk_lines_and_trailers_are_bounded);
	tcase_add_test(ch, whitespace_before_a_chunk_extension_is_allowed);
	suite_add_tcase(s, rq);
	suite_add_tcase(s, rs);
	suite_add_tcase(s, ch);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http1_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
