/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the DATA encoder (libqresync/smtp/smtp_data.c): CRLF
 * normalisation, dot-stuffing, the final ".", 8-bit transparency, and the
 * same bytes whatever the split of the input. Every expectation is the
 * exact wire form.
 */
#include "config.h"

#include <qresync/error.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "smtp/smtp_p.h"

/* Encode in[0..n) in pieces of `step` bytes (0: one piece) into out. */
static size_t encode(const char *in, size_t n, size_t step, char *out)
{
    qr_smtp_enc e;
    size_t i, o = 0;

    qr_smtp_enc_init(&e);
    if (step == 0)
        step = n > 0 ? n : 1;
    for (i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;

        o += qr_smtp_enc_update(&e, in + i, k, out + o);
    }
    o += qr_smtp_enc_finish(&e, out + o);
    CHECK_UINT_EQ(e.in, n);
    CHECK_UINT_EQ(e.out, o);
    return o;
}

#define CHECK_ENCODES(in, expected)                                                                \
    do {                                                                                           \
        char out_[4096];                                                                           \
        size_t n_ = encode((in), sizeof(in) - 1, 0, out_);                                         \
        CHECK_MEM_EQ(out_, n_, (expected), sizeof(expected) - 1);                                  \
    } while (0)

static void test_empty_body_is_just_the_dot(void)
{
    CHECK_ENCODES("", ".\r\n");
}

static void test_crlf_lines_pass_unchanged(void)
{
    CHECK_ENCODES("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
}

static void test_missing_final_line_break_gets_crlf(void)
{
    CHECK_ENCODES("a\r\nlast", "a\r\nlast\r\n.\r\n");
    CHECK_ENCODES("x", "x\r\n.\r\n");
}

static void test_bare_lf_becomes_crlf(void)
{
    CHECK_ENCODES("a\nb\n", "a\r\nb\r\n.\r\n");
    CHECK_ENCODES("\n\n", "\r\n\r\n.\r\n");
    CHECK_ENCODES("a\n\r\nb", "a\r\n\r\nb\r\n.\r\n");
}

static void test_bare_cr_becomes_crlf(void)
{
    CHECK_ENCODES("a\rb\r", "a\r\nb\r\n.\r\n");
    CHECK_ENCODES("\r\r\n", "\r\n\r\n.\r\n");
    CHECK_ENCODES("a\r\r\rb", "a\r\n\r\n\r\nb\r\n.\r\n");
    CHECK_ENCODES("\n\r", "\r\n\r\n.\r\n");
}

static void test_dot_stuffing_at_every_line_start(void)
{
    CHECK_ENCODES(".", "..\r\n.\r\n");
    CHECK_ENCODES(".hidden\r\n", "..hidden\r\n.\r\n");
    CHECK_ENCODES("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n");
    CHECK_ENCODES("..two\r\n", "...two\r\n.\r\n");
    /* after a bare LF and a bare CR too (the reference misses these) */
    CHECK_ENCODES("a\n.b", "a\r\n..b\r\n.\r\n");
    CHECK_ENCODES("a\r.b", "a\r\n..b\r\n.\r\n");
    /* not in the middle of a line */
    CHECK_ENCODES("a.b .\r\n", "a.b .\r\n.\r\n");
}

static void test_eight_bit_and_nul_bytes_are_untouched(void)
{
    static const char in[] = "caf\xc3\xa9 \xff\x80\x00z\r\n";
    static const char want[] = "caf\xc3\xa9 \xff\x80\x00z\r\n.\r\n";
    char out[64];
    size_t n = encode(in, sizeof(in) - 1, 0, out);

    CHECK_MEM_EQ(out, n, want, sizeof(want) - 1);
}

/* A body exercising every rule, split at every pair of points. */
static void test_every_split_gives_the_same_bytes(void)
{
    static const char in[] = ".a\r\n.\n\r.b\r\r\n..\nc\r";
    static const char want[] = "..a\r\n..\r\n\r\n..b\r\n\r\n...\r\nc\r\n.\r\n";
    size_t n = sizeof(in) - 1, i, j;
    int bad = 0;

    for (i = 0; i <= n; i++)
        for (j = i; j <= n; j++) {
            qr_smtp_enc e;
            char out[128];
            size_t o = 0;

            qr_smtp_enc_init(&e);
            o += qr_smtp_enc_update(&e, in, i, out + o);
            o += qr_smtp_enc_update(&e, in + i, j - i, out + o);
            o += qr_smtp_enc_update(&e, in + j, n - j, out + o);
            o += qr_smtp_enc_finish(&e, out + o);
            if (o != sizeof(want) - 1 || memcmp(out, want, o) != 0)
                bad++;
        }
    CHECK_INT_EQ(bad, 0);
    for (i = 1; i <= n; i++) { /* fixed chunk sizes, byte by byte included */
        char out[128];
        size_t o = encode(in, n, i, out);

        CHECK_MEM_EQ(out, o, want, sizeof(want) - 1);
    }
}

/* The output never exceeds QR_SMTP_ENC_BOUND for the worst inputs. */
static void test_output_bound_holds(void)
{
    static const char *const worst[] = {"\r.\r.\r.\r.", "\n.\n.\n.", "\r\r\r\r\r", ".", "\r"};
    size_t i;

    for (i = 0; i < sizeof(worst) / sizeof(worst[0]); i++) {
        size_t n = strlen(worst[i]), k, o = 0;
        qr_smtp_enc e;
        char out[64];

        qr_smtp_enc_init(&e);
        for (k = 0; k < n; k++) {
            size_t w = qr_smtp_enc_update(&e, worst[i] + k, 1, out);

            CHECK(w <= QR_SMTP_ENC_BOUND(1));
            o += w;
        }
        CHECK(o <= QR_SMTP_ENC_BOUND(n));
        CHECK(qr_smtp_enc_finish(&e, out) <= QR_SMTP_ENC_FINISH_MAX);
    }
}

/* A long pseudo-random body: chunked output equals whole output, and
 * undoing the transparency gives the input with line breaks as CRLF. */
static void test_random_bodies_round_trip(void)
{
    static const char alphabet[] = "ab.\r\n\xe9";
    char in[2000], whole[8192], chunked[8192], norm[4096];
    size_t round;
    unsigned seed = 12345;

    for (round = 0; round < 50; round++) {
        size_t n = 0, i, a, b, k = 0;
        int bol = 1;

        for (i = 0; i < sizeof(in); i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        n = (seed >> 8) % sizeof(in);
        a = encode(in, n, 0, whole);
        b = encode(in, n, 1 + round % 17, chunked);
        CHECK_MEM_EQ(chunked, b, whole, a);
        /* the oracle: normalise line breaks, then stuff */
        for (i = 0; i < n; i++) {
            if (in[i] == '\r' || in[i] == '\n') {
                if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                    i++;
                norm[k++] = '\r';
                norm[k++] = '\n';
                bol = 1;
                continue;
            }
            if (bol && in[i] == '.')
                norm[k++] = '.';
            norm[k++] = in[i];
            bol = 0;
        }
        if (!bol) {
            norm[k++] = '\r';
            norm[k++] = '\n';
        }
        memcpy(norm + k, ".\r\n", 3);
        k += 3;
        CHECK_MEM_EQ(whole, a, norm, k);
        /* no bare LF and no bare CR anywhere */
        for (i = 0; i < a; i++) {
            if (whole[i] == '\n')
                CHECK(i > 0 && whole[i - 1] == '\r');
            if (whole[i] == '\r')
                CHECK(i + 1 < a && whole[i + 1] == '\n');
        }
    }
}

int main(void)
{
    TAP_RUN(test_empty_body_is_just_the_dot);
    TAP_RUN(test_crlf_lines_pass_unchanged);
    TAP_RUN(test_missing_final_line_break_gets_crlf);
    TAP_RUN(test_bare_lf_becomes_crlf);
    TAP_RUN(test_bare_cr_becomes_crlf);
    TAP_RUN(test_dot_stuffing_at_every_line_start);
    TAP_RUN(test_eight_bit_and_nul_bytes_are_untouched);
    TAP_RUN(test_every_split_gives_the_same_bytes);
    TAP_RUN(test_output_bound_holds);
    TAP_RUN(test_random_bodies_round_trip);
    return tap_done();
}
