/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocation wrappers used by every part of libqresync.
 *
 * All library allocations go through qr_malloc() and friends so that tests
 * can make the Nth allocation fail (qr_alloc_fail_at()) and check that every
 * path handles QR_ENOMEM without leaking or crashing. The counter is
 * thread-local and inactive unless a test arms it, so production builds pay
 * one predictable branch per allocation.
 *
 * Rules: a size of 0 is legal and returns a unique pointer (never NULL on
 * success); multiplications are overflow-checked (qr_mallocarray,
 * qr_reallocarray); qr_free(NULL) is a no-op.
 */
#ifndef QR_UTIL_ALLOC_H
#define QR_UTIL_ALLOC_H

#include <stddef.h>

void *qr_malloc(size_t size);
void *qr_calloc(size_t nmemb, size_t size);
void *qr_realloc(void *ptr, size_t size);
void *qr_mallocarray(size_t nmemb, size_t size);
void *qr_reallocarray(void *ptr, size_t nmemb, size_t size);
void qr_free(void *ptr);
/* Copy of the NUL-terminated s, or NULL on allocation failure. */
char *qr_strdup(const char *s);
/* Copy of len bytes plus a terminating NUL, or NULL on allocation failure. */
char *qr_memdup0(const void *p, size_t len);

/*
 * Test hook. After qr_alloc_fail_at(n) with n >= 1, the n-th allocation made
 * from now on by this thread fails, and so does every later one when
 * `sticky` is non-zero; qr_alloc_fail_at(0, 0) disarms. qr_alloc_count()
 * returns how many allocations this thread made since the last call of
 * qr_alloc_fail_at() (useful to learn how many points a test has).
 */
void qr_alloc_fail_at(unsigned long n, int sticky);
unsigned long qr_alloc_count(void);
/* Whether an armed failure has triggered since the last qr_alloc_fail_at(). */
int qr_alloc_failed(void);

#endif /* QR_UTIL_ALLOC_H */
