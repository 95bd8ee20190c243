/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-interimap-watch.c: interimap's watch-mode helpers
 * (tools/interimap/watch.c): which failures are a lost connection (the
 * program reconnects) and which end the program, the back-off sequence,
 * and the sleep that a signal cuts short without losing it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <qresync/error.h>

#include "../tap.h"
#include "watch.h"

static void test_connection_codes(void)
{
    static const int lost[] = {QR_EOF, QR_EIO, QR_ETLS, QR_EBYE, QR_ECOMPRESS, QR_EAGAIN};
    static const qr_sync_component sides[] = {QR_SYNC_COMP_LOCAL, QR_SYNC_COMP_REMOTE,
                                              QR_SYNC_COMP_NONE};

    for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
        for (size_t j = 0; j < 3; j++) {
            CHECK_INT_EQ(im_connection_lost(lost[i], sides[j], 0), 1);
            /* our own cancellation does not change what a lost stream is */
            CHECK_INT_EQ(im_connection_lost(lost[i], sides[j], 1), 1);
        }
}

static void test_cancelled(void)
{
    /* commands aborted because their connection died */
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_REMOTE, 0), 1);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_NONE, 0), 1);
    /* the cancellation a signal asked for */
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_REMOTE, 1), 0);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_NONE, 1), 0);
}

static void test_not_connection(void)
{
    static const int fatal[] = {
        QR_OK,      QR_ERROR, QR_ENOMEM, QR_EINVAL,      QR_EPROTO,       QR_ELIMIT,
        QR_ENO,     QR_EBAD,  QR_EAUTH,  QR_ECAPABILITY, QR_EUIDVALIDITY, QR_ESTORE,
        QR_ELOCKED, QR_EUSER, QR_PAUSE,  -1000,
    };

    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_LOCAL, 0), 0);
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_REMOTE, 0), 0);
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_NONE, 0), 0);
    }
    /* an I/O error of the database is a disk problem, not a connection */
    CHECK_INT_EQ(im_connection_lost(QR_EIO, QR_SYNC_COMP_DATABASE, 0), 0);
    CHECK_INT_EQ(im_connection_lost(QR_EOF, QR_SYNC_COMP_DATABASE, 0), 0);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_DATABASE, 0), 0);
}

static void test_backoff(void)
{
    static const unsigned want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300};
    struct im_backoff b;

    im_backoff_reset(&b);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK_UINT_EQ(im_backoff_next(&b), want[i]);
    for (int i = 0; i < 100; i++)
        CHECK_UINT_EQ(im_backoff_next(&b), IM_BACKOFF_MAX);
    /* a successful pass starts again from 1 s */
    im_backoff_reset(&b);
    CHECK_UINT_EQ(im_backoff_next(&b), 1);
    CHECK_UINT_EQ(im_backoff_next(&b), 2);
    CHECK_UINT_EQ(im_backoff_next(&b), 4);
    im_backoff_reset(&b);
    CHECK_UINT_EQ(im_backoff_next(&b), 1);
}

static volatile sig_atomic_t stop_flag;

static void on_usr1(int sig)
{
    stop_flag = sig;
}

static void on_usr2(int sig)
{
    (void)sig; /* wakes the sleep up without stopping it (as SIGHUP) */
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void test_sleep(void)
{
    struct timespec t0;
    sigset_t wake, mask;

    sigemptyset(&wake);
    sigaddset(&wake, SIGUSR1);
    sigaddset(&wake, SIGUSR2);
    handle(SIGUSR1, on_usr1);
    handle(SIGUSR2, on_usr2);

    /* the time is up */
    stop_flag = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(im_sleep(0, &wake, &stop_flag), 0);
    CHECK(elapsed(&t0) < 0.5);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(im_sleep(1, &wake, &stop_flag), 0);
    CHECK(elapsed(&t0) >= 0.99 && elapsed(&t0) < 3);

    /* already stopped: at once */
    stop_flag = SIGTERM;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(im_sleep(300, &wake, &stop_flag), 1);
    CHECK(elapsed(&t0) < 0.5);

    /* the caller's mask is given back as it was */
    stop_flag = 0;
    CHECK_INT_EQ(im_sleep(0, &wake, &stop_flag), 0);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    CHECK(!sigismember(&mask, SIGUSR1));
    CHECK(!sigismember(&mask, SIGUSR2));

    /* a signal during the sleep (a timer in 200 ms) ends it; one that only
     * wakes it up (as SIGHUP does) does not */
    stop_flag = 0;
    {
        struct itimerval it = {{0, 0}, {0, 200000}};

        handle(SIGALRM, on_usr1);
        sigaddset(&wake, SIGALRM);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        setitimer(ITIMER_REAL, &it, NULL);
        CHECK_INT_EQ(im_sleep(300, &wake, &stop_flag), 1);
        CHECK(elapsed(&t0) >= 0.15 && elapsed(&t0) < 5);
        CHECK_INT_EQ(stop_flag, SIGALRM);
    }
    stop_flag = 0;
    {
        struct itimerval it = {{0, 0}, {0, 200000}};

        handle(SIGALRM, on_usr2); /* wakes only */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        setitimer(ITIMER_REAL, &it, NULL);
        CHECK_INT_EQ(im_sleep(1, &wake, &stop_flag), 0);
    }
    CHECK(elapsed(&t0) >= 0.99); /* woken up early, and slept on */
}

int main(void)
{
    TAP_RUN(test_connection_codes);
    TAP_RUN(test_cancelled);
    TAP_RUN(test_not_connection);
    TAP_RUN(test_backoff);
    TAP_RUN(test_sleep);
    return tap_done();
}
