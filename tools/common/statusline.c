/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statusline.c: see statusline.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fdwrite.h"
#include "statusline.h"
#include "xalloc.h"

void qrt_status_draw(struct qrt_status *st, const char *text)
{
    size_t len = text ? strlen(text) : 0, width = len > st->len ? len : st->len;
    char *buf;

    if (text == NULL && st->len == 0)
        return;
    /* "\r", the text padded over the previous one, then "\r" when erasing. */
    buf = qrt_xmalloc(width + 3);
    buf[0] = '\r';
    memset(buf + 1, ' ', width);
    if (text != NULL)
        memcpy(buf + 1, text, len);
    buf[width + 1] = '\r';
    qrt_write_all(st->fd, buf, text ? width + 1 : width + 2);
    free(buf);
    st->len = len;
}
