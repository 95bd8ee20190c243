/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCP bottom layer: resolve, connect without blocking, then move bytes.
 *
 * Life of a socket layer (the `state` field):
 *
 *   INIT        nothing done yet; the first step() resolves the host
 *               (getaddrinfo, which blocks: name lookup is the one wait
 *               the layer cannot avoid) unless qr_socket_layer_set_addrs()
 *               supplied the addresses;
 *   CONNECTING  a non-blocking connect() to addrs[next] is in progress;
 *               interest() wants POLLOUT and deadline() reports when this
 *               attempt times out; step() checks completion with a zero
 *               poll() and SO_ERROR, and on failure or expiry moves on to
 *               the next address;
 *   CONNECTED   read/write work; step() returns 0;
 *   FAILED      step() returns the recorded code again (the detail is in
 *               the error slot: "Can't connect to HOST:PORT: <last errno>",
 *               "getaddrinfo(HOST): ...", "Invalid IP literal: ...").
 *
 * Host syntax (spec imap-client.md §2.1): "[...]" forces an IP literal
 * (IPv4 dotted quad or IPv6, no zone id; anything else is
 * "Invalid IP literal: CONTENT"); an unbracketed IP literal is recognised
 * too; literals are resolved with AI_NUMERICHOST and their family fixed.
 * Error messages use the host as configured, brackets included, except
 * getaddrinfo's which names what was passed to it (as the reference does).
 *
 * Every socket is created SOCK_CLOEXEC|SOCK_NONBLOCK. The fd belongs to
 * the layer: close() shuts it down (SHUT_RDWR), destroy() closes it.
 * qr_socket_layer_create_fd() wraps an already connected fd (socketpair
 * ends in tests, a UNIX socket) in the same layer, starting CONNECTED.
 */
#include "config.h"

#include "transport/transport_p.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

enum sock_state { SOCK_INIT, SOCK_CONNECTING, SOCK_CONNECTED, SOCK_FAILED };

/* One candidate address for connect(). */
typedef struct sock_addr {
    struct sockaddr_storage ss; /* the address, copied */
    socklen_t len;              /* its length */
    int family;                 /* AF_INET / AF_INET6 / AF_UNIX */
    int socktype;               /* SOCK_STREAM */
    int protocol;               /* IPPROTO_TCP or 0 */
} sock_addr;

typedef struct qr_socket_layer {
    qr_layer base;         /* head; ops = &socket_ops */
    char *host;            /* owned: host as configured (NULL for adopted fds) */
    char *port;            /* owned: port as configured (NULL for adopted fds) */
    char *place;           /* owned: "HOST:PORT" or the label, for messages */
    int keepalive;         /* set SO_KEEPALIVE/TCP_KEEPIDLE once connected */
    int timeout_ms;        /* per-address connect timeout; <= 0: none */
    enum sock_state state; /* see the essay */
    sock_addr *addrs;      /* owned: candidates, NULL until resolved or set */
    size_t naddrs;         /* entries in addrs */
    size_t next;           /* index of the address being (or to be) tried */
    int fd;                /* owned socket; -1 when none */
    int last_errno;        /* errno of the last failed attempt */
    int64_t deadline;      /* CLOCK_MONOTONIC ms of the current attempt's timeout, or -1 */
    int fail_code;         /* QR_E* returned again by step() in SOCK_FAILED */
} qr_socket_layer;

static qr_socket_layer *sock_of(const qr_layer *l)
{
    return (qr_socket_layer *)(uintptr_t)l;
}

static void sock_close_fd(qr_socket_layer *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

static int sock_fail(qr_socket_layer *k, int code)
{
    k->state = SOCK_FAILED;
    k->fail_code = code;
    k->deadline = -1;
    sock_close_fd(k);
    return code;
}

/* Is text an IPv4 dotted quad or an IPv6 address?  AF_INET, AF_INET6 or 0. */
static int ip_family(const char *text)
{
    unsigned char tmp[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, text, tmp) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, text, tmp) == 1)
        return AF_INET6;
    return 0;
}

static int copy_addrinfo(qr_socket_layer *k, const struct addrinfo *res)
{
    const struct addrinfo *ai;
    size_t n = 0;

    for (ai = res; ai; ai = ai->ai_next)
        n++;
    k->addrs = qr_calloc(n ? n : 1, sizeof(*k->addrs));
    if (!k->addrs)
        return qr_err_set(k->base.stack->err, QR_ENOMEM, "connect to %s", k->place);
    for (ai = res; ai; ai = ai->ai_next) {
        sock_addr *a = &k->addrs[k->naddrs];

        if (ai->ai_addrlen > sizeof(a->ss))
            continue;
        memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
        a->len = ai->ai_addrlen;
        a->family = ai->ai_family;
        a->socktype = ai->ai_socktype;
        a->protocol = ai->ai_protocol;
        k->naddrs++;
    }
    return 0;
}

/* getaddrinfo() with the reference's hints; fills k->addrs. */
static int sock_resolve(qr_socket_layer *k)
{
    qr_errslot *err = k->base.stack->err;
    struct addrinfo hints, *res = NULL;
    size_t hlen = strlen(k->host);
    char *name = qr_strdup(k->host);
    int family, rc;

    if (!name)
        return qr_err_set(err, QR_ENOMEM, "connect to %s", k->place);
    if (hlen >= 2 && k->host[0] == '[' && k->host[hlen - 1] == ']') {
        memmove(name, name + 1, hlen - 2);
        name[hlen - 2] = '\0';
        if (!ip_family(name)) {
            rc = qr_err_set(err, QR_EINVAL, "Invalid IP literal: %s", name);
            qr_free(name);
            return rc;
        }
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    family = ip_family(name);
    if (family) {
        hints.ai_family = family;
        hints.ai_flags = AI_NUMERICHOST;
    }
    rc = getaddrinfo(name, k->port, &hints, &res);
    if (rc != 0) {
        int saved = errno;

        qr_err_set(err, QR_EIO, "getaddrinfo(%s): %s", name,
                   rc == EAI_SYSTEM ? strerror(saved) : gai_strerror(rc));
        if (rc == EAI_SYSTEM)
            err->pub.sys_errno = saved;
        qr_free(name);
        return QR_EIO;
    }
    qr_free(name);
    rc = copy_addrinfo(k, res);
    freeaddrinfo(res);
    return rc;
}

static int sock_set_keepalive(qr_socket_layer *k)
{
    int one = 1, idle = 60;

    if (setsockopt(k->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
        qr_err_set(k->base.stack->err, QR_EIO, "setsockopt SO_KEEPALIVE");
        qr_errslot_set_errno(k->base.stack->err, errno);
        return QR_EIO;
    }
    if (setsockopt(k->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0) {
        qr_err_set(k->base.stack->err, QR_EIO, "setsockopt TCP_KEEPIDLE");
        qr_errslot_set_errno(k->base.stack->err, errno);
        return QR_EIO;
    }
    return 0;
}

static int sock_connected(qr_socket_layer *k)
{
    int rc;

    k->deadline = -1;
    if (k->addrs[k->next].family != AF_UNIX) {
        int one = 1;

        /* commands are written whole and pipelined: Nagle's algorithm would
         * only hold a short command back behind an unacknowledged one (a
         * failure here is harmless: the connection works without it) */
        (void)setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (k->keepalive && k->addrs[k->next].family != AF_UNIX) {
        rc = sock_set_keepalive(k);
        if (rc)
            return sock_fail(k, rc);
    }
    k->state = SOCK_CONNECTED;
    return 0;
}

/* The attempt on addrs[next] failed with errnum: forget it, go to the next. */
static void sock_attempt_failed(qr_socket_layer *k, int errnum)
{
    k->last_errno = errnum;
    sock_close_fd(k);
    k->next++;
    k->deadline = -1;
}

/* Start connects from addrs[next] on until one is in progress or done. */
static int sock_try_next(qr_socket_layer *k)
{
    for (; k->next < k->naddrs;) {
        const sock_addr *a = &k->addrs[k->next];
        int rc;

        k->fd = socket(a->family, a->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->protocol);
        if (k->fd < 0) {
            sock_attempt_failed(k, errno);
            continue;
        }
        /* an interrupted non-blocking connect goes on in the background */
        rc = connect(k->fd, (const struct sockaddr *)&a->ss, a->len);
        if (rc == 0)
            return sock_connected(k);
        if (errno == EINPROGRESS || errno == EINTR) {
            k->state = SOCK_CONNECTING;
            k->deadline = k->timeout_ms > 0 ? qr_now_ms() + k->timeout_ms : -1;
            return QR_EAGAIN;
        }
        sock_attempt_failed(k, errno);
    }
    qr_err_set(k->base.stack->err, QR_EIO, "Can't connect to %s", k->place);
    if (k->last_errno)
        qr_errslot_set_errno(k->base.stack->err, k->last_errno);
    return sock_fail(k, QR_EIO);
}

/* A connect is in progress: finished, failed, timed out, or still going? */
static int sock_check_connect(qr_socket_layer *k)
{
    struct pollfd p = {.fd = k->fd, .events = POLLOUT, .revents = 0};
    int soerr = 0, ready;
    socklen_t len = sizeof(soerr);

    ready = poll(&p, 1, 0);
    if (ready < 0)
        return QR_EAGAIN; /* EINTR and the like: look again next time */
    if (ready == 0) {
        if (k->deadline >= 0 && qr_now_ms() >= k->deadline) {
            sock_attempt_failed(k, ETIMEDOUT);
            return sock_try_next(k);
        }
        return QR_EAGAIN;
    }
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == 0)
        return sock_connected(k);
    sock_attempt_failed(k, soerr);
    return sock_try_next(k);
}

static int sock_step(qr_layer *l)
{
    qr_socket_layer *k = sock_of(l);
    int rc;

    switch (k->state) {
    case SOCK_INIT:
        if (!k->addrs) {
            rc = sock_resolve(k);
            if (rc)
                return sock_fail(k, rc);
        }
        return sock_try_next(k);
    case SOCK_CONNECTING:
        return sock_check_connect(k);
    case SOCK_CONNECTED:
        return 0;
    case SOCK_FAILED:
    default:
        return k->fail_code;
    }
}

static int sock_not_ready(qr_socket_layer *k, const char *what)
{
    return qr_err_set(k->base.stack->err, QR_EINVAL, "%s on %s before the connection is set up",
                      what, k->place);
}

static ssize_t sock_read(qr_layer *l, void *buf, size_t cap)
{
    qr_socket_layer *k = sock_of(l);
    ssize_t n;

    if (k->state != SOCK_CONNECTED)
        return sock_not_ready(k, "read");
    n = qr_fd_read(l, k->fd, buf, cap, k->place);
    if (n == QR_EOF)
        qr_err_set(l->stack->err, QR_EOF, "read from %s: 0 bytes read (got EOF)", k->place);
    return n;
}

static ssize_t sock_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    qr_socket_layer *k = sock_of(l);

    if (k->state != SOCK_CONNECTED)
        return sock_not_ready(k, "write");
    return qr_fd_writev(l, k->fd, iov, iovcnt, k->place);
}

static int sock_interest(const qr_layer *l)
{
    return sock_of(l)->state == SOCK_CONNECTING ? POLLOUT : 0;
}

static int64_t sock_deadline(const qr_layer *l)
{
    return sock_of(l)->deadline;
}

static int sock_fd(const qr_layer *l)
{
    return sock_of(l)->fd;
}

static int sock_close(qr_layer *l)
{
    qr_socket_layer *k = sock_of(l);

    if (k->fd >= 0 && k->state == SOCK_CONNECTED)
        shutdown(k->fd, SHUT_RDWR);
    return 0;
}

static void sock_destroy(qr_layer *l)
{
    qr_socket_layer *k = sock_of(l);

    sock_close_fd(k);
    qr_free(k->host);
    qr_free(k->port);
    qr_free(k->place);
    qr_free(k->addrs);
    qr_free(k);
}

static const qr_layer_ops socket_ops = {
    .name = "socket",
    .read = sock_read,
    .write = sock_write,
    .interest = sock_interest,
    .step = sock_step,
    .deadline = sock_deadline,
    .fd = sock_fd,
    .close = sock_close,
    .destroy = sock_destroy,
};

static qr_socket_layer *sock_new(qr_stack *s)
{
    qr_socket_layer *k = qr_calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    k->base.ops = &socket_ops;
    k->base.stack = s;
    k->fd = -1;
    k->deadline = -1;
    k->state = SOCK_INIT;
    return k;
}

int qr_socket_layer_create(qr_layer **out, qr_stack *s, const qr_socket_options *o)
{
    qr_socket_layer *k;
    int n;

    *out = NULL;
    if (!o->host || !*o->host)
        return qr_err_set(s->err, QR_EINVAL, "Missing option host");
    if (!o->port || !*o->port)
        return qr_err_set(s->err, QR_EINVAL, "Missing option port");
    k = sock_new(s);
    if (!k)
        return qr_err_set(s->err, QR_ENOMEM, "connect to %s:%s", o->host, o->port);
    k->keepalive = o->keepalive;
    k->timeout_ms = o->connect_timeout_ms;
    k->host = qr_strdup(o->host);
    k->port = qr_strdup(o->port);
    n = snprintf(NULL, 0, "%s:%s", o->host, o->port);
    k->place = n >= 0 ? qr_malloc((size_t)n + 1) : NULL;
    if (!k->host || !k->port || !k->place) {
        sock_destroy(&k->base);
        return qr_err_set(s->err, QR_ENOMEM, "connect to %s:%s", o->host, o->port);
    }
    snprintf(k->place, (size_t)n + 1, "%s:%s", o->host, o->port);
    *out = &k->base;
    return 0;
}

int qr_socket_layer_create_fd(qr_layer **out, qr_stack *s, int fd, const char *label)
{
    qr_socket_layer *k = sock_new(s);
    int flags;

    *out = NULL;
    if (k)
        k->place = qr_strdup(label);
    if (!k || !k->place) {
        qr_free(k);
        return qr_err_set(s->err, QR_ENOMEM, "adopt socket %s", label);
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int saved = errno;

        sock_destroy(&k->base);
        qr_err_set(s->err, QR_EIO, "fcntl on %s", label);
        qr_errslot_set_errno(s->err, saved);
        return QR_EIO;
    }
    k->fd = fd;
    k->state = SOCK_CONNECTED;
    *out = &k->base;
    return 0;
}

int qr_socket_layer_set_addrs(qr_layer *l, const struct sockaddr *const *addrs,
                              const socklen_t *lens, size_t n)
{
    qr_socket_layer *k = sock_of(l);
    size_t i;

    if (k->state != SOCK_INIT || k->addrs)
        return qr_err_set(l->stack->err, QR_EINVAL, "addresses for %s set too late", k->place);
    k->addrs = qr_calloc(n ? n : 1, sizeof(*k->addrs));
    if (!k->addrs)
        return qr_err_set(l->stack->err, QR_ENOMEM, "connect to %s", k->place);
    for (i = 0; i < n; i++) {
        if (lens[i] > sizeof(k->addrs[i].ss))
            continue;
        memcpy(&k->addrs[k->naddrs].ss, addrs[i], lens[i]);
        k->addrs[k->naddrs].len = lens[i];
        k->addrs[k->naddrs].family = addrs[i]->sa_family;
        k->addrs[k->naddrs].socktype = SOCK_STREAM;
        k->addrs[k->naddrs].protocol = 0;
        k->naddrs++;
    }
    return 0;
}
