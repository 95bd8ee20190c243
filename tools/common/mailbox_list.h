/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mailbox_list.h: interimap's list-mailbox and list-select-opts settings
 * (interimap.md §3.1, §3.3).
 */
#ifndef QRT_MAILBOX_LIST_H
#define QRT_MAILBOX_LIST_H

#include <stddef.h>

#include "err.h"

/** One LIST pattern; a NUL byte stands for the server's hierarchy delimiter. */
struct qrt_pattern {
    char *data; /* owned, NUL-terminated for convenience but may contain NUL bytes */
    size_t len; /* length in bytes */
};

/** The parsed list-mailbox value. */
struct qrt_pattern_list {
    struct qrt_pattern *items; /* owned array */
    size_t n;                  /* number of patterns (>= 1 on success) */
};

/**
 * Parse a list-mailbox value: whitespace-separated unquoted words or
 * double-quoted strings with the escapes \" \\ \0 \a \b \t \n \v \f \r
 * \xHH. Unlike the reference, \v is a vertical tab (0x0B), as the manual's
 * "C-style escapes" promise, not the letter v. Error (status 255):
 * "Invalid value for list-mailbox: VALUE".
 */
int qrt_list_mailbox_parse(const char *value, struct qrt_pattern_list *out, struct qrt_err *err);

/** Free the patterns; accepts an empty list. */
void qrt_pattern_list_free(struct qrt_pattern_list *list);

/**
 * list-select-opts as sent inside "LIST (...)": the value uppercased
 * (ASCII), internal spacing kept; NULL when value is NULL or empty.
 * Returns an owned string.
 */
char *qrt_list_select_opts(const char *value);

#endif /* QRT_MAILBOX_LIST_H */
