/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * err.c: the error slot of the tools' helpers (see err.h).
 *
 * A helper formats its complete message once, with vasprintf, into the
 * caller's struct qrt_err, so that tests can compare the exact text a user
 * would see and programs print it unchanged. Allocation failure of the
 * message itself is fatal (xalloc.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "xalloc.h"

int qrt_err_set(struct qrt_err *err, int status, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        qrt_oom();
    va_end(ap);
    if (err == NULL) {
        free(msg);
        return -1;
    }
    free(err->msg);
    err->msg = msg;
    err->status = status;
    return -1;
}

void qrt_err_clear(struct qrt_err *err)
{
    if (err == NULL)
        return;
    free(err->msg);
    err->msg = NULL;
    err->status = 0;
}
