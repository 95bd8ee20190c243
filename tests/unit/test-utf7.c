/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for modified UTF-7 (libqresync/util/utf7.c): RFC 3501 and
 * edge-case tables in both directions, every rejection, round trips, and
 * a cross-check against glibc's iconv "UTF-7-IMAP" when it has one.
 */
#include "config.h"

#include <iconv.h>
#include <qresync/error.h>

#include "../tap.h"
#include "util/alloc.h"
#include "util/dynbuf.h"
#include "util/utf7.h"

/* Valid pairs: decoding utf7 gives utf8 and encoding utf8 gives utf7. */
static const struct {
    const char *utf8, *utf7;
} pairs[] = {
    {"", ""},
    {"INBOX", "INBOX"},
    {"a b-c", "a b-c"},
    {"-", "-"},
    {"&", "&-"},
    {"&&", "&-&-"},
    {"1&1", "1&-1"},
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"\t", "&AAk-"},
    {"m\x7fll", "m&AH8-ll"},
    {"\t&", "&AAk-&-"},
    {"\t&\t", "&AAk-&-&AAk-"},
    {"&\t", "&-&AAk-"},
    {"\xc3\xa4", "&AOQ-"},
    {"\xc3\xa4\xc3\xb6", "&AOQA9g-"},
    {"\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-"},
    {"\xc3\xa4&\xc3\xb6", "&AOQ-&-&APY-"},
    {"&\xc3\xa4", "&-&AOQ-"},
    {"\xc3\xa4 x \xc3\xb6", "&AOQ- x &APY-"},
    {"m\xc3\xbcll", "m&APw-ll"},
    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
    {"\xc3\xbc"
     "ber",
     "&APw-ber"},
    {"\xc2\x85", "&AIU-"},            /* a C1 control */
    {"\xe1\xb8\x80", "&HgA-"},        /* U+1E00 */
    {"\xef\xbf\xbd", "&,,0-"},        /* U+FFFD: ',' is base64 63 */
    {"\xef\xbb\xbf", "&,v8-"},        /* U+FEFF */
    {"\xf0\x9f\x98\x82", "&2D3eAg-"}, /* U+1F602, a surrogate pair */
    {"\xf0\x9f\x98\x88\xf0\x9f\x98\x8e", "&2D3eCNg93g4-"},
    {"\xc3\xa4\xf0\x9f\x98\x82\xc3\xb6", "&AOTYPd4CAPY-"}, /* BMP, astral, BMP in one run */
    {"\xf0\x90\x80\x80", "&2ADcAA-"},                      /* U+10000 */
    {"\xf4\x8f\xbf\xbf", "&2,,f,w-"},                      /* U+10FFFF */
};

/* Modified UTF-7 that must be rejected. */
static const char *const bad_utf7[] = {
    "\x1f",        "a\tb",       "\x7f",     "\x80",     "\xc3\xa4",
    "a\x01",                                                        /* bytes outside 0x20..0x7e */
    "&",           "x&",         "&AOQ",     "&AOQA9g",  "&AOQ x-", /* '&' not closed by '-' */
    "&&-",         "&AOQ/-",     "&AOQ=-",   "&/-",      "&AO.Q-",
    "&AOQ\x80-",                                                     /* not modified base64 */
    "&ACY-",       "&AGE-",      "&ACA-",    "&AH4-",    "&AOQAYQ-", /* printable ASCII shifted */
    "&AOQ-&APY-",  "&AAk-&AAk-",          /* two shifts that must be one */
    "&AOR-",       "&AOT-",      "&APx-", /* non-zero padding bits */
    "&A-",         "&AA-",       "&AOQA-",   "&AOQAA-",  "&AOQAAA-", /* 6 or more padding bits */
    "&AAA-",       "&AOQAAA-",                                       /* encoded NUL */
    "&2D0-",       "&3gI-",      "&3gLYPQ-", "&2D0AYQ-", "&2D0A5A-",
    "&2D0-x&3gI-", /* surrogates */
};

/* UTF-8 that cannot be encoded. */
static const struct {
    const char *s;
    size_t len;
} bad_utf8[] = {
    {"\x83\x84", 2},         {"\xc3\xc4", 2},     {"\xc3", 1},     {"\xe1\xc8\x80", 3},
    {"\xe1\xb8", 2},         {"\xed\xa0\x80", 3}, {"\xc0\xaf", 2}, {"\xf4\x90\x80\x80", 4},
    {"\xf8\x9f\x98\x82", 4}, {"a\0b", 3},         {"\0", 1},       {"ok\xff", 3},
};

#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

static void test_encode_table(void)
{
    size_t i;

    for (i = 0; i < NPAIRS; i++) {
        qr_dynbuf d;
        qr_dynbuf_init(&d, 1024);
        CHECK_INT_EQ(qr_utf7_encode(&d, pairs[i].utf8, strlen(pairs[i].utf8)), 0);
        CHECK_STR_EQ(qr_dynbuf_str(&d), pairs[i].utf7);
        qr_dynbuf_free(&d);
    }
}

static void test_decode_table(void)
{
    size_t i;

    for (i = 0; i < NPAIRS; i++) {
        qr_dynbuf d;
        qr_dynbuf_init(&d, 1024);
        CHECK_INT_EQ(qr_utf7_decode(&d, pairs[i].utf7, strlen(pairs[i].utf7)), 0);
        CHECK_STR_EQ(qr_dynbuf_str(&d), pairs[i].utf8);
        CHECK_INT_EQ(qr_utf7_valid(pairs[i].utf7, strlen(pairs[i].utf7)), 1);
        qr_dynbuf_free(&d);
    }
}

/* Round trips both ways, appending after existing content. */
static void test_round_trips(void)
{
    size_t i;

    for (i = 0; i < NPAIRS; i++) {
        qr_dynbuf a, b;
        qr_dynbuf_init(&a, 1024);
        qr_dynbuf_init(&b, 1024);
        CHECK_INT_EQ(qr_dynbuf_add(&a, "[", 1), 0);
        CHECK_INT_EQ(qr_dynbuf_add(&b, "[", 1), 0);
        CHECK_INT_EQ(qr_utf7_decode(&a, pairs[i].utf7, strlen(pairs[i].utf7)), 0);
        CHECK_INT_EQ(qr_utf7_encode(&b, a.ptr + 1, a.len - 1), 0);
        CHECK_MEM_EQ(b.ptr + 1, b.len - 1, pairs[i].utf7, strlen(pairs[i].utf7));
        CHECK_INT_EQ(a.ptr[0], '[');
        qr_dynbuf_free(&a);
        qr_dynbuf_free(&b);
    }
}

static void test_decode_rejections_leave_output_unchanged(void)
{
    size_t i;

    for (i = 0; i < sizeof(bad_utf7) / sizeof(bad_utf7[0]); i++) {
        qr_dynbuf d;
        qr_dynbuf_init(&d, 1024);
        CHECK_INT_EQ(qr_dynbuf_add(&d, "keep", 4), 0);
        CHECK_INT_EQ(qr_utf7_decode(&d, bad_utf7[i], strlen(bad_utf7[i])), QR_EINVAL);
        CHECK_STR_EQ(qr_dynbuf_str(&d), "keep");
        CHECK_UINT_EQ(d.len, 4);
        CHECK_INT_EQ(qr_utf7_valid(bad_utf7[i], strlen(bad_utf7[i])), 0);
        qr_dynbuf_free(&d);
    }
    CHECK_INT_EQ(qr_utf7_valid("a\0b", 3), 0);
}

static void test_encode_rejections_leave_output_unchanged(void)
{
    size_t i;

    for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        qr_dynbuf d;
        qr_dynbuf_init(&d, 1024);
        CHECK_INT_EQ(qr_dynbuf_add(&d, "keep", 4), 0);
        CHECK_INT_EQ(qr_utf7_encode(&d, bad_utf8[i].s, bad_utf8[i].len), QR_EINVAL);
        CHECK_STR_EQ(qr_dynbuf_str(&d), "keep");
        qr_dynbuf_free(&d);
    }
}

/* A cap that cuts the output: QR_ELIMIT, nothing appended; exact cap works. */
static void test_limits(void)
{
    const char *utf8 = pairs[7].utf8, *utf7 = pairs[7].utf7;
    qr_dynbuf d;

    qr_dynbuf_init(&d, strlen(utf7) - 1);
    CHECK_INT_EQ(qr_utf7_encode(&d, utf8, strlen(utf8)), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&d), "");
    qr_dynbuf_free(&d);
    qr_dynbuf_init(&d, strlen(utf7));
    CHECK_INT_EQ(qr_utf7_encode(&d, utf8, strlen(utf8)), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&d), utf7);
    qr_dynbuf_free(&d);
    qr_dynbuf_init(&d, strlen(utf8) - 1);
    CHECK_INT_EQ(qr_utf7_decode(&d, utf7, strlen(utf7)), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&d), "");
    qr_dynbuf_free(&d);
}

/* Every allocation failing in turn: QR_ENOMEM and the output as it was. */
static void test_allocation_failures(void)
{
    const char *utf8 = pairs[7].utf8, *utf7 = pairs[7].utf7;
    int dir;

    for (dir = 0; dir < 2; dir++) {
        const char *in = dir ? utf7 : utf8;
        unsigned long n, points;
        qr_dynbuf d;
        int rc;

        qr_alloc_fail_at(0, 0);
        qr_dynbuf_init(&d, 4096);
        rc = dir ? qr_utf7_decode(&d, in, strlen(in)) : qr_utf7_encode(&d, in, strlen(in));
        CHECK_INT_EQ(rc, 0);
        points = qr_alloc_count();
        qr_dynbuf_free(&d);
        CHECK(points >= 1);
        for (n = 1; n <= points; n++) {
            qr_dynbuf_init(&d, 4096);
            qr_alloc_fail_at(n, 0);
            rc = dir ? qr_utf7_decode(&d, in, strlen(in)) : qr_utf7_encode(&d, in, strlen(in));
            qr_alloc_fail_at(0, 0);
            CHECK_INT_EQ(rc, QR_ENOMEM);
            CHECK_UINT_EQ(d.len, 0);
            qr_dynbuf_free(&d);
        }
    }
}

/* Deterministic xorshift for the random cross-checks. */
static uint32_t rng_state = 88172645u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state % n;
}

/* Append code point cp as UTF-8 to buf at *len. */
static void put_cp(char *buf, size_t *len, uint32_t cp)
{
    unsigned char *u = (unsigned char *)buf + *len;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        *len += 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        *len += 4;
    }
}

/* Random valid UTF-8 without NUL: ASCII, '&', controls, BMP, astral. */
static size_t random_utf8(char *buf)
{
    size_t len = 0, n = rnd(12), k;

    for (k = 0; k < n; k++) {
        uint32_t kind = rnd(6), cp;
        if (kind == 0)
            cp = 0x20 + rnd(0x5f);
        else if (kind == 1)
            cp = '&';
        else if (kind == 2)
            cp = 1 + rnd(0x9f); /* C0, ASCII, DEL, C1 */
        else if (kind == 3)
            cp = 0xa0 + rnd(0xd800 - 0xa0);
        else if (kind == 4)
            cp = 0xe000 + rnd(0x2000);
        else
            cp = 0x10000 + rnd(0x100000);
        put_cp(buf, &len, cp);
    }
    return len;
}

/* Convert with iconv; returns the length, or (size_t)-1. */
static size_t iconv_all(iconv_t cd, const char *in, size_t inlen, char *out, size_t cap)
{
    char *ip = (char *)(uintptr_t)in, *op = out;
    size_t il = inlen, ol = cap;

    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1)
        return (size_t)-1;
    return cap - ol;
}

/* Random strings encoded by us and by glibc agree, and decode back. */
static void test_matches_glibc_utf7_imap(iconv_t to7, iconv_t from7)
{
    int round;

    for (round = 0; round < 5000; round++) {
        char utf8[64], theirs[256], back[64];
        size_t len = random_utf8(utf8), tlen, blen;
        qr_dynbuf ours, dec;

        qr_dynbuf_init(&ours, 1024);
        qr_dynbuf_init(&dec, 1024);
        CHECK_INT_EQ(qr_utf7_encode(&ours, utf8, len), 0);
        tlen = iconv_all(to7, utf8, len, theirs, sizeof(theirs));
        CHECK(tlen != (size_t)-1);
        if (tlen != (size_t)-1)
            CHECK_MEM_EQ(ours.ptr ? ours.ptr : "", ours.len, theirs, tlen);
        blen = iconv_all(from7, qr_dynbuf_str(&ours), ours.len, back, sizeof(back));
        CHECK_MEM_EQ(back, blen == (size_t)-1 ? 0 : blen, utf8, len);
        CHECK_INT_EQ(qr_utf7_decode(&dec, qr_dynbuf_str(&ours), ours.len), 0);
        CHECK_MEM_EQ(qr_dynbuf_str(&dec), dec.len, utf8, len);
        qr_dynbuf_free(&ours);
        qr_dynbuf_free(&dec);
        if (tap_current_bad)
            break;
    }
}

/* Without iconv's UTF-7-IMAP (older glibc), report the case as skipped. */
static void run_iconv_cross_check(void)
{
    iconv_t to7 = iconv_open("UTF-7-IMAP", "UTF-8");
    iconv_t from7 = iconv_open("UTF-8", "UTF-7-IMAP");

    if (to7 == (iconv_t)-1 || from7 == (iconv_t)-1) {
        if (to7 != (iconv_t)-1)
            iconv_close(to7);
        if (from7 != (iconv_t)-1)
            iconv_close(from7);
        tap_count++;
        printf("ok %d - test_matches_glibc_utf7_imap # SKIP iconv has no UTF-7-IMAP\n", tap_count);
        return;
    }
    tap_current_bad = 0;
    test_matches_glibc_utf7_imap(to7, from7);
    tap_count++;
    if (tap_current_bad)
        tap_failures++;
    printf("%sok %d - test_matches_glibc_utf7_imap\n", tap_current_bad ? "not " : "", tap_count);
    iconv_close(to7);
    iconv_close(from7);
}

int main(void)
{
    TAP_RUN(test_encode_table);
    TAP_RUN(test_decode_table);
    TAP_RUN(test_round_trips);
    TAP_RUN(test_decode_rejections_leave_output_unchanged);
    TAP_RUN(test_encode_rejections_leave_output_unchanged);
    TAP_RUN(test_limits);
    TAP_RUN(test_allocation_failures);
    run_iconv_cross_check();
    return tap_done();
}
