/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_wqueue: the bytes a connection still has to hand to its layer stack.
 *
 * Entries are either borrowed (the caller keeps the bytes valid until they
 * are written: a literal's body, a static CRLF) or owned (the queue frees
 * them with qr_free once written, as isync's conn_iovec_t does). The queue
 * holds at most max_bytes bytes: a push past the cap fails with QR_ELIMIT,
 * which is the back-pressure the session sees.
 *
 * Invariants: entries [head, head + count) of `ent` are live, in order;
 * each has len > 0 bytes left at p; `bytes` is the sum of those lengths.
 * The array is compacted when head passes half of it, and grows by
 * doubling (its growth is bounded by max_bytes, since entries are never
 * empty).
 *
 * qr_wqueue_send() writes entries in batches of up to QR_WQ_IOV iovecs
 * with qr_stack_write(), advances over partially written entries, and
 * once the queue is empty calls qr_stack_flush() so that a deflate layer
 * closes the batch with a sync flush and every byte reaches the fd.
 */
#include "config.h"

#include "transport/transport_p.h"

#include <string.h>

#include "util/alloc.h"

#define QR_WQ_IOV 64 /* iovecs per write call */

void qr_wqueue_init(qr_wqueue *q, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_bytes = max_bytes;
}

void qr_wqueue_free(qr_wqueue *q)
{
    size_t i;

    for (i = q->head; i < q->head + q->count; i++)
        qr_free(q->ent[i].owned);
    qr_free(q->ent);
    qr_wqueue_init(q, q->max_bytes);
}

/* Room for one more entry at the end. QR_ENOMEM. */
static int wq_reserve(qr_wqueue *q)
{
    qr_wq_entry *grown;
    size_t n;

    if (q->head > 0 && q->head >= q->alloc / 2) {
        memmove(q->ent, q->ent + q->head, q->count * sizeof(*q->ent));
        q->head = 0;
    }
    if (q->head + q->count < q->alloc)
        return 0;
    n = q->alloc ? q->alloc * 2 : 8;
    grown = qr_reallocarray(q->ent, n, sizeof(*q->ent));
    if (!grown)
        return QR_ENOMEM;
    q->ent = grown;
    q->alloc = n;
    return 0;
}

int qr_wqueue_push(qr_wqueue *q, const void *p, size_t len, int owned)
{
    qr_wq_entry *e;

    if (len == 0) {
        if (owned)
            qr_free((void *)(uintptr_t)p);
        return 0;
    }
    if (len > q->max_bytes - q->bytes)
        return QR_ELIMIT;
    if (wq_reserve(q))
        return QR_ENOMEM;
    e = &q->ent[q->head + q->count++];
    e->p = p;
    e->len = len;
    e->owned = owned ? (void *)(uintptr_t)p : NULL;
    q->bytes += len;
    return 0;
}

int qr_wqueue_push_copy(qr_wqueue *q, const void *p, size_t len)
{
    void *copy;
    int rc;

    if (len == 0)
        return 0;
    if (len > q->max_bytes - q->bytes)
        return QR_ELIMIT;
    copy = qr_malloc(len);
    if (!copy)
        return QR_ENOMEM;
    memcpy(copy, p, len);
    rc = qr_wqueue_push(q, copy, len, 1);
    if (rc)
        qr_free(copy);
    return rc;
}

/* Forget n written bytes from the front, freeing owned entries as they end. */
static void wq_consume(qr_wqueue *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        qr_wq_entry *e = &q->ent[q->head];
        size_t k = n < e->len ? n : e->len;

        e->p = (const unsigned char *)e->p + k;
        e->len -= k;
        n -= k;
        if (e->len == 0) {
            qr_free(e->owned);
            q->head++;
            q->count--;
        }
    }
    if (q->count == 0)
        q->head = 0;
}

int qr_wqueue_send(qr_wqueue *q, qr_stack *s)
{
    while (q->count > 0) {
        struct iovec iov[QR_WQ_IOV];
        int n = 0;
        ssize_t w;

        while (n < QR_WQ_IOV && (size_t)n < q->count) {
            iov[n].iov_base = (void *)(uintptr_t)q->ent[q->head + (size_t)n].p;
            iov[n].iov_len = q->ent[q->head + (size_t)n].len;
            n++;
        }
        w = qr_stack_write(s, iov, n);
        if (w < 0)
            return (int)w;
        if (w == 0) /* a layer broke the contract; do not spin */
            return QR_EAGAIN;
        wq_consume(q, (size_t)w);
    }
    return qr_stack_flush(s);
}
