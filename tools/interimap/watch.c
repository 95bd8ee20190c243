/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c: the failure classifier, the back-off and the interruptible
 * sleep of watch mode (watch.h). Pure code, except im_sleep() which only
 * waits: tests/tools/test-interimap-watch.c runs all of it.
 */
#include <errno.h>
#include <sys/select.h>
#include <time.h>

#include <qresync/error.h>

#include "watch.h"

int im_connection_lost(int code, qr_sync_component comp, int cancelled)
{
    if (comp == QR_SYNC_COMP_DATABASE)
        return 0;
    switch (code) {
    case QR_EOF:       /* the server or the tunnel closed the stream (after BYE too) */
    case QR_EIO:       /* read/write/connect failed: reset, unreachable, DNS, ... */
    case QR_ETLS:      /* the TLS record layer failed (the stream was cut) */
    case QR_EBYE:      /* the server said BYE: shutting down, idle time-out */
    case QR_ECOMPRESS: /* the deflate stream broke: the stream was mangled */
    case QR_EAGAIN:    /* a time-out: the server or the network stopped answering */
        return 1;
    case QR_ECANCELED: /* commands aborted because their connection died */
        return !cancelled;
    default:
        return 0;
    }
}

void im_backoff_reset(struct im_backoff *b)
{
    b->next = 0;
}

unsigned im_backoff_next(struct im_backoff *b)
{
    unsigned d = b->next == 0 ? 1 : b->next;

    b->next = d >= IM_BACKOFF_MAX / 2 ? IM_BACKOFF_MAX : d * 2;
    return d > IM_BACKOFF_MAX ? IM_BACKOFF_MAX : d;
}

static struct timespec now_monotonic(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

int im_sleep(unsigned seconds, const sigset_t *wake, const volatile sig_atomic_t *stop)
{
    struct timespec end = now_monotonic();
    sigset_t old;
    int stopped;

    end.tv_sec += (time_t)seconds;
    sigprocmask(SIG_BLOCK, wake, &old);
    for (;;) {
        struct timespec now, left;

        if (*stop)
            break;
        now = now_monotonic();
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_nsec += 1000000000L;
            left.tv_sec--;
        }
        if (left.tv_sec < 0)
            break;
        /* The signals of `wake` are delivered only inside pselect(). */
        if (pselect(0, NULL, NULL, NULL, &left, &old) < 0 && errno != EINTR)
            break;
    }
    stopped = *stop != 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return stopped;
}
