/*
 * http1: strict HTTP/1.1 message-head parsing and chunked-body framing.
 *
 * Pure functions over caller-owned bytes: no allocation, no I/O, so they can be unit-tested
 * and fuzzed directly. Strictness is the point: everything that lets two HTTP implementations
 * disagree about where a message ends (request smuggling) is refused - Content-Length together
 * with Transfer-Encoding, differing Content-Lengths, a transfer coding other than chunked,
 * whitespace before a colon, obsolete line folding, bare LF, control bytes, malformed chunk
 * sizes. The caller maps a refusal to 400 (or 431/501 as the error says).
 */
#ifndef REVGATE_HTTP1_H
#define REVGATE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS 128

enum http1_status {
	HTTP1_OK,
	HTTP1_INCOMPLETE,		/* need more bytes */
	HTTP1_BAD_REQUEST,		/* syntax or framing violation: 400 */
	HTTP1_TOO_MANY_HEADERS,		/* 431 */
	HTTP1_NOT_IMPLEMENTED,		/* unsupported transfer coding: 501 */
	HTTP1_BAD_VERSION,		/* not HTTP/1.0 or HTTP/1.1: 505 */
};

enum http1_framing {
	HTTP1_BODY_NONE,		/* no body */
	HTTP1_BODY_LENGTH,		/* Content-Length bytes */
	HTTP1_BODY_CHUNKED,		/* chunked, ends with the last chunk and trailers */
	HTTP1_BODY_UNTIL_CLOSE,		/* responses only: until the backend closes */
};

struct http1_span {
	const char	*p;		/* borrowed from the parsed buffer */
	size_t		 len;
};

struct http1_header {
	struct http1_span	name;
	struct http1_span	value;	/* optional whitespace trimmed */
};

struct http1_head {
	/* request line, or status line for responses */
	struct http1_span	method;
	struct http1_span	target;
	int			status;		/* responses */
	struct http1_span	reason;		/* responses */
	int			minor;		/* HTTP/1.<minor>: 0 or 1 */

	struct http1_header	headers[HTTP1_MAX_HEADERS];
	size_t			nheaders;
	size_t			head_len;	/* bytes up to and including the blank line */

	/* what the headers mean, derived once */
	enum http1_framing	framing;
	uint64_t		content_length;
	bool			keep_alive;	/* after this message */
	bool			expect_continue;
	bool			upgrade;	/* Connection: upgrade with an Upgrade header */
	const struct http1_header *host;	/* requests: the Host header */
	const char		*error;		/* a short reason when the status is not OK */
};

/*
 * Parses a request head from BUF (LEN bytes; need not be NUL-terminated). Returns HTTP1_OK
 * with HEAD filled (spans point into BUF), HTTP1_INCOMPLETE if the blank line has not arrived,
 * or a refusal with head->error set. Never reads past LEN.
 */
enum http1_status http1_parse_request(const char *buf, size_t len, struct http1_head *head);

/*
 * Parses a response head. REQUEST_METHOD decides framing (HEAD has no body) as does the
 * status (1xx, 204, 304 have none).
 */
enum http1_status http1_parse_response(const char *buf, size_t len,
    const struct http1_span *request_method, struct http1_head *head);

/* True if the header's name equals NAME, ignoring ASCII case. */
bool http1_header_is(const struct http1_header *h, const char *name);

/* True if the comma-separated list VALUE contains TOKEN (ASCII case-insensitive). */
bool http1_list_has(const struct http1_span *value, const char *token);

/* The HTTP status code a refusal maps to. */
int http1_status_code(enum http1_status st);

/*
 * Incremental chunked-body framing. Feed bytes as they arrive; the decoder says how many of
 * them belong to the body (including the chunk framing, so they can be forwarded verbatim),
 * how many of those are payload, and when the body has ended. Bounds: chunk-size line and
 * each trailer line at most HTTP1_CHUNK_LINE_MAX bytes, trailers at most HTTP1_TRAILERS_MAX.
 */
#define HTTP1_CHUNK_LINE_MAX	4096
#define HTTP1_TRAILERS_MAX	16384

struct http1_chunked {
	int		state;
	uint64_t	remaining;	/* payload bytes left in the current chunk */
	size_t		line_len;	/* bytes of the current size/trailer line */
	size_t		trailer_bytes;
	bool		seen_digit;
	bool		in_extension;
};

void http1_chunked_init(struct http1_chunked *c);

/*
 * Consumes up to LEN bytes of BUF. Returns the number consumed (less than LEN only when the
 * body ends inside BUF, or on error), adds payload bytes to *PAYLOAD, sets *DONE at the end
 * of the body. Returns -1 on a framing error (the body must be refused: 400).
 */
long http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len,
    uint64_t *payload, bool *done);

#endif
