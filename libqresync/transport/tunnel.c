/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tunnel bottom layer: a command whose stdin/stdout is the IMAP stream.
 *
 * qr_tunnel_layer_create() decides how to run the command (Perl's exec
 * rule, tunnel_exec.c), makes a socketpair(AF_UNIX, SOCK_STREAM |
 * SOCK_CLOEXEC) and forks. The child puts its end on stdin and stdout,
 * sends stderr to /dev/null when asked (the caller decides: the tools do
 * it only at debug level 0), runs with SIGINT and only SIGINT blocked,
 * set first thing after fork (the mask survives exec, so the terminal's
 * Ctrl-C reaches the tool, which then ends the tunnel itself) and with
 * SIGPIPE back to its default action (an ignored signal survives exec),
 * marks every other descriptor close-on-exec (close_range where
 * available; everything the library opens is CLOEXEC anyway) and execs.
 * If exec fails the child writes one line to its stderr (the only place
 * libqresync prints, and it is not the caller's process any more) and
 * calls _exit(255); the parent then sees EOF.
 *
 * The parent keeps its end, non-blocking, and the child's pid. It reaps
 * the child with waitpid(pid, WNOHANG) (never waitpid(-1): other children
 * belong to the application) when the stream ends: on EOF it waits a
 * short bounded time for the exit status, which the EOF error detail
 * reports ("tunnel command exited with status N" / "killed by signal S").
 * destroy() shuts the socket down, waits up to one second, sends SIGTERM,
 * waits another second, then SIGKILL and a last bounded wait: the library
 * never leaves a zombie behind unless the kernel cannot kill the child.
 * If the application set SIGCHLD to SIG_IGN, waitpid fails with ECHILD and
 * the status is simply unknown.
 *
 * The tunnel needs no step(): it is usable as soon as it is created.
 */
#include "config.h"

#include "transport/transport_p.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

#define TUNNEL_EOF_WAIT_MS  200  /* how long EOF waits for the exit status */
#define TUNNEL_TERM_WAIT_MS 1000 /* destroy: wait before SIGTERM, and before SIGKILL */

typedef struct qr_tunnel_layer {
    qr_layer base; /* head; ops = &tunnel_ops */
    char *place;   /* owned: "tunnel COMMAND", for messages */
    int fd;        /* owned: the parent's end of the socketpair; -1 once closed */
    pid_t pid;     /* the child; 0 once reaped (or known gone) */
    int reaped;    /* 1 once wstatus is known */
    int wstatus;   /* waitpid status, valid when reaped */
    int saw_eof;   /* read() returned QR_EOF once */
} qr_tunnel_layer;

static qr_tunnel_layer *tun_of(const qr_layer *l)
{
    return (qr_tunnel_layer *)(uintptr_t)l;
}

/* ---- child side: async-signal-safe calls only ------------------------- */

static void child_write(const char *s)
{
    ssize_t r = write(2, s, strlen(s));

    (void)r;
}

/* The text of errnum without locale lookups (strerror may lock or allocate). */
static void child_write_errno(int errnum)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *text = strerrordesc_np(errnum);

    if (text) {
        child_write(text);
        return;
    }
#endif
    {
        char num[16];
        int i = (int)sizeof(num) - 1;
        unsigned v = (unsigned)errnum;

        num[i] = '\0';
        do
            num[--i] = (char)('0' + v % 10);
        while ((v /= 10) && i > 0);
        child_write("errno ");
        child_write(num + i);
    }
}

static void child_fail(const char *what, int errnum)
{
    child_write("libqresync tunnel: exec ");
    child_write(what);
    child_write(": ");
    child_write_errno(errnum);
    child_write("\n");
    _exit(255);
}

/* Block SIGINT, put fd on 0 and 1, /dev/null on 2 if asked, exec. */
static void child_run(const qr_exec_plan *p, int fd, int null_stderr)
{
    sigset_t set;

    /*
     * First thing: the signal mask becomes exactly {SIGINT}. SIGINT blocked
     * (as the reference starts its tunnels) keeps the terminal's Ctrl-C,
     * sent to the whole foreground process group, away from the tunnel
     * command: the application handles it and ends the tunnel itself. It
     * is blocked before anything else, which leaves the shortest window
     * for the application's SIGINT handler (installed until exec) to run
     * in the child. SIG_SETMASK rather than SIG_BLOCK: the signals the
     * application happened to block while it forked are not the
     * command's business.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_SETMASK, &set, NULL);
    /* An ignored SIGPIPE survives exec: applications ignore it to get EPIPE
     * (the tools do), the command expects the default (as a shell gives it). */
    {
        struct sigaction dfl;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGPIPE, &dfl, NULL);
    }
    if (fd < 3)
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
        child_fail("(dup2)", errno);
    if (null_stderr) {
        int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (nul >= 0 && nul != 2)
            dup2(nul, 2);
    }
#ifdef CLOSE_RANGE_CLOEXEC
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
    if (p->dup_stderr)
        dup2(1, 2);
    if (!p->use_shell) {
        execvp(p->argv[0], p->argv);
        if (errno != ENOEXEC)
            child_fail(p->argv[0], errno);
    }
    execl("/bin/sh", "sh", "-c", p->cmd, (char *)NULL);
    child_fail("/bin/sh", errno);
}

/* ---- reaping ---------------------------------------------------------- */

/* waitpid(WNOHANG) once; 1 when the child is gone (status known or not). */
static int tun_try_reap(qr_tunnel_layer *t)
{
    pid_t r;

    if (t->pid <= 0)
        return 1;
    do
        r = waitpid(t->pid, &t->wstatus, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    t->reaped = r == t->pid;
    t->pid = 0;
    return 1;
}

/* Poll for the child's exit for up to ms milliseconds. */
static int tun_wait(qr_tunnel_layer *t, int ms)
{
    int64_t end = qr_now_ms() + ms;
    struct timespec nap = {0, 2 * 1000 * 1000};

    while (!tun_try_reap(t)) {
        if (qr_now_ms() >= end)
            return 0;
        nanosleep(&nap, NULL);
    }
    return 1;
}

static void tun_describe(const qr_tunnel_layer *t, char *buf, size_t size)
{
    if (!t->reaped)
        snprintf(buf, size, "tunnel command still running");
    else if (WIFEXITED(t->wstatus))
        snprintf(buf, size, "tunnel command exited with status %d", WEXITSTATUS(t->wstatus));
    else if (WIFSIGNALED(t->wstatus))
        snprintf(buf, size, "tunnel command killed by signal %d", WTERMSIG(t->wstatus));
    else
        snprintf(buf, size, "tunnel command ended with wait status %d", t->wstatus);
}

/* ---- operations --------------------------------------------------------- */

static ssize_t tun_read(qr_layer *l, void *buf, size_t cap)
{
    qr_tunnel_layer *t = tun_of(l);
    char how[96];
    ssize_t n;

    if (t->fd < 0)
        return qr_err_set(l->stack->err, QR_EINVAL, "read on closed %s", t->place);
    n = qr_fd_read(l, t->fd, buf, cap, t->place);
    if (n != QR_EOF)
        return n;
    if (!t->saw_eof)
        tun_wait(t, TUNNEL_EOF_WAIT_MS);
    t->saw_eof = 1;
    tun_describe(t, how, sizeof(how));
    qr_err_set(l->stack->err, QR_EOF, "%s: 0 bytes read (got EOF); %s", t->place, how);
    return QR_EOF;
}

static ssize_t tun_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    qr_tunnel_layer *t = tun_of(l);

    if (t->fd < 0)
        return qr_err_set(l->stack->err, QR_EINVAL, "write on closed %s", t->place);
    return qr_fd_writev(l, t->fd, iov, iovcnt, t->place);
}

static int tun_fd(const qr_layer *l)
{
    return tun_of(l)->fd;
}

static int tun_close(qr_layer *l)
{
    qr_tunnel_layer *t = tun_of(l);

    if (t->fd >= 0)
        shutdown(t->fd, SHUT_RDWR);
    tun_try_reap(t);
    return 0;
}

static void tun_destroy(qr_layer *l)
{
    qr_tunnel_layer *t = tun_of(l);

    if (t->fd >= 0) {
        shutdown(t->fd, SHUT_RDWR);
        close(t->fd);
    }
    if (t->pid > 0 && !tun_wait(t, TUNNEL_TERM_WAIT_MS)) {
        kill(t->pid, SIGTERM);
        if (!tun_wait(t, TUNNEL_TERM_WAIT_MS)) {
            kill(t->pid, SIGKILL);
            tun_wait(t, TUNNEL_TERM_WAIT_MS);
        }
    }
    qr_free(t->place);
    qr_free(t);
}

static const qr_layer_ops tunnel_ops = {
    .name = "tunnel",
    .read = tun_read,
    .write = tun_write,
    .fd = tun_fd,
    .close = tun_close,
    .destroy = tun_destroy,
};

/* socketpair + fork; the child never returns. */
static int tun_spawn(qr_tunnel_layer *t, const qr_exec_plan *p, int null_stderr)
{
    qr_errslot *err = t->base.stack->err;
    int sv[2], saved;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        saved = errno;
        qr_err_set(err, QR_EIO, "socketpair for %s", t->place);
        qr_errslot_set_errno(err, saved);
        return QR_EIO;
    }
    t->pid = fork();
    if (t->pid == 0) {
        close(sv[0]);
        child_run(p, sv[1], null_stderr);
    }
    saved = errno;
    close(sv[1]);
    if (t->pid < 0) {
        t->pid = 0;
        close(sv[0]);
        qr_err_set(err, QR_EIO, "fork for %s", t->place);
        qr_errslot_set_errno(err, saved);
        return QR_EIO;
    }
    t->fd = sv[0];
    if (fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK) < 0) {
        saved = errno;
        qr_err_set(err, QR_EIO, "fcntl O_NONBLOCK on %s", t->place);
        qr_errslot_set_errno(err, saved);
        return QR_EIO;
    }
    return 0;
}

int qr_tunnel_layer_create(qr_layer **out, qr_stack *s, const qr_tunnel_options *o)
{
    qr_tunnel_layer *t;
    qr_exec_plan plan;
    int rc;

    *out = NULL;
    if (!o->command || !*o->command)
        return qr_err_set(s->err, QR_EINVAL, "Missing tunnel command");
    rc = qr_exec_plan_parse(&plan, o->command);
    if (rc == QR_EINVAL)
        return qr_err_set(s->err, QR_EINVAL, "Missing tunnel command");
    if (rc)
        return qr_err_set(s->err, rc, "tunnel %s", o->command);
    t = qr_calloc(1, sizeof(*t));
    if (t)
        t->place = qr_malloc(sizeof("tunnel ") + strlen(o->command));
    if (!t || !t->place) {
        qr_free(t);
        qr_exec_plan_free(&plan);
        return qr_err_set(s->err, QR_ENOMEM, "tunnel %s", o->command);
    }
    memcpy(t->place, "tunnel ", 7);
    memcpy(t->place + 7, o->command, strlen(o->command) + 1);
    t->base.ops = &tunnel_ops;
    t->base.stack = s;
    t->fd = -1;
    rc = tun_spawn(t, &plan, o->null_stderr);
    qr_exec_plan_free(&plan);
    if (rc) {
        tun_destroy(&t->base);
        return rc;
    }
    *out = &t->base;
    return 0;
}

pid_t qr_tunnel_layer_pid(const qr_layer *l)
{
    return tun_of(l)->pid;
}

int qr_tunnel_layer_status(qr_layer *l, int *wstatus)
{
    qr_tunnel_layer *t = tun_of(l);

    if (!tun_try_reap(t))
        return 0;
    *wstatus = t->reaped ? t->wstatus : -1;
    return 1;
}
