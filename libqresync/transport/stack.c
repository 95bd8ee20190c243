/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The layer stack: generic plumbing shared by every layer type.
 *
 * A qr_stack is a singly linked list of layers from `top` down through
 * `below` pointers; the last one is the bottom layer, which owns the fd.
 * The stack owns every layer pushed onto it and destroys them top first.
 * It borrows the connection's error slot (layers record detail there) and
 * keeps the traffic counters: the bottom layer counts wire bytes through
 * qr_fd_read()/qr_fd_writev(), the deflate layer counts compressed bytes,
 * and qr_stack_read()/qr_stack_write() count what the caller sees.
 *
 * Invariants: every layer's `stack` points at this stack; `below` chains
 * end at the bottom layer; the stack is walked, never restructured,
 * except by qr_stack_push() (new top) and qr_stack_destroy() (empties it).
 *
 * The whole-stack operations combine the layers: interest is the union of
 * the bits, pending_input is "any layer", step goes bottom first (a TLS
 * handshake needs a connected socket), close goes top first (a deflate
 * layer's last bytes must reach the socket before it shuts down), and the
 * deadline is the earliest one.
 */
#include "config.h"

#include "transport/transport_p.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void qr_stack_init(qr_stack *s, qr_errslot *err)
{
    memset(s, 0, sizeof(*s));
    s->err = err;
}

void qr_stack_destroy(qr_stack *s)
{
    while (s->top) {
        qr_layer *l = s->top;

        s->top = l->below;
        l->ops->destroy(l);
    }
}

void qr_stack_push(qr_stack *s, qr_layer *l)
{
    l->below = s->top;
    l->stack = s;
    s->top = l;
}

qr_layer *qr_stack_bottom(const qr_stack *s)
{
    qr_layer *l = s->top;

    while (l && l->below)
        l = l->below;
    return l;
}

int qr_stack_fd(const qr_stack *s)
{
    qr_layer *b = qr_stack_bottom(s);

    return b && b->ops->fd ? b->ops->fd(b) : -1;
}

ssize_t qr_stack_read(qr_stack *s, void *buf, size_t cap)
{
    ssize_t n;

    if (!s->top || cap == 0)
        return qr_err_set(s->err, QR_EINVAL, "read on an empty stack or into an empty buffer");
    n = qr_layer_read(s->top, buf, cap);
    if (n > 0)
        s->traffic.plain_in += (uint64_t)n;
    return n;
}

ssize_t qr_stack_write(qr_stack *s, const struct iovec *iov, int iovcnt)
{
    ssize_t n;

    if (!s->top)
        return qr_err_set(s->err, QR_EINVAL, "write on an empty stack");
    if (qr_iov_len(iov, iovcnt) == 0)
        return 0;
    n = qr_layer_write(s->top, iov, iovcnt);
    if (n > 0)
        s->traffic.plain_out += (uint64_t)n;
    return n;
}

int qr_stack_flush(qr_stack *s)
{
    return s->top ? qr_layer_flush(s->top) : 0;
}

int qr_stack_pending_input(const qr_stack *s)
{
    const qr_layer *l;

    for (l = s->top; l; l = l->below)
        if (l->ops->pending_input && l->ops->pending_input(l))
            return 1;
    return 0;
}

int qr_stack_interest(const qr_stack *s)
{
    const qr_layer *l;
    int bits = 0;

    for (l = s->top; l; l = l->below)
        if (l->ops->interest)
            bits |= l->ops->interest(l);
    return bits;
}

/* Step the layers under l first, then l. */
static int step_from_bottom(qr_layer *l)
{
    int rc;

    if (!l)
        return 0;
    rc = step_from_bottom(l->below);
    if (rc != 0)
        return rc;
    return l->ops->step ? l->ops->step(l) : 0;
}

int qr_stack_step(qr_stack *s)
{
    return step_from_bottom(s->top);
}

int64_t qr_stack_deadline(const qr_stack *s)
{
    const qr_layer *l;
    int64_t best = -1;

    for (l = s->top; l; l = l->below) {
        int64_t d = l->ops->deadline ? l->ops->deadline(l) : -1;

        if (d >= 0 && (best < 0 || d < best))
            best = d;
    }
    return best;
}

int qr_stack_close(qr_stack *s)
{
    qr_layer *l;

    for (l = s->top; l; l = l->below) {
        int rc = l->ops->close ? l->ops->close(l) : 0;

        if (rc != 0)
            return rc;
    }
    return 0;
}

int qr_layer_flush(qr_layer *l)
{
    return l->ops->flush ? l->ops->flush(l) : qr_layer_flush_below(l);
}

int qr_layer_flush_below(qr_layer *l)
{
    return l->below ? qr_layer_flush(l->below) : 0;
}

int64_t qr_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t qr_iov_len(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    int i;

    for (i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    return total;
}

ssize_t qr_fd_read(qr_layer *l, int fd, void *buf, size_t cap, const char *place)
{
    ssize_t n;

    do
        n = read(fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        l->stack->traffic.wire_in += (uint64_t)n;
        return n;
    }
    if (n == 0)
        return QR_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return QR_EAGAIN;
    n = errno;
    qr_err_set(l->stack->err, QR_EIO, "read from %s", place);
    qr_errslot_set_errno(l->stack->err, (int)n);
    return QR_EIO;
}

ssize_t qr_fd_writev(qr_layer *l, int fd, const struct iovec *iov, int iovcnt, const char *place)
{
    struct msghdr msg;
    ssize_t n;
    int saved;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = (struct iovec *)(uintptr_t)iov;
    msg.msg_iovlen = (size_t)(iovcnt > IOV_MAX ? IOV_MAX : iovcnt);
    if (qr_iov_len(iov, iovcnt) == 0)
        return 0;
    do
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        l->stack->traffic.wire_out += (uint64_t)n;
        return n > 0 ? n : QR_EAGAIN;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return QR_EAGAIN;
    saved = errno;
    qr_err_set(l->stack->err, QR_EIO, "write to %s", place);
    qr_errslot_set_errno(l->stack->err, saved);
    return QR_EIO;
}
