/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * retry.c: lost-connection test, back-off and interruptible sleep
 * (retry.h). Only qrt_sleep() waits; everything else is arithmetic.
 */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include <qresync/error.h>

#include "retry.h"

int qrt_connection_lost(int code, int cancelled)
{
    switch (code) {
    case QR_EOF:       /* the peer or the tunnel closed the stream */
    case QR_EIO:       /* connect, read or write failed (reset, unreachable, DNS) */
    case QR_ETLS:      /* the record layer failed: the stream was cut */
    case QR_EBYE:      /* the server is going away (shutdown, idle time-out) */
    case QR_ECOMPRESS: /* the deflate stream broke */
    case QR_EAGAIN:    /* nothing heard for too long */
        return 1;
    case QR_ECANCELED:
        return cancelled ? 0 : 1;
    default:
        return 0;
    }
}

void qrt_backoff_reset(struct qrt_backoff *b)
{
    b->next = 0;
}

unsigned qrt_backoff_next(struct qrt_backoff *b)
{
    unsigned now = b->next ? b->next : 1;

    if (now > QRT_BACKOFF_MAX)
        now = QRT_BACKOFF_MAX;
    b->next = now > QRT_BACKOFF_MAX / 2 ? QRT_BACKOFF_MAX : now * 2;
    return now;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long clock_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int qrt_sleep(unsigned seconds, const sigset_t *wake, const volatile sig_atomic_t *stop)
{
    long long deadline = clock_ms() + (long long)seconds * 1000;
    sigset_t before, during;
    int stopped;

    /* Block them now; ppoll() lets them in (and only there), even if the
     * caller had them blocked. */
    sigprocmask(SIG_BLOCK, wake, &before);
    during = before;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(wake, sig) == 1)
            sigdelset(&during, sig);
    while (!*stop) {
        long long left = deadline - clock_ms();
        struct timespec ts;

        if (left <= 0)
            break;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        if (ppoll(NULL, 0, &ts, &during) < 0 && errno != EINTR)
            break;
    }
    stopped = *stop != 0;
    sigprocmask(SIG_SETMASK, &before, NULL);
    return stopped;
}
