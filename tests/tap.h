/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tap.h: the assertion macros and TAP output used by every C test.
 *
 * A test program is a list of `static void test_x(void)` functions run by
 * TAP_RUN(test_x) from main(), which ends with `return tap_done();`. Each
 * run prints one `ok N - test_x` or `not ok N - test_x` line; a failing
 * CHECK prints a `#` diagnostic with the file, the line and both values,
 * and the test goes on so that one run shows every failure. The plan line
 * `1..N` comes last (TAP allows that) so tests need no count up front.
 * Meson reads this with `protocol: 'tap'`.
 */
#ifndef QR_TESTS_TAP_H
#define QR_TESTS_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;       /* tests run so far */
static int tap_failures;    /* failed tests so far */
static int tap_current_bad; /* the running test has a failed check */

static inline void tap_fail_(const char *file, int line, const char *what)
{
    tap_current_bad = 1;
    printf("# %s:%d: check failed: %s\n", file, line, what);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tap_fail_(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        intmax_t tap_a_ = (intmax_t)(a), tap_b_ = (intmax_t)(b);                                   \
        if (tap_a_ != tap_b_) {                                                                    \
            tap_fail_(__FILE__, __LINE__, #a " == " #b);                                           \
            printf("#   left:  %jd\n#   right: %jd\n", tap_a_, tap_b_);                            \
        }                                                                                          \
    } while (0)

#define CHECK_UINT_EQ(a, b)                                                                        \
    do {                                                                                           \
        uintmax_t tap_a_ = (uintmax_t)(a), tap_b_ = (uintmax_t)(b);                                \
        if (tap_a_ != tap_b_) {                                                                    \
            tap_fail_(__FILE__, __LINE__, #a " == " #b);                                           \
            printf("#   left:  %ju\n#   right: %ju\n", tap_a_, tap_b_);                            \
        }                                                                                          \
    } while (0)

static inline void tap_print_bytes_(const char *label, const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;

    printf("#   %s (%zu bytes): \"", label, n);
    for (i = 0; i < n && i < 400; i++) {
        if (s[i] == '\\' || s[i] == '"')
            printf("\\%c", s[i]);
        else if (s[i] >= 0x20 && s[i] < 0x7f)
            putchar(s[i]);
        else
            printf("\\x%02x", s[i]);
    }
    printf("%s\"\n", i < n ? "..." : "");
}

#define CHECK_MEM_EQ(a, alen, b, blen)                                                             \
    do {                                                                                           \
        const void *tap_a_ = (a), *tap_b_ = (b);                                                   \
        size_t tap_al_ = (alen), tap_bl_ = (blen);                                                 \
        if (tap_al_ != tap_bl_ || (tap_al_ && memcmp(tap_a_, tap_b_, tap_al_) != 0)) {             \
            tap_fail_(__FILE__, __LINE__, #a " == " #b);                                           \
            tap_print_bytes_("left ", tap_a_, tap_al_);                                            \
            tap_print_bytes_("right", tap_b_, tap_bl_);                                            \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *tap_sa_ = (a), *tap_sb_ = (b);                                                 \
        if (tap_sa_ == NULL || tap_sb_ == NULL) {                                                  \
            if (tap_sa_ != tap_sb_) {                                                              \
                tap_fail_(__FILE__, __LINE__, #a " == " #b);                                       \
                printf("#   left:  %s\n#   right: %s\n", tap_sa_ ? tap_sa_ : "(null)",             \
                       tap_sb_ ? tap_sb_ : "(null)");                                              \
            }                                                                                      \
        } else {                                                                                   \
            CHECK_MEM_EQ(tap_sa_, strlen(tap_sa_), tap_sb_, strlen(tap_sb_));                      \
        }                                                                                          \
    } while (0)

static inline void tap_run_(void (*fn)(void), const char *name)
{
    tap_current_bad = 0;
    fn();
    tap_count++;
    if (tap_current_bad)
        tap_failures++;
    printf("%sok %d - %s\n", tap_current_bad ? "not " : "", tap_count, name);
    fflush(stdout);
}

#define TAP_RUN(fn) tap_run_(fn, #fn)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failures ? 1 : 0;
}

#endif /* QR_TESTS_TAP_H */
