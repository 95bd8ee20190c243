/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the capped growable buffer (libqresync/util/dynbuf.c). */
#include "config.h"

#include <qresync/error.h>

#include "../tap.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

static void test_empty_buffer_is_empty_string(void)
{
    qr_dynbuf b;

    qr_dynbuf_init(&b, 16);
    CHECK(b.ptr == NULL);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "");
    CHECK_UINT_EQ(b.len, 0);
    qr_dynbuf_free(&b);
}

static void test_add_keeps_nul_terminated(void)
{
    qr_dynbuf b;

    qr_dynbuf_init(&b, 100);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "abc", 3), 0);
    CHECK_INT_EQ(qr_dynbuf_addc(&b, 'd'), 0);
    CHECK_INT_EQ(qr_dynbuf_addf(&b, "-%d-%s", 42, "x"), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "abcd-42-x");
    CHECK_UINT_EQ(b.len, 9);
    CHECK_INT_EQ(b.ptr[b.len], '\0');
    qr_dynbuf_free(&b);
}

static void test_cap_is_exact_and_failure_leaves_buffer_unchanged(void)
{
    qr_dynbuf b;

    qr_dynbuf_init(&b, 5);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "abcd", 4), 0);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "ef", 2), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "abcd");
    CHECK_INT_EQ(qr_dynbuf_addc(&b, 'e'), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "abcde");
    CHECK_INT_EQ(qr_dynbuf_addc(&b, 'f'), QR_ELIMIT);
    CHECK_INT_EQ(qr_dynbuf_addf(&b, "%s", "g"), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "abcde");
    /* never more than max + 1 bytes allocated */
    CHECK_UINT_EQ(b.alloc, 6);
    qr_dynbuf_free(&b);
}

static void test_growth_is_bounded_by_cap(void)
{
    qr_dynbuf b;
    size_t i;
    int rc = 0;

    qr_dynbuf_init(&b, 1000);
    for (i = 0; i < 1000 && rc == 0; i++)
        rc = qr_dynbuf_addc(&b, (char)('a' + i % 26));
    CHECK_INT_EQ(rc, 0);
    CHECK_UINT_EQ(b.len, 1000);
    CHECK_UINT_EQ(b.alloc, 1001);
    CHECK_INT_EQ(qr_dynbuf_addc(&b, 'x'), QR_ELIMIT);
    CHECK_INT_EQ(b.ptr[999], 'a' + 999 % 26);
    qr_dynbuf_free(&b);
}

static void test_embedded_nul_bytes_are_kept(void)
{
    qr_dynbuf b;

    qr_dynbuf_init(&b, 64);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "a\0b", 3), 0);
    CHECK_MEM_EQ(b.ptr, b.len, "a\0b", 3);
    qr_dynbuf_free(&b);
}

static void test_consume_and_reset(void)
{
    qr_dynbuf b;

    qr_dynbuf_init(&b, 64);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "hello world", 11), 0);
    qr_dynbuf_consume(&b, 6);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "world");
    qr_dynbuf_consume(&b, 99);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "");
    CHECK_INT_EQ(qr_dynbuf_add(&b, "x", 1), 0);
    qr_dynbuf_reset(&b);
    CHECK_UINT_EQ(b.len, 0);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "");
    qr_dynbuf_free(&b);
}

static void test_detach_hands_ownership_to_qr_buf(void)
{
    qr_dynbuf b;
    qr_buf out = QR_BUF_INIT;

    qr_dynbuf_init(&b, 64);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "mine", 4), 0);
    CHECK_INT_EQ(qr_dynbuf_detach(&b, &out), 0);
    CHECK(b.ptr == NULL);
    CHECK_UINT_EQ(b.len, 0);
    CHECK_STR_EQ(out.ptr, "mine");
    CHECK_UINT_EQ(out.size, 4);
    CHECK(out.reserved >= 5);
    qr_buf_dispose(&out);
    CHECK(out.ptr == NULL);
    CHECK_UINT_EQ(out.size, 0);
    /* an empty buffer detaches as an allocated "" */
    CHECK_INT_EQ(qr_dynbuf_detach(&b, &out), 0);
    CHECK_STR_EQ(out.ptr, "");
    qr_buf_dispose(&out);
    qr_buf_dispose(NULL);
}

/* Every allocation point fails once in turn: QR_ENOMEM, buffer unchanged. */
static void test_allocation_failures(void)
{
    unsigned long n, points;
    qr_dynbuf b;
    int rc;

    qr_alloc_fail_at(0, 0);
    qr_dynbuf_init(&b, 4096);
    for (n = 0; n < 300; n++)
        (void)qr_dynbuf_addc(&b, 'z');
    points = qr_alloc_count();
    qr_dynbuf_free(&b);
    CHECK(points >= 3);

    for (n = 1; n <= points; n++) {
        unsigned long i, len_before = 0;

        qr_dynbuf_init(&b, 4096);
        qr_alloc_fail_at(n, 0);
        rc = 0;
        for (i = 0; i < 300; i++) {
            len_before = b.len;
            rc = qr_dynbuf_addc(&b, 'z');
            if (rc != 0)
                break;
        }
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK_UINT_EQ(b.len, len_before);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        qr_dynbuf_free(&b);
    }
}

int main(void)
{
    TAP_RUN(test_empty_buffer_is_empty_string);
    TAP_RUN(test_add_keeps_nul_terminated);
    TAP_RUN(test_cap_is_exact_and_failure_leaves_buffer_unchanged);
    TAP_RUN(test_growth_is_bounded_by_cap);
    TAP_RUN(test_embedded_nul_bytes_are_kept);
    TAP_RUN(test_consume_and_reset);
    TAP_RUN(test_detach_hands_ownership_to_qr_buf);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
