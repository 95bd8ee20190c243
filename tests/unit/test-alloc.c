/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the allocation wrappers and their failure hook. */
#include "config.h"

#include <stdint.h>

#include "../tap.h"
#include "util/alloc.h"

static void test_zero_size_gives_a_pointer(void)
{
    void *p = qr_malloc(0), *q = qr_calloc(0, 8), *r = qr_realloc(NULL, 0);

    CHECK(p != NULL);
    CHECK(q != NULL);
    CHECK(r != NULL);
    qr_free(p);
    qr_free(q);
    qr_free(r);
    qr_free(NULL);
}

static void test_array_overflow_is_refused(void)
{
    CHECK(qr_mallocarray(SIZE_MAX / 2, 4) == NULL);
    CHECK(qr_reallocarray(NULL, SIZE_MAX, SIZE_MAX) == NULL);
}

static void test_strdup_and_memdup0(void)
{
    char *a = qr_strdup("mailbox"), *b = qr_memdup0("a\0bc", 4);

    CHECK_STR_EQ(a, "mailbox");
    CHECK_MEM_EQ(b, 4, "a\0bc", 4);
    CHECK_INT_EQ(b[4], '\0');
    qr_free(a);
    qr_free(b);
}

static void test_fail_hook_fails_exactly_the_nth(void)
{
    void *p1, *p2, *p3, *p4;

    qr_alloc_fail_at(3, 0);
    p1 = qr_malloc(10);
    p2 = qr_calloc(1, 10);
    p3 = qr_malloc(10);
    p4 = qr_strdup("x");
    CHECK(p1 != NULL);
    CHECK(p2 != NULL);
    CHECK(p3 == NULL);
    CHECK(p4 != NULL);
    CHECK(qr_alloc_failed());
    CHECK_UINT_EQ(qr_alloc_count(), 4);
    qr_alloc_fail_at(0, 0);
    CHECK(!qr_alloc_failed());
    qr_free(p1);
    qr_free(p2);
    qr_free(p4);
}

static void test_sticky_hook_fails_every_later_one(void)
{
    void *p1, *p2, *p3;

    qr_alloc_fail_at(2, 1);
    p1 = qr_malloc(1);
    p2 = qr_malloc(1);
    p3 = qr_realloc(NULL, 1);
    CHECK(p1 != NULL);
    CHECK(p2 == NULL);
    CHECK(p3 == NULL);
    qr_alloc_fail_at(0, 0);
    p2 = qr_malloc(1);
    CHECK(p2 != NULL);
    qr_free(p1);
    qr_free(p2);
}

int main(void)
{
    TAP_RUN(test_zero_size_gives_a_pointer);
    TAP_RUN(test_array_overflow_is_refused);
    TAP_RUN(test_strdup_and_memdup0);
    TAP_RUN(test_fail_hook_fails_exactly_the_nth);
    TAP_RUN(test_sticky_hook_fails_every_later_one);
    return tap_done();
}
