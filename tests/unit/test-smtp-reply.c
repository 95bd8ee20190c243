/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the SMTP reply parser (libqresync/smtp/smtp_reply.c) and
 * the EHLO keyword lookup: single and multi-line replies, codes, every
 * malformation the parser must refuse, replies that share a buffer
 * (PIPELINING), and input split at every byte.
 */
#include "config.h"

#include <qresync/error.h>
#include <string.h>

#include "../tap.h"
#include "smtp/smtp_p.h"
#include "util/alloc.h"

/* Parse one reply from in[0..n) in pieces of `step` bytes (0: whole).
 * Returns DONE or the error; *used is what the reply took; *lines counts
 * LINE/DONE results. */
static int parse(qr_smtp_rparser *p, const char *in, size_t n, size_t step, size_t *used,
                 size_t *lines)
{
    size_t off = 0;

    *lines = 0;
    qr_smtp_rparser_reset(p);
    if (step == 0)
        step = n > 0 ? n : 1;
    while (off < n) {
        size_t lim = off + step < n ? off + step : n, pos = off;

        while (pos < lim) {
            size_t u = 0;
            int rc = qr_smtp_rparser_feed(p, in + pos, lim - pos, &u);

            pos += u;
            if (rc < 0) {
                *used = pos;
                return rc;
            }
            if (rc == QR_SMTP_R_LINE || rc == QR_SMTP_R_DONE)
                ++*lines;
            if (rc == QR_SMTP_R_DONE) {
                *used = pos;
                return rc;
            }
        }
        off = lim;
    }
    *used = off;
    return QR_SMTP_R_MORE;
}

static void test_single_line_reply(void)
{
    qr_smtp_rparser p;
    size_t used, lines;
    static const char in[] = "250 2.1.0 Ok\r\n";

    qr_smtp_rparser_init(&p);
    CHECK_INT_EQ(parse(&p, in, sizeof(in) - 1, 0, &used, &lines), QR_SMTP_R_DONE);
    CHECK_INT_EQ(p.code, 250);
    CHECK_STR_EQ(qr_dynbuf_str(&p.text), "2.1.0 Ok");
    CHECK_STR_EQ(qr_dynbuf_str(&p.line), "250 2.1.0 Ok");
    CHECK_UINT_EQ(used, sizeof(in) - 1);
    CHECK_UINT_EQ(lines, 1);
    qr_smtp_rparser_free(&p);
}

static void test_code_alone_and_empty_texts(void)
{
    qr_smtp_rparser p;
    size_t used, lines;

    qr_smtp_rparser_init(&p);
    CHECK_INT_EQ(parse(&p, "354\r\n", 5, 0, &used, &lines), QR_SMTP_R_DONE);
    CHECK_INT_EQ(p.code, 354);
    CHECK_STR_EQ(qr_dynbuf_str(&p.text), "");
    CHECK_INT_EQ(parse(&p, "221 \r\n", 6, 0, &used, &lines), QR_SMTP_R_DONE);
    CHECK_INT_EQ(p.code, 221);
    CHECK_STR_EQ(qr_dynbuf_str(&p.text), "");
    CHECK_INT_EQ(parse(&p, "250-\r\n250 b\r\n", 13, 0, &used, &lines), QR_SMTP_R_DONE);
    CHECK_STR_EQ(qr_dynbuf_str(&p.text), "\nb");
    qr_smtp_rparser_free(&p);
}

static void test_multi_line_reply_at_every_split(void)
{
    static const char in[] = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
                             "250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n";
    qr_smtp_rparser p;
    size_t used, lines, step;

    qr_smtp_rparser_init(&p);
    for (step = 0; step <= sizeof(in); step++) {
        CHECK_INT_EQ(parse(&p, in, sizeof(in) - 1, step, &used, &lines), QR_SMTP_R_DONE);
        CHECK_INT_EQ(p.code, 250);
        CHECK_STR_EQ(qr_dynbuf_str(&p.text),
                     "mx.example.org Hello\nPIPELINING\nSIZE 1000\n8BITMIME\nAUTH PLAIN LOGIN");
        CHECK_STR_EQ(qr_dynbuf_str(&p.line), "250 AUTH PLAIN LOGIN");
        CHECK_UINT_EQ(used, sizeof(in) - 1);
        CHECK_UINT_EQ(lines, 5);
    }
    qr_smtp_rparser_free(&p);
}

/* Three pipelined replies in one buffer: each parse stops at its end. */
static void test_pipelined_replies_share_a_buffer(void)
{
    static const char in[] = "250 ok\r\n550-no such\r\n550 user\r\n354 go ahead\r\n";
    static const int codes[] = {250, 550, 354};
    static const char *const texts[] = {"ok", "no such\nuser", "go ahead"};
    qr_smtp_rparser p;
    size_t off = 0, used, lines, i;

    qr_smtp_rparser_init(&p);
    for (i = 0; i < 3; i++) {
        CHECK_INT_EQ(parse(&p, in + off, sizeof(in) - 1 - off, 0, &used, &lines), QR_SMTP_R_DONE);
        CHECK_INT_EQ(p.code, codes[i]);
        CHECK_STR_EQ(qr_dynbuf_str(&p.text), texts[i]);
        off += used;
    }
    CHECK_UINT_EQ(off, sizeof(in) - 1);
    qr_smtp_rparser_free(&p);
}

static void test_incomplete_reply_wants_more(void)
{
    qr_smtp_rparser p;
    size_t used, lines;

    qr_smtp_rparser_init(&p);
    CHECK_INT_EQ(parse(&p, "250-a\r\n250 b", 12, 0, &used, &lines), QR_SMTP_R_MORE);
    CHECK_UINT_EQ(used, 12);
    CHECK_UINT_EQ(lines, 1);
    CHECK_INT_EQ(parse(&p, "250 b\r", 6, 0, &used, &lines), QR_SMTP_R_MORE);
    qr_smtp_rparser_free(&p);
}

/* Each malformed reply: QR_EPROTO with the reason. */
static void test_malformed_replies_are_refused(void)
{
    static const struct {
        const char *in;
        const char *why;
    } cases[] = {
        {"250 ok\n", "reply line not ending in CRLF"},
        {"250-a\r\n250 b\n", "reply line not ending in CRLF"},
        {"\n", "reply line not ending in CRLF"},
        {"\r\n", "malformed reply code"},
        {"25 ok\r\n", "malformed reply code"},
        {"2500 ok\r\n", "malformed reply code"},
        {"250x\r\n", "malformed reply code"},
        {"abc def\r\n", "malformed reply code"},
        {"150 ok\r\n", "malformed reply code"},
        {"650 ok\r\n", "malformed reply code"},
        {"2a0 ok\r\n", "malformed reply code"},
        {" 250 ok\r\n", "malformed reply code"},
        {"250-a\r\n550 b\r\n", "reply code changed within a multi-line reply"},
        {"250 a\rb\r\n", "bare CR in a reply line"},
        {"250 a\r\r\n", "bare CR in a reply line"},
        {"250 a\0b\r\n", "NUL in a reply line"},
    };
    qr_smtp_rparser p;
    size_t i, used, lines, step;

    qr_smtp_rparser_init(&p);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);

        if (strcmp(cases[i].why, "NUL in a reply line") == 0)
            n = 9;
        for (step = 0; step <= n; step++) {
            CHECK_INT_EQ(parse(&p, cases[i].in, n, step, &used, &lines), QR_EPROTO);
            CHECK(p.why != NULL && strcmp(p.why, cases[i].why) == 0);
            if (p.why == NULL || strcmp(p.why, cases[i].why) != 0)
                printf("#   case %zu step %zu: %s\n", i, step, p.why ? p.why : "(null)");
        }
        /* an error is sticky until the reset */
        CHECK_INT_EQ(qr_smtp_rparser_feed(&p, "250 ok\r\n", 8, &used), QR_EPROTO);
        CHECK_UINT_EQ(used, 0);
    }
    qr_smtp_rparser_free(&p);
}

static void test_line_and_reply_limits(void)
{
    static char big[QR_SMTP_LINE_MAX + 8];
    qr_smtp_rparser p;
    size_t used, lines, i;

    qr_smtp_rparser_init(&p);
    /* exactly QR_SMTP_LINE_MAX bytes with the CRLF: fine */
    memset(big, 'x', sizeof(big));
    memcpy(big, "250 ", 4);
    memcpy(big + QR_SMTP_LINE_MAX - 2, "\r\n", 2);
    CHECK_INT_EQ(parse(&p, big, QR_SMTP_LINE_MAX, 0, &used, &lines), QR_SMTP_R_DONE);
    CHECK_UINT_EQ(p.text.len, QR_SMTP_LINE_MAX - 6);
    /* one more byte: refused, whether or not the CRLF has come */
    memset(big, 'x', sizeof(big));
    memcpy(big, "250 ", 4);
    memcpy(big + QR_SMTP_LINE_MAX - 1, "\r\n", 2);
    CHECK_INT_EQ(parse(&p, big, QR_SMTP_LINE_MAX + 1, 0, &used, &lines), QR_EPROTO);
    CHECK_STR_EQ(p.why, "reply line too long");
    CHECK_INT_EQ(parse(&p, big, QR_SMTP_LINE_MAX - 1, 7, &used, &lines), QR_EPROTO);
    /* a reply of endless continuation lines stops at QR_SMTP_REPLY_MAX */
    qr_smtp_rparser_reset(&p);
    memset(big, 'y', sizeof(big));
    memcpy(big, "250-", 4);
    memcpy(big + 1000, "\r\n", 2);
    for (i = 0; i < 200; i++) {
        int rc = qr_smtp_rparser_feed(&p, big, 1002, &used);

        if (rc != QR_SMTP_R_LINE) {
            CHECK_INT_EQ(rc, QR_EPROTO);
            CHECK_STR_EQ(p.why, "reply too long");
            break;
        }
    }
    CHECK(i < 200);
    CHECK(p.text.len <= QR_SMTP_REPLY_MAX);
    qr_smtp_rparser_free(&p);
}

static void test_allocation_failures(void)
{
    static const char in[] = "250-a\r\n250 bcdef\r\n";
    unsigned long n, total;
    qr_smtp_rparser p;
    size_t used, lines;

    qr_alloc_fail_at(0, 0);
    qr_smtp_rparser_init(&p);
    CHECK_INT_EQ(parse(&p, in, sizeof(in) - 1, 0, &used, &lines), QR_SMTP_R_DONE);
    qr_smtp_rparser_free(&p);
    qr_alloc_fail_at(0, 0);
    qr_smtp_rparser_init(&p);
    parse(&p, in, sizeof(in) - 1, 0, &used, &lines);
    total = qr_alloc_count();
    qr_smtp_rparser_free(&p);
    CHECK(total >= 2);
    for (n = 1; n <= total; n++) {
        int rc;

        qr_smtp_rparser_init(&p);
        qr_alloc_fail_at(n, 0);
        rc = parse(&p, in, sizeof(in) - 1, 0, &used, &lines);
        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        qr_smtp_rparser_free(&p);
    }
}

static void test_ehlo_keywords(void)
{
    static const char text[] = "mx.example.org greets PIPELINING\nPIPELINING\nsize 1000\n"
                               "AUTH=PLAIN\nAUTH PLAIN LOGIN\n8BITMIME\nSTARTTLSX\nDSN";
    const char *params = NULL;
    size_t plen = 0;

    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "PIPELINING", NULL, NULL), 1);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "pipelining", NULL, NULL), 1);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "SIZE", &params, &plen), 1);
    CHECK_MEM_EQ(params, plen, "1000", 4);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "AUTH", &params, &plen), 1);
    CHECK_MEM_EQ(params, plen, "PLAIN", 5);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "DSN", &params, &plen), 1);
    CHECK_UINT_EQ(plen, 0);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "8BITMIME", NULL, NULL), 1);
    /* a prefix is not the keyword, and the first line is the server's name */
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "STARTTLS", NULL, NULL), 0);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "SMTPUTF8", NULL, NULL), 0);
    CHECK_INT_EQ(qr_smtp_ehlo_find(text, "mx.example.org", NULL, NULL), 0);
    CHECK_INT_EQ(qr_smtp_ehlo_find("only a name", "PIPELINING", NULL, NULL), 0);
    CHECK_INT_EQ(qr_smtp_ehlo_find("", "PIPELINING", NULL, NULL), 0);
}

int main(void)
{
    TAP_RUN(test_single_line_reply);
    TAP_RUN(test_code_alone_and_empty_texts);
    TAP_RUN(test_multi_line_reply_at_every_split);
    TAP_RUN(test_pipelined_replies_share_a_buffer);
    TAP_RUN(test_incomplete_reply_wants_more);
    TAP_RUN(test_malformed_replies_are_refused);
    TAP_RUN(test_line_and_reply_limits);
    TAP_RUN(test_allocation_failures);
    TAP_RUN(test_ehlo_keywords);
    return tap_done();
}
