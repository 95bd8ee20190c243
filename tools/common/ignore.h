/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ignore.h: interimap's ignore-mailbox setting (interimap.md §3.2): a
 * Perl-compatible regular expression matched, unanchored, against
 * internal mailbox names (hierarchy delimiters replaced by NUL bytes).
 */
#ifndef QRT_IGNORE_H
#define QRT_IGNORE_H

#include <stddef.h>

#include "err.h"

struct qrt_ignore;

/**
 * Compile pattern with PCRE2. Error (status 255): "Invalid ignore-mailbox
 * PATTERN: MESSAGE at offset N". Unlike the reference, which compiled it
 * only when the mailbox list was first reconciled, a bad pattern fails at
 * start-up.
 */
int qrt_ignore_compile(const char *pattern, struct qrt_ignore **out, struct qrt_err *err);

/**
 * 1 if the internal name (len bytes, may contain NUL) matches, 0 if not,
 * -1 with err (status 255) if PCRE2 gave up (e.g. match limit).
 */
int qrt_ignore_match(const struct qrt_ignore *ig, const char *name, size_t len,
                     struct qrt_err *err);

/** Free; accepts NULL. */
void qrt_ignore_free(struct qrt_ignore *ig);

#endif /* QRT_IGNORE_H */
