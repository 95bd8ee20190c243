/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdwrite.c: see fdwrite.h. */
#include <errno.h>
#include <unistd.h>

#include "fdwrite.h"

void qrt_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    for (;;) {
        ssize_t w;

        if (n == 0)
            return;
        w = write(fd, c, n);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
        } else if (w == 0 || errno != EINTR) {
            return;
        }
    }
}
