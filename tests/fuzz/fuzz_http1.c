/*
 * libFuzzer target: the HTTP/1.1 parser that every byte from a client or a backend meets first.
 * The input is tried as a request head, as a response head (for GET and HEAD), and as a chunked
 * body fed both at once and in uneven pieces - the two feeds must agree, since the network
 * splits bodies wherever it likes.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_head(const struct http1_head *h, const char *buf, size_t size)
{
	if (h->head_len > size || h->nheaders > HTTP1_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct http1_header *x = &h->headers[i];

		if (x->name.p < buf || x->name.p + x->name.len > buf + size ||
		    x->value.p < buf || x->value.p + x->value.len > buf + size)
			abort();	/* spans must stay inside the input */
		for (size_t j = 0; j < x->value.len; j++)
			if (x->value.p[j] == '\r' || x->value.p[j] == '\n' || x->value.p[j] == '\0')
				abort();	/* would let a forwarded header split */
	}
}

static void
fuzz_chunked(const char *buf, size_t size)
{
	struct http1_chunked whole, pieces;
	uint64_t pay_whole = 0, pay_pieces = 0;
	bool done_whole = false, done_pieces = false;
	long used_whole, used_pieces = 0;
	size_t off = 0, step = 1;

	http1_chunked_init(&whole);
	http1_chunked_init(&pieces);
	used_whole = http1_chunked_feed(&whole, buf, size, &pay_whole, &done_whole);
	while (off < size && !done_pieces) {
		size_t n = size - off < step ? size - off : step;
		long used = http1_chunked_feed(&pieces, buf + off, n, &pay_pieces, &done_pieces);

		if (used < 0) {
			used_pieces = -1;
			break;
		}
		off += (size_t)used;
		used_pieces = (long)off;
		if ((size_t)used < n && !done_pieces)
			abort();	/* consumed less without finishing or failing */
		step = step * 3 % 17 + 1;
	}
	if ((used_whole < 0) != (used_pieces < 0))
		abort();
	if (used_whole >= 0 && (done_whole != done_pieces || (done_whole &&
	    (used_whole != used_pieces || pay_whole != pay_pieces))))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http1_span get = { "GET", 3 }, head_method = { "HEAD", 4 };
	struct http1_head *h = malloc(sizeof(*h));

	if (h == NULL)
		return 0;
	if (http1_parse_request(buf, size, h) == HTTP1_OK)
		fuzz_check_head(h, buf, size);
	if (http1_parse_response(buf, size, &get, h) == HTTP1_OK)
		fuzz_check_head(h, buf, size);
	if (http1_parse_response(buf, size, &head_method, h) == HTTP1_OK &&
	    h->framing != HTTP1_BODY_NONE)
		abort();	/* a response to HEAD never has a body */
	free(h);
	fuzz_chunked(buf, size);
	return 0;
}
