/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for text escaping and the per-handle logger. */
#include "config.h"

#include "../tap.h"
#include "util/logger.h"
#include "util/text.h"

static void test_escape_keeps_printable_and_utf8(void)
{
    char out[64];
    size_t n;

    n = qr_text_escape(out, sizeof(out), "OK caf\xc3\xa9 \xe2\x82\xac", 12);
    CHECK_STR_EQ(out, "OK caf\xc3\xa9 \xe2\x82\xac");
    CHECK_UINT_EQ(n, 12);
}

static void test_escape_controls_and_bad_utf8(void)
{
    char out[128];
    /* ESC sequence, CR LF, DEL, C1 CSI (U+009B), a lone continuation byte,
       an overlong '/' (C0 AF), a surrogate (ED A0 80), a truncated 3-byte */
    static const char in[] = "\x1b[31mred\r\n\x7f\xc2\x9b\x80\xc0\xaf\xed\xa0\x80\xe2\x82";

    qr_text_escape(out, sizeof(out), in, sizeof(in) - 1);
    CHECK_STR_EQ(out, "\\x1b[31mred\\x0d\\x0a\\x7f\\xc2\\x9b\\x80\\xc0\\xaf"
                      "\\xed\\xa0\\x80\\xe2\\x82");
}

static void test_escape_cuts_with_ellipsis(void)
{
    char out[10];
    size_t n;

    n = qr_text_escape(out, sizeof(out), "abcdefghijklmnop", 16);
    CHECK_STR_EQ(out, "abcdef...");
    CHECK_UINT_EQ(n, 9);
    n = qr_text_escape(out, sizeof(out), "\x01\x02\x03", 3);
    CHECK_STR_EQ(out, "\\x01...");
    CHECK_UINT_EQ(n, 7);
}

static void test_utf8_decoder_is_strict(void)
{
    unsigned long cp = 0;

    CHECK_UINT_EQ(qr_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    CHECK_UINT_EQ(cp, 0x1F600);
    CHECK_UINT_EQ(qr_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
    CHECK_UINT_EQ(qr_utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp), 0);
    CHECK_UINT_EQ(qr_utf8_decode((const unsigned char *)"\xf0\x8f\xbf\xbf", 4, &cp), 0);
    CHECK_UINT_EQ(qr_utf8_decode((const unsigned char *)"\xc3", 1, &cp), 0);
}

struct captured {
    int calls;
    qr_log_level level;
    qr_log_category cat;
    char text[QR_LOG_LINE_MAX + 8];
    size_t len;
};

static void capture(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                    void *payload)
{
    struct captured *c = payload;

    c->calls++;
    c->level = level;
    c->cat = cat;
    c->len = len;
    memcpy(c->text, text, len + 1);
}

static void test_logger_threshold_and_escaping(void)
{
    struct captured c;
    qr_logger lg;

    memset(&c, 0, sizeof(c));
    qr_logger_init(&lg, capture, &c, QR_LOG_INFO);
    qr_log(&lg, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: %s", "* OK");
    CHECK_INT_EQ(c.calls, 0);
    CHECK(!qr_logger_enabled(&lg, QR_LOG_DEBUG));
    qr_log(&lg, QR_LOG_WARNING, QR_LOG_EVENT, "[ALERT] %s", "bad\r\nline\x1b");
    CHECK_INT_EQ(c.calls, 1);
    CHECK_INT_EQ(c.level, QR_LOG_WARNING);
    CHECK_INT_EQ(c.cat, QR_LOG_EVENT);
    CHECK_STR_EQ(c.text, "[ALERT] bad\\x0d\\x0aline\\x1b");
    CHECK_UINT_EQ(c.len, strlen(c.text));
}

static void test_logger_without_callback_is_silent(void)
{
    qr_logger lg;

    qr_logger_init(&lg, NULL, NULL, QR_LOG_TRACE);
    CHECK(!qr_logger_enabled(&lg, QR_LOG_ERROR));
    qr_log(&lg, QR_LOG_ERROR, QR_LOG_EVENT, "%s", "nobody hears this");
}

static void test_logger_cuts_long_lines(void)
{
    static char big[QR_LOG_LINE_MAX * 2];
    struct captured c;
    qr_logger lg;

    memset(big, 'y', sizeof(big) - 1);
    memset(&c, 0, sizeof(c));
    qr_logger_init(&lg, capture, &c, QR_LOG_TRACE);
    qr_log(&lg, QR_LOG_TRACE, QR_LOG_WIRE_OUT, "%s", big);
    CHECK_INT_EQ(c.calls, 1);
    CHECK(c.len < QR_LOG_LINE_MAX);
    CHECK_STR_EQ(c.text + c.len - 3, "...");
    CHECK_UINT_EQ(c.len, strlen(c.text));
}

int main(void)
{
    TAP_RUN(test_escape_keeps_printable_and_utf8);
    TAP_RUN(test_escape_controls_and_bad_utf8);
    TAP_RUN(test_escape_cuts_with_ellipsis);
    TAP_RUN(test_utf8_decoder_is_strict);
    TAP_RUN(test_logger_threshold_and_escaping);
    TAP_RUN(test_logger_without_callback_is_silent);
    TAP_RUN(test_logger_cuts_long_lines);
    return tap_done();
}
