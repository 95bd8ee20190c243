/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * helpers.h: a tiny poll() driver for the transport tests.
 *
 * The layers never block; these helpers wait on the stack's fd with the
 * interest bits it reports (plus POLLIN when a read is wanted) and give up
 * after a timeout, so a broken layer fails a test instead of hanging it.
 */
#ifndef QR_TESTS_TRANSPORT_HELPERS_H
#define QR_TESTS_TRANSPORT_HELPERS_H

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_p.h"

#define TT_TIMEOUT_MS 20000

/* Wait until the stack's fd has one of events (or the timeout). */
static inline int tt_wait(qr_stack *s, short events, int ms)
{
    struct pollfd p = {.fd = qr_stack_fd(s), .events = events, .revents = 0};

    if (p.fd < 0)
        return -1;
    return poll(&p, 1, ms);
}

/* Run qr_stack_step() to completion: 0 or the error. */
static inline int tt_step(qr_stack *s)
{
    int64_t end = qr_now_ms() + TT_TIMEOUT_MS;
    int rc;

    while ((rc = qr_stack_step(s)) == QR_EAGAIN) {
        if (qr_now_ms() > end)
            return QR_EAGAIN;
        tt_wait(s, (short)(qr_stack_interest(s) | POLLIN), 50);
    }
    return rc;
}

/* Write all bytes and flush: 0 or the error. */
static inline int tt_write_all(qr_stack *s, const void *data, size_t len)
{
    const char *p = (const char *)data;
    int64_t end = qr_now_ms() + TT_TIMEOUT_MS;
    int rc;

    while (len > 0) {
        struct iovec v = {(void *)(uintptr_t)p, len};
        ssize_t n = qr_stack_write(s, &v, 1);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n != QR_EAGAIN) {
            return (int)n;
        } else if (qr_now_ms() > end) {
            return QR_EAGAIN;
        } else {
            tt_wait(s, POLLOUT, 50);
        }
    }
    while ((rc = qr_stack_flush(s)) == QR_EAGAIN) {
        if (qr_now_ms() > end)
            return QR_EAGAIN;
        tt_wait(s, POLLOUT, 50);
    }
    return rc;
}

/*
 * Read until cap bytes, EOF or an error, in reads of at most chunk bytes.
 * Returns the byte count; *last gets the code that ended it (0 when cap
 * was reached).
 */
static inline size_t tt_read_some(qr_stack *s, void *buf, size_t cap, size_t chunk, int *last)
{
    int64_t end = qr_now_ms() + TT_TIMEOUT_MS;
    size_t got = 0;

    *last = 0;
    while (got < cap) {
        size_t want = cap - got < chunk ? cap - got : chunk;
        ssize_t n = qr_stack_read(s, (char *)buf + got, want);

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n != QR_EAGAIN || qr_now_ms() > end) {
            *last = (int)n;
            break;
        }
        if (!qr_stack_pending_input(s))
            tt_wait(s, (short)(POLLIN | qr_stack_interest(s)), 50);
    }
    return got;
}

/* Read until EOF (or error, or cap): returns the bytes; *last the code. */
static inline size_t tt_read_to_eof(qr_stack *s, void *buf, size_t cap, int *last)
{
    return tt_read_some(s, buf, cap, cap, last);
}

/* Fill buf with len pseudo-random bytes from seed (xorshift). */
static inline void tt_random(void *buf, size_t len, uint32_t seed)
{
    unsigned char *p = (unsigned char *)buf;
    uint32_t x = seed ? seed : 1;
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/*
 * Send data through s and read the echo back into out (len bytes), both
 * at once with non-blocking partial writes: 0 or the failing code.
 */
static inline int tt_echo(qr_stack *s, const void *data, void *out, size_t len, size_t chunk)
{
    int64_t end = qr_now_ms() + TT_TIMEOUT_MS;
    size_t sent = 0, got = 0;
    int flushed = 1;

    while (got < len) {
        ssize_t n;

        if (sent < len) {
            struct iovec v = {(char *)(uintptr_t)data + sent, len - sent};

            n = qr_stack_write(s, &v, 1);
            if (n > 0)
                sent += (size_t)n;
            else if (n != QR_EAGAIN)
                return (int)n;
            flushed = 0;
        }
        if (!flushed) {
            int rc = qr_stack_flush(s);

            if (rc != 0 && rc != QR_EAGAIN)
                return rc;
            flushed = rc == 0;
        }
        n = qr_stack_read(s, (char *)out + got, len - got < chunk ? len - got : chunk);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n != QR_EAGAIN)
            return (int)n;
        if (qr_now_ms() > end)
            return QR_EAGAIN;
        if (!qr_stack_pending_input(s))
            tt_wait(s,
                    (short)(POLLIN | qr_stack_interest(s) | (sent < len || !flushed ? POLLOUT : 0)),
                    50);
    }
    return 0;
}

#endif /* QR_TESTS_TRANSPORT_HELPERS_H */
