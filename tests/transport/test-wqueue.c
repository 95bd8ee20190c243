/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Write queue tests (transport/wqueue.c): borrowed, owned and copied
 * entries, the byte cap, partial writes in the middle of entries through a
 * small socket buffer (with and without a deflate layer), allocation
 * failures. Owned entries left unfreed would show up under LeakSanitizer.
 */
#include "config.h"

#include <unistd.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "util/alloc.h"

/* A stack over one end of a socketpair (optionally with deflate); peer end in *peer. */
static int open_pair(qr_stack *s, qr_errslot *err, int *peer, int small_buf)
{
    qr_layer *l = NULL;
    int sv[2];

    qr_errslot_clear(err);
    qr_stack_init(s, err);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    if (small_buf) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof(small_buf));
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small_buf, sizeof(small_buf));
    }
    if (qr_socket_layer_create_fd(&l, s, sv[0], "wq"))
        return -1;
    qr_stack_push(s, l);
    *peer = sv[1];
    return 0;
}

static void test_push_kinds_and_cap(void)
{
    qr_wqueue q;
    char *own = qr_strdup("owned");

    qr_wqueue_init(&q, 20);
    CHECK_INT_EQ(qr_wqueue_push(&q, "a1 ", 3, 0), 0);
    CHECK_INT_EQ(qr_wqueue_push(&q, own, 5, 1), 0);
    CHECK_INT_EQ(qr_wqueue_push_copy(&q, "\r\n", 2), 0);
    CHECK_INT_EQ(qr_wqueue_push(&q, "", 0, 0), 0);
    CHECK_UINT_EQ(q.bytes, 10);
    CHECK_UINT_EQ(q.count, 3);
    CHECK_INT_EQ(qr_wqueue_push(&q, "0123456789x", 11, 0), QR_ELIMIT);
    CHECK_INT_EQ(qr_wqueue_push_copy(&q, "0123456789x", 11), QR_ELIMIT);
    CHECK_INT_EQ(qr_wqueue_push(&q, "0123456789", 10, 0), 0);
    CHECK_UINT_EQ(q.bytes, 20);
    qr_wqueue_free(&q);
    CHECK_UINT_EQ(q.bytes, 0);
    CHECK_UINT_EQ(q.count, 0);
    CHECK_UINT_EQ(q.max_bytes, 20);
}

static void test_send_small_entries(void)
{
    qr_errslot err;
    qr_wqueue q;
    qr_stack s;
    char buf[64];
    int peer;

    CHECK_INT_EQ(open_pair(&s, &err, &peer, 0), 0);
    qr_wqueue_init(&q, 1024);
    CHECK_INT_EQ(qr_wqueue_push(&q, "a1 LOGIN ", 9, 0), 0);
    CHECK_INT_EQ(qr_wqueue_push(&q, qr_strdup("user"), 4, 1), 0);
    CHECK_INT_EQ(qr_wqueue_push_copy(&q, " pass\r\n", 7), 0);
    CHECK_INT_EQ(qr_wqueue_send(&q, &s), 0);
    CHECK_UINT_EQ(q.bytes, 0);
    CHECK_INT_EQ(read(peer, buf, sizeof(buf)), 20);
    CHECK_MEM_EQ(buf, 20, "a1 LOGIN user pass\r\n", 20);
    CHECK_INT_EQ(qr_wqueue_send(&q, &s), 0);
    qr_wqueue_free(&q);
    qr_stack_destroy(&s);
    close(peer);
}

/* Many entries (more than one iovec batch) through a tiny socket buffer. */
static void check_partial_writes(int with_deflate)
{
    size_t n = 3000, i, total = 0, got = 0;
    unsigned char *expect = malloc(n * 40), *out = malloc(n * 40);
    qr_stack s, r;
    qr_errslot err, rerr;
    qr_wqueue q;
    qr_layer *l = NULL;
    int peer, rc = QR_EAGAIN;
    ssize_t k;
    int64_t end = qr_now_ms() + 20000;

    CHECK_INT_EQ(open_pair(&s, &err, &peer, 4096), 0);
    qr_errslot_clear(&rerr);
    qr_stack_init(&r, &rerr);
    CHECK_INT_EQ(qr_socket_layer_create_fd(&l, &r, peer, "peer"), 0);
    qr_stack_push(&r, l);
    if (with_deflate) {
        CHECK_INT_EQ(qr_deflate_layer_create(&l, &s, NULL, 0), 0);
        qr_stack_push(&s, l);
        CHECK_INT_EQ(qr_deflate_layer_create(&l, &r, NULL, 0), 0);
        qr_stack_push(&r, l);
    }
    qr_wqueue_init(&q, n * 40);
    for (i = 0; i < n; i++) {
        char line[40];
        int len =
            snprintf(line, sizeof(line), "a%zu NOOP %08x\r\n", i, (unsigned)(i * 2654435761u));

        memcpy(expect + total, line, (size_t)len);
        total += (size_t)len;
        CHECK_INT_EQ(qr_wqueue_push_copy(&q, line, (size_t)len), 0);
    }
    while (got < total && qr_now_ms() < end) {
        if (rc != 0)
            rc = qr_wqueue_send(&q, &s);
        if (rc != 0 && rc != QR_EAGAIN)
            break;
        k = qr_stack_read(&r, out + got, total - got);
        if (k > 0) {
            got += (size_t)k;
        } else if (k != QR_EAGAIN) {
            break;
        } else if (!qr_stack_pending_input(&r)) {
            struct pollfd f[2] = {{qr_stack_fd(&s), (short)qr_stack_interest(&s), 0},
                                  {qr_stack_fd(&r), POLLIN, 0}};

            poll(f, 2, 20);
        }
    }
    CHECK_INT_EQ(rc, 0);
    CHECK_UINT_EQ(got, total);
    CHECK(memcmp(out, expect, total) == 0);
    CHECK_UINT_EQ(q.bytes, 0);
    CHECK_UINT_EQ(s.traffic.plain_out, total);
    qr_wqueue_free(&q);
    qr_stack_destroy(&s);
    qr_stack_destroy(&r);
    free(expect);
    free(out);
}

static void test_partial_writes(void)
{
    check_partial_writes(0);
}

static void test_partial_writes_through_deflate(void)
{
    check_partial_writes(1);
}

static void test_allocation_failures(void)
{
    unsigned long n;
    qr_wqueue q;
    int i, rc;

    for (n = 1; n <= 4; n++) {
        qr_wqueue_init(&q, 100000);
        qr_alloc_fail_at(n, 0);
        for (i = 0, rc = 0; i < 20 && rc == 0; i++)
            rc = qr_wqueue_push_copy(&q, "abc", 3);
        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK_UINT_EQ(q.bytes, (size_t)(i - 1) * 3);
        qr_wqueue_free(&q);
    }
}

int main(void)
{
    TAP_RUN(test_push_kinds_and_cap);
    TAP_RUN(test_send_small_entries);
    TAP_RUN(test_partial_writes);
    TAP_RUN(test_partial_writes_through_deflate);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
