/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xalloc.c: allocation wrappers for the tools (see xalloc.h).
 *
 * This is the one place in tools/common/ that prints: a failed allocation
 * cannot be reported through an error slot that itself needs memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "xalloc.h"

void qrt_oom(void)
{
    static const char text[] = "out of memory\n";

    if (write(STDERR_FILENO, text, sizeof(text) - 1) < 0) {
        /* nothing more we can do */
    }
    _exit(QRT_EXIT_FATAL);
}

void *qrt_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        qrt_oom();
    return p;
}

void *qrt_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        qrt_oom();
    return p;
}

void *qrt_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p;

    if (size != 0 && nmemb > SIZE_MAX / size)
        qrt_oom();
    p = realloc(ptr, nmemb * size != 0 ? nmemb * size : 1);
    if (p == NULL)
        qrt_oom();
    return p;
}

char *qrt_xstrdup(const char *s)
{
    return qrt_xstrndup(s, strlen(s));
}

char *qrt_xstrndup(const char *s, size_t len)
{
    char *p = qrt_xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
