/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xalloc.h: allocation for the tools: out of memory ends the program.
 *
 * The library reports ENOMEM to its caller; the tools are that caller and
 * have nothing better to do than to stop, so their helpers allocate
 * through these wrappers, which print "out of memory" and exit with
 * QRT_EXIT_FATAL when malloc fails. This keeps every other helper's error
 * path about the user's input only.
 */
#ifndef QRT_XALLOC_H
#define QRT_XALLOC_H

#include <stddef.h>

/** Print "out of memory" on stderr and exit(QRT_EXIT_FATAL). */
_Noreturn void qrt_oom(void);
/** malloc that never returns NULL (size 0 allocates 1 byte). */
void *qrt_xmalloc(size_t size);
/** calloc that never returns NULL; checks nmemb * size for overflow. */
void *qrt_xcalloc(size_t nmemb, size_t size);
/** realloc of nmemb * size bytes that never returns NULL. */
void *qrt_xreallocarray(void *ptr, size_t nmemb, size_t size);
/** strdup that never returns NULL. */
char *qrt_xstrdup(const char *s);
/** A NUL-terminated copy of the first len bytes of s. */
char *qrt_xstrndup(const char *s, size_t len);

#endif /* QRT_XALLOC_H */
