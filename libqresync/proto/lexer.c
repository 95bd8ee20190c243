/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lexer of the response parser, and qr_parser_feed().
 *
 * What it is. A byte-level state machine (enum qr_lx_state) over the server
 * stream. It is fed arbitrary slices and turns them into tokens for the
 * grammar (grammar.c): atoms and numbers (an atom keeps balanced `[...]`
 * inside it, spaces, parentheses and quoted strings included, so `BODY[HEADER.FIELDS (A B)]<0>`
 * is one token), quoted strings (only `\\` and `\"` escapes), literals
 * `{N}`, `{N+}` and `~{N}`, parentheses and CRLF. In text mode (set by the
 * grammar after OK/NO/BAD/BYE/PREAUTH and `+`) it returns an optional
 * `[CODE args]` and the rest of the line. In UID-set mode (set by the
 * grammar after VANISHED and ESEARCH ALL) it hands the bytes of a set to the
 * incremental qr_uidset parser, so a set of megabytes is never one token.
 *
 * Invariants.
 *  - State is O(1) apart from the token buffer `tok`, which holds at most
 *    one token: max_token bytes for atoms, quoted strings, codes and text,
 *    max_small_literal bytes for a non-body literal. Bodies are streamed.
 *  - Every byte is looked at once; `*consumed` is exact. A token is handed
 *    to the grammar as soon as its last byte is seen (an atom when the byte
 *    after it is seen, without consuming that byte), so any split of the
 *    input gives the same token sequence.
 *  - When the grammar (or a callback through it) returns QR_PAUSE, feed
 *    returns at once with the bytes of the token just delivered consumed and
 *    nothing else. A pause inside a literal leaves `lit_left` bytes to go;
 *    a pause right after a literal's last byte (or after begin of an empty
 *    one) leaves its end to be delivered first by the next feed, as are the
 *    pending body steps of NIL/quoted bodies (qr_gram_body_run()).
 *  - Any error is recorded once (qr_parser_fail) and sticky.
 *
 * Usage: qr_parser_feed(p, buf, len, &used) from the session's read path;
 * see include/qresync/resp.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proto/proto_p.h"

/* Bytes that may appear in an atom outside brackets: 0x21-0x7E except
 * ( ) { " [ ] and DEL, plus 8-bit bytes (tolerated). */
static const unsigned char atomtab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Stream position of buf[i] during a feed. */
#define OFF(p, i) ((p)->pos + (uint64_t)(i))

typedef int (*lx_fn)(qr_parser *p, const char *b, size_t len, size_t *ip);

/* Append to the token buffer, enforcing cap (the limit for this token kind). */
static int tok_add(qr_parser *p, const char *s, size_t n, size_t cap, const char *what)
{
    int rc;

    if (n == 0)
        return 0;
    if (p->tok.len + n > cap)
        return qr_parser_fail(p, QR_ELIMIT, p->tok_off, "%s longer than %zu bytes", what, cap);
    rc = qr_dynbuf_add(&p->tok, s, n);
    if (rc != 0)
        return qr_parser_fail(p, rc, p->tok_off, "out of memory reading a %s", what);
    return 0;
}

/*
 * Where a scan for token bytes must stop so that a token longer than cap is
 * noticed at its (cap+1)-th byte, whatever the split: at most one byte past
 * the room left. The caller then hands the scanned bytes to tok_add(),
 * which fails with QR_ELIMIT when they do not fit.
 */
static size_t scan_end(size_t start, size_t len, size_t used, size_t cap)
{
    size_t room = cap > used ? cap - used : 0;

    return len - start > room ? start + room + 1 : len;
}

/* Complete the token that ended at b[end] (exclusive), started at b[start]
 * in this feed; earlier bytes of it (previous feeds) are in tok. Sets *s,*n. */
static int tok_finish(qr_parser *p, const char *b, size_t start, size_t end, const char *what,
                      const char **s, size_t *n)
{
    int rc;

    if (p->tok.len == 0) { /* zero-copy: the whole token is in this buffer */
        if (end - start > p->opt.max_token)
            return qr_parser_fail(p, QR_ELIMIT, p->tok_off, "%s longer than %zu bytes", what,
                                  p->opt.max_token);
        *s = b + start;
        *n = end - start;
        return 0;
    }
    rc = tok_add(p, b + start, end - start, p->opt.max_token, what);
    if (rc != 0)
        return rc;
    *s = p->tok.ptr;
    *n = p->tok.len;
    return 0;
}

static int emit_atom(qr_parser *p, const char *s, size_t n)
{
    uint64_t v = 0;
    int ovf = 0;
    size_t k;

    for (k = 0; k < n; k++) {
        unsigned d = (unsigned)(unsigned char)s[k] - '0';
        if (d > 9)
            break;
        if (v > (UINT64_MAX - d) / 10)
            ovf = 1;
        else
            v = v * 10 + d;
    }
    if (k == n) {
        p->num = ovf ? 0 : v;
        p->num_overflow = ovf;
        return qr_gram_token(p, QR_TOK_NUMBER, s, n);
    }
    return qr_gram_token(p, QR_TOK_ATOM, s, n);
}

static int lx_start(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip;
    unsigned char c = (unsigned char)b[i];

    while (c == ' ') {
        if (++i == len) {
            *ip = i;
            return 0;
        }
        c = (unsigned char)b[i];
    }
    *ip = i;
    p->tok_off = OFF(p, i);
    qr_dynbuf_reset(&p->tok);
    switch (c) {
    case '(':
        *ip = i + 1;
        return qr_gram_token(p, QR_TOK_LPAREN, NULL, 0);
    case ')':
        *ip = i + 1;
        return qr_gram_token(p, QR_TOK_RPAREN, NULL, 0);
    case '"':
        *ip = i + 1;
        p->lx = QR_LX_QUOTED;
        return 0;
    case '{':
    case '~':
        *ip = i + 1;
        p->num = 0;
        p->lit_digits = 0;
        p->lit_plus = 0;
        p->lit_binary = 0;
        p->lx = c == '{' ? QR_LX_LITSIZE : QR_LX_TILDE;
        return 0;
    case '\r':
        *ip = i + 1;
        p->lx = QR_LX_CR;
        return 0;
    case '\n':
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "bare LF");
    case '\0':
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "NUL byte outside a literal");
    default:
        break;
    }
    if (atomtab[c] || c == '[' || c == ']') {
        p->bracket = 0;
        p->bracket_quote = 0;
        p->lx = QR_LX_ATOM;
        return 0;
    }
    return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "unexpected byte 0x%02x", c);
}

static int lx_atom(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, start = i, n = 0, end = scan_end(i, len, p->tok.len, p->opt.max_token);
    const char *s = NULL;
    int rc;

    for (; i < end; i++) {
        unsigned char c = (unsigned char)b[i];
        if (atomtab[c] && !p->bracket_quote)
            continue;
        if (p->bracket_quote) { /* "..." inside brackets: ']' does not count */
            if (c == '\r' || c == '\n' || c == '\0')
                break;
            if (c == '"')
                p->bracket_quote = 0;
            continue;
        }
        if (c == '"' && p->bracket) {
            p->bracket_quote = 1;
            continue;
        }
        if (c == '[') {
            p->bracket++;
            continue;
        }
        if (c == ']') {
            if (p->bracket)
                p->bracket--;
            continue;
        }
        if (p->bracket && (c == ' ' || c == '(' || c == ')' || c == '{'))
            continue;
        break;
    }
    *ip = i;
    if (i == end)
        return tok_add(p, b + start, i - start, p->opt.max_token, "atom");
    if (p->bracket || p->bracket_quote)
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "unterminated '[' in an atom");
    rc = tok_finish(p, b, start, i, "atom", &s, &n);
    if (rc != 0)
        return rc;
    p->lx = QR_LX_START;
    return emit_atom(p, s, n);
}

static int lx_quoted(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, start = i, end = scan_end(i, len, p->tok.len, p->opt.max_token);
    unsigned char c = 0;
    int rc;

    for (; i < end; i++) {
        c = (unsigned char)b[i];
        if (c == '"' || c == '\\' || c == '\r' || c == '\n' || c == '\0')
            break;
    }
    rc = tok_add(p, b + start, i - start, p->opt.max_token, "quoted string");
    *ip = i;
    if (rc != 0 || i == end)
        return rc;
    if (c == '"') {
        *ip = i + 1;
        p->lx = QR_LX_START;
        return qr_gram_token(p, QR_TOK_QUOTED, p->tok.ptr ? p->tok.ptr : "", p->tok.len);
    }
    if (c == '\\') {
        *ip = i + 1;
        p->lx = QR_LX_QESC;
        return 0;
    }
    if (c == '\0')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "NUL byte in a quoted string");
    return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "unterminated quoted string");
}

static int lx_qesc(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    char c = b[*ip];

    if (c != '\\' && c != '"')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, *ip), "bad escape in a quoted string");
    (*ip)++;
    p->lx = QR_LX_QUOTED;
    return tok_add(p, &c, 1, p->opt.max_token, "quoted string");
}

static int lx_tilde(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    if (b[*ip] == '{') {
        (*ip)++;
        p->lit_binary = 1;
        p->lx = QR_LX_LITSIZE;
        return 0;
    }
    p->bracket = 0;
    p->bracket_quote = 0;
    p->lx = QR_LX_ATOM;
    return tok_add(p, "~", 1, p->opt.max_token, "atom");
}

static int lx_litsize(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip;
    unsigned char c = 0;

    for (; i < len; i++) {
        c = (unsigned char)b[i];
        if (c < '0' || c > '9' || p->lit_plus)
            break;
        p->num = p->num * 10 + (c - '0'); /* num <= max_literal < 2^31: no overflow */
        p->lit_digits++;
        if (p->num > p->opt.max_literal)
            return qr_parser_fail(p, QR_ELIMIT, p->tok_off,
                                  "literal larger than max_literal (%llu bytes)",
                                  (unsigned long long)p->opt.max_literal);
    }
    *ip = i;
    if (i == len)
        return 0;
    if (c == '+' && p->lit_digits && !p->lit_plus) {
        p->lit_plus = 1;
        *ip = i + 1;
        return 0;
    }
    if (c == '}' && p->lit_digits) {
        *ip = i + 1;
        p->lx = QR_LX_LITCR;
        return 0;
    }
    return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "bad literal size");
}

static int lit_finish(qr_parser *p)
{
    p->lx = QR_LX_START;
    return qr_gram_literal_end(p);
}

static int lx_litcr(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    if (b[*ip] != '\r')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, *ip), "literal size not followed by CRLF");
    (*ip)++;
    p->lx = QR_LX_LITLF;
    return 0;
}

static int lx_litlf(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    int rc;

    if (b[*ip] != '\n')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, *ip), "CR not followed by LF");
    (*ip)++;
    p->lit_size = p->lit_left = p->num;
    p->lx = QR_LX_LITDATA;
    rc = qr_gram_literal_begin(p, p->lit_size);
    if (rc == 0 && p->lit_left == 0)
        rc = lit_finish(p);
    return rc;
}

static int lx_litdata(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, n = len - i;
    int rc;

    if ((uint64_t)n > p->lit_left)
        n = (size_t)p->lit_left;
    if (p->lit_stream) {
        rc = qr_gram_body_data(p, b + i, n);
    } else {
        rc = qr_dynbuf_add(&p->tok, b + i, n); /* size checked at begin */
        if (rc != 0)
            rc = qr_parser_fail(p, rc, p->tok_off, "out of memory reading a literal");
    }
    *ip = i + n;
    p->lit_left -= n;
    if (rc != 0)
        return rc;
    if (p->lit_left == 0)
        return lit_finish(p);
    return 0;
}

static int lx_cr(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    if (b[*ip] != '\n')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, *ip), "CR not followed by LF");
    (*ip)++;
    p->lx = QR_LX_START;
    return qr_gram_token(p, QR_TOK_CRLF, NULL, 0);
}

static int lx_text_start(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    if (b[*ip] == ' ')
        (*ip)++;
    p->lx = QR_LX_TEXT_OPEN;
    return 0;
}

static int lx_text_open(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    p->tok_off = OFF(p, *ip);
    qr_dynbuf_reset(&p->tok);
    if (b[*ip] == '[') {
        (*ip)++;
        qr_dynbuf_reset(&p->code_name);
        p->lx = QR_LX_CODE_NAME;
        return 0;
    }
    p->lx = QR_LX_TEXT;
    return 0;
}

static int lx_code_name(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, start = i;
    unsigned char c = 0;
    int rc;

    size_t end = scan_end(i, len, p->code_name.len, p->opt.max_token);

    while (i < end && atomtab[c = (unsigned char)b[i]])
        i++;
    *ip = i;
    if (p->code_name.len + (i - start) > p->opt.max_token)
        return qr_parser_fail(p, QR_ELIMIT, p->tok_off, "response code longer than %zu bytes",
                              p->opt.max_token);
    rc = qr_dynbuf_add(&p->code_name, b + start, i - start);
    if (rc != 0)
        return qr_parser_fail(p, rc, p->tok_off, "out of memory reading a response code");
    if (i == end)
        return 0;
    if ((c == ' ' || c == ']') && p->code_name.len > 0) {
        *ip = i + 1;
        qr_dynbuf_reset(&p->tok);
        p->code_has_args = c == ' ';
        if (c == ' ') {
            p->lx = QR_LX_CODE_ARGS;
            return 0;
        }
        p->lx = QR_LX_CODE_END;
        return qr_gram_token(p, QR_TOK_CODE, "", 0);
    }
    return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "bad response code");
}

static int lx_code_args(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, start = i, end = scan_end(i, len, p->tok.len, p->opt.max_token);
    unsigned char c = 0;
    int rc;

    for (; i < end; i++) {
        c = (unsigned char)b[i];
        if (c == ']' || c == '\r' || c == '\n' || c == '\0')
            break;
    }
    rc = tok_add(p, b + start, i - start, p->opt.max_token, "response code");
    *ip = i;
    if (rc != 0 || i == end)
        return rc;
    if (c == ']') {
        *ip = i + 1;
        p->lx = QR_LX_CODE_END;
        return qr_gram_token(p, QR_TOK_CODE, p->tok.ptr ? p->tok.ptr : "", p->tok.len);
    }
    if (c == '\0')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "NUL byte in a response code");
    return qr_parser_fail(p, QR_EPROTO, OFF(p, i), "unterminated response code");
}

static int lx_code_end(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    if (b[*ip] == ' ')
        (*ip)++;
    p->tok_off = OFF(p, *ip);
    qr_dynbuf_reset(&p->tok);
    p->lx = QR_LX_TEXT;
    return 0;
}

static int lx_text(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip, start = i, n = 0, end = scan_end(i, len, p->tok.len, p->opt.max_token);
    unsigned char c = 0;
    const char *s = NULL;
    int rc;

    for (; i < end; i++) {
        c = (unsigned char)b[i];
        if (c == '\r' || c == '\n' || c == '\0')
            break;
    }
    *ip = i;
    if (i == end)
        return tok_add(p, b + start, i - start, p->opt.max_token, "response text");
    if (c != '\r')
        return qr_parser_fail(p, QR_EPROTO, OFF(p, i),
                              c ? "bare LF in response text" : "NUL byte in response text");
    rc = tok_finish(p, b, start, i, "response text", &s, &n);
    if (rc != 0)
        return rc;
    *ip = i + 1;
    p->lx = QR_LX_CR;
    return qr_gram_token(p, QR_TOK_TEXT, n ? s : "", n);
}

static int lx_set_start(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t i = *ip;

    while (i < len && b[i] == ' ')
        i++;
    *ip = i;
    if (i == len)
        return 0;
    if (b[i] >= '0' && b[i] <= '9') {
        p->tok_off = OFF(p, i);
        qr_uidset_parser_init(&p->setp);
        p->lx = QR_LX_SET;
        return 0;
    }
    p->lx = QR_LX_START;
    return 0;
}

static int set_check(qr_parser *p, int rc, uint64_t off)
{
    if (rc == QR_EINVAL)
        return qr_parser_fail(p, QR_EPROTO, off, "bad UID set");
    if (rc != 0)
        return qr_parser_fail(p, rc, off, "out of memory reading a UID set");
    if (p->set->n > p->opt.max_response / sizeof(qr_range))
        return qr_parser_fail(p, QR_ELIMIT, p->tok_off, "UID set larger than %zu bytes",
                              p->opt.max_response);
    return 0;
}

static int lx_set(qr_parser *p, const char *b, size_t len, size_t *ip)
{
    size_t used = 0;
    int rc;

    rc = qr_uidset_parser_feed(&p->setp, p->set, b + *ip, len - *ip, &used);
    *ip += used;
    rc = set_check(p, rc, OFF(p, *ip));
    if (rc != 0 || *ip == len)
        return rc;
    rc = set_check(p, qr_uidset_parser_finish(&p->setp, p->set), OFF(p, *ip));
    if (rc != 0)
        return rc;
    p->lx = QR_LX_START;
    return qr_gram_token(p, QR_TOK_SET, NULL, 0);
}

static const lx_fn lx_table[] = {
    [QR_LX_START] = lx_start,           [QR_LX_ATOM] = lx_atom,
    [QR_LX_QUOTED] = lx_quoted,         [QR_LX_QESC] = lx_qesc,
    [QR_LX_TILDE] = lx_tilde,           [QR_LX_LITSIZE] = lx_litsize,
    [QR_LX_LITCR] = lx_litcr,           [QR_LX_LITLF] = lx_litlf,
    [QR_LX_LITDATA] = lx_litdata,       [QR_LX_CR] = lx_cr,
    [QR_LX_TEXT_START] = lx_text_start, [QR_LX_TEXT_OPEN] = lx_text_open,
    [QR_LX_CODE_NAME] = lx_code_name,   [QR_LX_CODE_ARGS] = lx_code_args,
    [QR_LX_CODE_END] = lx_code_end,     [QR_LX_TEXT] = lx_text,
    [QR_LX_SET_START] = lx_set_start,   [QR_LX_SET] = lx_set,
};

/* Deliver what a pause left pending, before reading new bytes. */
static int resume(qr_parser *p)
{
    int rc;

    if (p->body_step != QR_BODY_IDLE) {
        rc = qr_gram_body_run(p);
        if (rc != 0)
            return rc;
    }
    if (p->lx == QR_LX_LITDATA && p->lit_left == 0)
        return lit_finish(p);
    return 0;
}

static void wire(qr_parser *p, const char *b, size_t from, size_t to)
{
    if (p->opt.callbacks.on_wire != NULL && to > from)
        p->opt.callbacks.on_wire(b + from, to - from, p->opt.payload);
}

int qr_parser_feed(qr_parser *p, const char *buf, size_t len, size_t *consumed)
{
    size_t i = 0, w = 0;
    int rc;

    if (consumed != NULL)
        *consumed = 0;
    if (p == NULL || consumed == NULL || (buf == NULL && len != 0) || p->in_callback)
        return QR_EINVAL;
    if (p->failed)
        return p->failed;
    rc = resume(p);
    while (rc == 0 && i < len) {
        if (p->lx == QR_LX_LITDATA) {
            wire(p, buf, w, i);
            rc = lx_litdata(p, buf, len, &i);
            w = i;
        } else {
            rc = lx_table[p->lx](p, buf, len, &i);
        }
    }
    wire(p, buf, w, i);
    p->pos += i;
    *consumed = i;
    return rc;
}
