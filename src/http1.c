#include "config.h"
#include "http1.h"

#include <string.h>

#define HTTP1_METHOD_MAX 32

/* RFC 9110 tchar: the characters of methods and header names. */
static bool
http1_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value characters: HTAB, SP, VCHAR and obs-text; never CR, LF, NUL or DEL. */
static bool
http1_is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
http1_span_eq(const struct http1_span *s, const char *text)
{
	size_t n = strlen(text);

	if (s->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)s->p[i], b = (unsigned char)text[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

bool
http1_header_is(const struct http1_header *h, const char *name)
{
	return http1_span_eq(&h->name, name);
}

bool
http1_list_has(const struct http1_span *value, const char *token)
{
	size_t i = 0;

	while (i < value->len) {
		struct http1_span item;
		size_t start, end;

		while (i < value->len && (value->p[i] == ' ' || value->p[i] == '\t' ||
		    value->p[i] == ','))
			i++;
		start = i;
		while (i < value->len && value->p[i] != ',')
			i++;
		end = i;
		while (end > start && (value->p[end - 1] == ' ' || value->p[end - 1] == '\t'))
			end--;
		item.p = value->p + start;
		item.len = end - start;
		if (item.len > 0 && http1_span_eq(&item, token))
			return true;
	}
	return false;
}

int
http1_status_code(enum http1_status st)
{
	switch (st) {
	case HTTP1_OK:
	case HTTP1_INCOMPLETE:
		return 200;
	case HTTP1_BAD_REQUEST:
		return 400;
	case HTTP1_TOO_MANY_HEADERS:
		return 431;
	case HTTP1_NOT_IMPLEMENTED:
		return 501;
	case HTTP1_BAD_VERSION:
		return 505;
	}
	return 400;
}

static enum http1_status
http1_fail(struct http1_head *head, enum http1_status st, const char *why)
{
	head->error = why;
	return st;
}

/*
 * Finds the next CRLF-terminated line starting at *POS. Returns 1 with the line in LINE,
 * 0 if the line is not complete, -1 on a bare CR or LF.
 */
static int
http1_next_line(const char *buf, size_t len, size_t *pos, struct http1_span *line)
{
	for (size_t i = *pos; i < len; i++) {
		if (buf[i] == '\n')
			return -1;	/* LF without CR */
		if (buf[i] != '\r')
			continue;
		if (i + 1 == len)
			return 0;
		if (buf[i + 1] != '\n')
			return -1;	/* CR without LF */
		line->p = buf + *pos;
		line->len = i - *pos;
		*pos = i + 2;
		return 1;
	}
	return 0;
}

/* "HTTP/1.0" or "HTTP/1.1". */
static enum http1_status
http1_parse_version(const char *p, size_t len, struct http1_head *head)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return http1_fail(head, HTTP1_BAD_REQUEST, "malformed HTTP version");
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return http1_fail(head, HTTP1_BAD_VERSION, "unsupported HTTP version");
	head->minor = p[7] - '0';
	return HTTP1_OK;
}

/* METHOD SP TARGET SP VERSION, single spaces. */
static enum http1_status
http1_parse_request_line(const struct http1_span *line, struct http1_head *head)
{
	size_t i = 0, t;

	while (i < line->len && http1_is_tchar((unsigned char)line->p[i]))
		i++;
	if (i == 0 || i > HTTP1_METHOD_MAX || i == line->len || line->p[i] != ' ')
		return http1_fail(head, HTTP1_BAD_REQUEST, "malformed request method");
	head->method.p = line->p;
	head->method.len = i;
	t = ++i;
	while (i < line->len && (unsigned char)line->p[i] > 0x20 &&
	    (unsigned char)line->p[i] < 0x7f)
		i++;
	if (i == t || i == line->len || line->p[i] != ' ')
		return http1_fail(head, HTTP1_BAD_REQUEST, "malformed request target");
	head->target.p = line->p + t;
	head->target.len = i - t;
	i++;
	return http1_parse_version(line->p + i, line->len - i, head);
}

/* HTTP/1.x SP 3DIGIT SP reason */
static enum http1_status
http1_parse_status_line(const struct http1_span *line, struct http1_head *head)
{
	const char *p = line->p;
	enum http1_status st;

	if (line->len < 12 || p[8] != ' ' || (line->len > 12 && p[12] != ' '))
		return http1_fail(head, HTTP1_BAD_REQUEST, "malformed status line");
	if ((st = http1_parse_version(p, 8, head)) != HTTP1_OK)
		return st;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return http1_fail(head, HTTP1_BAD_REQUEST, "malformed status code");
	head->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (head->status < 100 || head->status > 599)
		return http1_fail(head, HTTP1_BAD_REQUEST, "status code out of range");
	head->reason.p = line->len > 12 ? p + 13 : p + 12;
	head->reason.len = line->len > 12 ? line->len - 13 : 0;
	for (size_t i = 0; i < head->reason.len; i++)
		if (!http1_is_value_char((unsigned char)head->reason.p[i]))
			return http1_fail(head, HTTP1_BAD_REQUEST, "invalid byte in reason phrase");
	return HTTP1_OK;
}

/* name ":" OWS value OWS - no whitespace before the colon, no folding. */
static enum http1_status
http1_parse_header_line(const struct http1_span *line, struct http1_head *head)
{
	struct http1_header *h;
	size_t i = 0, vs, ve;

	if (line->p[0] == ' ' || line->p[0] == '\t')
		return http1_fail(head, HTTP1_BAD_REQUEST, "obsolete line folding");
	while (i < line->len && http1_is_tchar((unsigned char)line->p[i]))
		i++;
	if (i == 0 || i == line->len || line->p[i] != ':')
		return http1_fail(head, HTTP1_BAD_REQUEST,
		    i < line->len && (line->p[i] == ' ' || line->p[i] == '\t') ?
		    "whitespace before colon in header" : "malformed header name");
	if (head->nheaders == HTTP1_MAX_HEADERS)
		return http1_fail(head, HTTP1_TOO_MANY_HEADERS, "too many header fields");
	for (vs = i + 1; vs < line->len && (line->p[vs] == ' ' || line->p[vs] == '\t'); vs++)
		;
	for (ve = line->len; ve > vs && (line->p[ve - 1] == ' ' || line->p[ve - 1] == '\t'); ve--)
		;
	for (size_t j = vs; j < ve; j++)
		if (!http1_is_value_char((unsigned char)line->p[j]))
			return http1_fail(head, HTTP1_BAD_REQUEST, "invalid byte in header value");
	h = &head->headers[head->nheaders++];
	h->name.p = line->p;
	h->name.len = i;
	h->value.p = line->p + vs;
	h->value.len = ve - vs;
	return HTTP1_OK;
}

/* Parses the start line and headers; framing is derived by the caller. */
static enum http1_status
http1_parse_head(const char *buf, size_t len, bool request, struct http1_head *head)
{
	struct http1_span line;
	size_t pos = 0;
	enum http1_status st;
	int rc;

	memset(head, 0, sizeof(*head));
	/* A client may send a stray CRLF after a previous body (RFC 9112 2.2). */
	while (request && pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n')
		pos += 2;
	if ((rc = http1_next_line(buf, len, &pos, &line)) <= 0)
		return rc == 0 ? HTTP1_INCOMPLETE :
		    http1_fail(head, HTTP1_BAD_REQUEST, "line not terminated by CRLF");
	st = request ? http1_parse_request_line(&line, head) : http1_parse_status_line(&line, head);
	if (st != HTTP1_OK)
		return st;
	for (;;) {
		if ((rc = http1_next_line(buf, len, &pos, &line)) <= 0)
			return rc == 0 ? HTTP1_INCOMPLETE :
			    http1_fail(head, HTTP1_BAD_REQUEST, "line not terminated by CRLF");
		if (line.len == 0)
			break;
		if ((st = http1_parse_header_line(&line, head)) != HTTP1_OK)
			return st;
	}
	head->head_len = pos;
	return HTTP1_OK;
}

static bool
http1_parse_length(const struct http1_span *v, uint64_t *out)
{
	uint64_t n = 0;

	if (v->len == 0 || v->len > 19)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v->p[i] - '0');
	}
	*out = n;
	return true;
}

/* Content-Length and Transfer-Encoding, with every ambiguity refused. */
static enum http1_status
http1_derive_framing(struct http1_head *head, bool request)
{
	const struct http1_header *te = NULL;
	bool have_length = false;
	uint64_t length = 0, v;

	for (size_t i = 0; i < head->nheaders; i++) {
		const struct http1_header *h = &head->headers[i];

		if (http1_header_is(h, "content-length")) {
			if (!http1_parse_length(&h->value, &v))
				return http1_fail(head, HTTP1_BAD_REQUEST, "invalid Content-Length");
			if (have_length && v != length)
				return http1_fail(head, HTTP1_BAD_REQUEST,
				    "conflicting Content-Length headers");
			have_length = true;
			length = v;
		} else if (http1_header_is(h, "transfer-encoding")) {
			if (te != NULL)
				return http1_fail(head, HTTP1_BAD_REQUEST,
				    "more than one Transfer-Encoding header");
			te = h;
		}
	}
	if (te != NULL && have_length)
		return http1_fail(head, HTTP1_BAD_REQUEST,
		    "both Content-Length and Transfer-Encoding");
	if (te != NULL) {
		if (request && head->minor == 0)
			return http1_fail(head, HTTP1_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
		if (!http1_span_eq(&te->value, "chunked"))
			return http1_fail(head, http1_list_has(&te->value, "chunked") || !request ?
			    HTTP1_BAD_REQUEST : HTTP1_NOT_IMPLEMENTED,
			    "unsupported Transfer-Encoding (only chunked)");
		head->framing = HTTP1_BODY_CHUNKED;
	} else if (have_length) {
		head->framing = length > 0 ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
		head->content_length = length;
	} else
		head->framing = request ? HTTP1_BODY_NONE : HTTP1_BODY_UNTIL_CLOSE;
	return HTTP1_OK;
}

/* Connection, Upgrade and Expect. */
static void
http1_derive_connection(struct http1_head *head)
{
	bool close = false, keep = false, upgrade_token = false, upgrade_header = false;

	for (size_t i = 0; i < head->nheaders; i++) {
		const struct http1_header *h = &head->headers[i];

		if (http1_header_is(h, "connection")) {
			close |= http1_list_has(&h->value, "close");
			keep |= http1_list_has(&h->value, "keep-alive");
			upgrade_token |= http1_list_has(&h->value, "upgrade");
		} else if (http1_header_is(h, "upgrade"))
			upgrade_header = true;
		else if (http1_header_is(h, "expect"))
			head->expect_continue |= http1_span_eq(&h->value, "100-continue");
	}
	head->keep_alive = head->minor == 1 ? !close : keep && !close;
	head->upgrade = upgrade_token && upgrade_header;
}

/* Host: exactly one in HTTP/1.1, made of characters a host and port can hold. */
static enum http1_status
http1_derive_host(struct http1_head *head)
{
	for (size_t i = 0; i < head->nheaders; i++) {
		const struct http1_header *h = &head->headers[i];

		if (!http1_header_is(h, "host"))
			continue;
		if (head->host != NULL)
			return http1_fail(head, HTTP1_BAD_REQUEST, "more than one Host header");
		for (size_t j = 0; j < h->value.len; j++) {
			unsigned char c = (unsigned char)h->value.p[j];

			if (!http1_is_tchar(c) && c != ':' && c != '[' && c != ']')
				return http1_fail(head, HTTP1_BAD_REQUEST, "invalid Host header");
		}
		head->host = h;
	}
	if (head->host == NULL && head->minor == 1)
		return http1_fail(head, HTTP1_BAD_REQUEST, "missing Host header");
	return HTTP1_OK;
}

enum http1_status
http1_parse_request(const char *buf, size_t len, struct http1_head *head)
{
	enum http1_status st;

	if ((st = http1_parse_head(buf, len, true, head)) != HTTP1_OK)
		return st;
	if ((st = http1_derive_framing(head, true)) != HTTP1_OK ||
	    (st = http1_derive_host(head)) != HTTP1_OK)
		return st;
	http1_derive_connection(head);
	return HTTP1_OK;
}

enum http1_status
http1_parse_response(const char *buf, size_t len, const struct http1_span *request_method,
    struct http1_head *head)
{
	enum http1_status st;

	if ((st = http1_parse_head(buf, len, false, head)) != HTTP1_OK)
		return st;
	if ((st = http1_derive_framing(head, false)) != HTTP1_OK)
		return st;
	http1_derive_connection(head);
	if (head->status == 101) {
		head->upgrade = true;
		head->framing = HTTP1_BODY_NONE;
		return HTTP1_OK;
	}
	head->upgrade = false;
	if ((head->status >= 100 && head->status < 200) || head->status == 204 ||
	    head->status == 304 || http1_span_eq(request_method, "HEAD")) {
		head->framing = HTTP1_BODY_NONE;
		head->content_length = 0;
	}
	if (head->framing == HTTP1_BODY_UNTIL_CLOSE)
		head->keep_alive = false;
	return HTTP1_OK;
}

enum http1_chunk_state {
	CHUNK_SIZE,		/* hex digits of a chunk size */
	CHUNK_SIZE_WS,		/* whitespace after the size, before ';' */
	CHUNK_EXT,		/* chunk extension, up to CR */
	CHUNK_SIZE_LF,		/* CR seen at the end of the size line */
	CHUNK_DATA,
	CHUNK_DATA_CR,		/* CRLF after the chunk payload */
	CHUNK_DATA_LF,
	CHUNK_TRAILER_START,	/* start of a trailer line, or the final CRLF */
	CHUNK_TRAILER,
	CHUNK_TRAILER_LF,
	CHUNK_FINAL_LF,
	CHUNK_DONE,
};

void
http1_chunked_init(struct http1_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNK_SIZE;
}

static int
http1_hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* One byte of a size line; returns 0 or -1 on a framing error. */
static int
http1_chunk_size_byte(struct http1_chunked *c, unsigned char ch)
{
	int h;

	if (++c->line_len > HTTP1_CHUNK_LINE_MAX)
		return -1;
	switch (c->state) {
	case CHUNK_SIZE:
		if ((h = http1_hex_value(ch)) >= 0) {
			if (c->remaining > (UINT64_MAX >> 4))
				return -1;	/* size overflows */
			c->remaining = (c->remaining << 4) | (uint64_t)h;
			c->seen_digit = true;
			return 0;
		}
		if (!c->seen_digit)
			return -1;
		if (ch == '\r')
			c->state = CHUNK_SIZE_LF;
		else if (ch == ';')
			c->state = CHUNK_EXT;
		else if (ch == ' ' || ch == '\t')
			c->state = CHUNK_SIZE_WS;
		else
			return -1;
		return 0;
	case CHUNK_SIZE_WS:
		if (ch == ';')
			c->state = CHUNK_EXT;
		else if (ch != ' ' && ch != '\t')
			return -1;
		return 0;
	case CHUNK_EXT:
		if (ch == '\r')
			c->state = CHUNK_SIZE_LF;
		else if (!http1_is_value_char(ch))
			return -1;
		return 0;
	default:
		return -1;
	}
}

/* One byte of a trailer section; returns 0 or -1. */
static int
http1_chunk_trailer_byte(struct http1_chunked *c, unsigned char ch)
{
	if (++c->trailer_bytes > HTTP1_TRAILERS_MAX)
		return -1;
	switch (c->state) {
	case CHUNK_TRAILER_START:
		if (ch == '\r')
			c->state = CHUNK_FINAL_LF;
		else if (http1_is_tchar(ch))
			c->state = CHUNK_TRAILER;
		else
			return -1;
		return 0;
	case CHUNK_TRAILER:
		if (ch == '\r')
			c->state = CHUNK_TRAILER_LF;
		else if (!http1_is_value_char(ch) && ch != ':')
			return -1;
		return 0;
	case CHUNK_TRAILER_LF:
		if (ch != '\n')
			return -1;
		c->state = CHUNK_TRAILER_START;
		return 0;
	case CHUNK_FINAL_LF:
		if (ch != '\n')
			return -1;
		c->state = CHUNK_DONE;
		return 0;
	default:
		return -1;
	}
}

long
http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len, uint64_t *payload,
    bool *done)
{
	size_t i = 0;

	*done = c->state == CHUNK_DONE;
	while (i < len && c->state != CHUNK_DONE) {
		unsigned char ch = (unsigned char)buf[i];
		size_t n;

		switch (c->state) {
		case CHUNK_DATA:
			n = len - i < c->remaining ? len - i : (size_t)c->remaining;
			c->remaining -= n;
			*payload += n;
			i += n;
			if (c->remaining == 0)
				c->state = CHUNK_DATA_CR;
			continue;
		case CHUNK_DATA_CR:
			if (ch != '\r')
				return -1;
			c->state = CHUNK_DATA_LF;
			break;
		case CHUNK_DATA_LF:
			if (ch != '\n')
				return -1;
			http1_chunked_init(c);
			break;
		case CHUNK_SIZE_LF:
			if (ch != '\n')
				return -1;
			c->line_len = 0;
			c->state = c->remaining > 0 ? CHUNK_DATA : CHUNK_TRAILER_START;
			break;
		case CHUNK_SIZE:
		case CHUNK_SIZE_WS:
		case CHUNK_EXT:
			if (http1_chunk_size_byte(c, ch) == -1)
				return -1;
			break;
		default:
			if (http1_chunk_trailer_byte(c, ch) == -1)
				return -1;
			break;
		}
		i++;
	}
	*done = c->state == CHUNK_DONE;
	return (long)i;
}
