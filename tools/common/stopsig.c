/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stopsig.c: the stop signals (stopsig.h). The target is a plain function
 * and object pair, read by the handlers: it is only changed with the
 * handled signals blocked, so a handler never sees half of it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "stopsig.h"

static volatile sig_atomic_t stop_sig; /* SIGINT or SIGTERM, else 0 */
static void (*volatile hook)(void *);  /* the target's cancel function */
static void *volatile hook_obj;        /* its object */
static sigset_t handled;               /* SIGINT, SIGTERM, SIGALRM */

static void cancel_target(void)
{
    void (*fn)(void *) = hook;

    if (fn != NULL)
        fn(hook_obj);
}

static void on_stop(int sig)
{
    int saved = errno;

    if (stop_sig != 0) {
        /* The second one: the default action, now. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_sig = sig;
    cancel_target();
    alarm(1);
    errno = saved;
}

static void on_alarm(int sig)
{
    int saved = errno;

    (void)sig;
    if (stop_sig != 0) {
        cancel_target();
        alarm(1);
    }
    errno = saved;
}

void qrt_stop_install(void)
{
    struct sigaction sa;

    sigemptyset(&handled);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGALRM);
    memset(&sa, 0, sizeof(sa));
    sa.sa_mask = handled;
    sigaddset(&sa.sa_mask, SIGHUP); /* a program's own HUP handler waits */
    sa.sa_flags = 0;                /* no SA_RESTART */
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

void qrt_stop_target(void (*cancel)(void *obj), void *obj)
{
    sigset_t old;

    sigprocmask(SIG_BLOCK, &handled, &old);
    hook = cancel;
    hook_obj = obj;
    if (stop_sig != 0)
        cancel_target();
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int qrt_stop_received(void)
{
    return stop_sig;
}

const volatile sig_atomic_t *qrt_stop_flag(void)
{
    return &stop_sig;
}

const sigset_t *qrt_stop_signals(void)
{
    return &handled;
}
