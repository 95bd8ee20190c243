/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocation wrappers with a failure-injection hook (see alloc.h).
 *
 * The hook state is thread-local so that tests can run allocation-failure
 * loops in one thread without touching others; it is the only mutable
 * static state in the library and it is inert until a test arms it.
 */
#include "config.h"

#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local unsigned long alloc_count;   /* allocations since arming */
static _Thread_local unsigned long alloc_fail_at; /* 0: disarmed */
static _Thread_local int alloc_fail_sticky;       /* fail every one after too */
static _Thread_local int alloc_did_fail;          /* an injected failure happened */

void qr_alloc_fail_at(unsigned long n, int sticky)
{
    alloc_count = 0;
    alloc_fail_at = n;
    alloc_fail_sticky = sticky;
    alloc_did_fail = 0;
}

unsigned long qr_alloc_count(void)
{
    return alloc_count;
}

int qr_alloc_failed(void)
{
    return alloc_did_fail;
}

/* Count one allocation; return non-zero if the hook says it must fail. */
static int alloc_should_fail(void)
{
    alloc_count++;
    if (alloc_fail_at == 0)
        return 0;
    if (alloc_count == alloc_fail_at || (alloc_fail_sticky && alloc_count > alloc_fail_at)) {
        alloc_did_fail = 1;
        return 1;
    }
    return 0;
}

void *qr_malloc(size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *qr_calloc(size_t nmemb, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    if (nmemb == 0 || size == 0)
        return calloc(1, 1);
    return calloc(nmemb, size);
}

void *qr_realloc(void *ptr, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void *qr_mallocarray(size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    return qr_malloc(nmemb * size);
}

void *qr_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    return qr_realloc(ptr, nmemb * size);
}

void qr_free(void *ptr)
{
    free(ptr);
}

char *qr_memdup0(const void *p, size_t len)
{
    char *copy;

    if (len == SIZE_MAX)
        return NULL;
    copy = qr_malloc(len + 1);
    if (copy == NULL)
        return NULL;
    if (len)
        memcpy(copy, p, len);
    copy[len] = '\0';
    return copy;
}

char *qr_strdup(const char *s)
{
    return qr_memdup0(s, strlen(s));
}
