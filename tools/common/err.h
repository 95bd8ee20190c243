/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * err.h: the error slot filled by the tools' helper functions.
 *
 * Helpers never print: a failing helper returns -1 and leaves in a
 * struct qrt_err the complete text the program should print (without the
 * final newline) and the exit status it should use. The program prints
 * err.msg on stderr and exits with err.status.
 */
#ifndef QRT_ERR_H
#define QRT_ERR_H

#include <stdarg.h>

/** One error message and its exit status. */
struct qrt_err {
    char *msg;  /* the message, owned, NULL when no error was recorded */
    int status; /* the exit status (QRT_EXIT_*) the program should use */
};

#define QRT_ERR_INIT                                                                               \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/** Record a message (printf-style) and a status; replaces any previous one. Returns -1. */
int qrt_err_set(struct qrt_err *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Free the message and reset the slot; accepts NULL. */
void qrt_err_clear(struct qrt_err *err);

#endif /* QRT_ERR_H */
