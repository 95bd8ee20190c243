/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * COMPRESS=DEFLATE layer tests (transport/deflate.c), both ends in this
 * process: two stacks over a socketpair, each a socket layer plus a
 * deflate layer. Round trips of many sizes and read sizes, per-command
 * sync flushes, pending input with tiny reads, bytes injected at creation,
 * back-pressure, corrupt input, a deflate bomb under a memory bound, and
 * the traffic counters.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <zlib.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "util/alloc.h"

typedef struct pair {
    qr_errslot err[2]; /* one error slot per side */
    qr_stack s[2];     /* s[0] and s[1], connected to each other */
} pair;

/* Two connected stacks; with_deflate: a deflate layer on top of each. */
static int pair_open(pair *p, int with_deflate)
{
    int sv[2], i;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    for (i = 0; i < 2; i++) {
        qr_layer *l = NULL;

        qr_errslot_clear(&p->err[i]);
        qr_stack_init(&p->s[i], &p->err[i]);
        if (qr_socket_layer_create_fd(&l, &p->s[i], sv[i], i ? "side1" : "side0"))
            return -1;
        qr_stack_push(&p->s[i], l);
        if (with_deflate) {
            if (qr_deflate_layer_create(&l, &p->s[i], NULL, 0))
                return -1;
            qr_stack_push(&p->s[i], l);
        }
    }
    return 0;
}

static void pair_close(pair *p)
{
    qr_stack_destroy(&p->s[0]);
    qr_stack_destroy(&p->s[1]);
}

static void wait_both(qr_stack *a, qr_stack *b)
{
    struct pollfd f[2] = {{qr_stack_fd(a), (short)qr_stack_interest(a), 0},
                          {qr_stack_fd(b), POLLIN, 0}};

    poll(f, 2, 20);
}

/*
 * Send len bytes from a to b (a flush at the end), reading with reads of at
 * most chunk bytes, interleaved: 0 or the failing code. The first `sent`
 * bytes were already accepted by a.
 */
static int pump_from(qr_stack *a, qr_stack *b, const unsigned char *data, size_t len, size_t sent,
                     unsigned char *out, size_t chunk)
{
    int64_t end = qr_now_ms() + 60000;
    size_t got = 0;
    int flushed = 0;

    while (got < len || !flushed) {
        int progress = 0;
        ssize_t n;

        if (sent < len) {
            struct iovec v = {(void *)(uintptr_t)(data + sent), len - sent};

            n = qr_stack_write(a, &v, 1);
            if (n > 0) {
                sent += (size_t)n;
                progress = 1;
            } else if (n != QR_EAGAIN) {
                return (int)n;
            }
        }
        if (sent == len && !flushed) {
            int rc = qr_stack_flush(a);

            if (rc != 0 && rc != QR_EAGAIN)
                return rc;
            flushed = rc == 0;
        }
        if (got < len) {
            n = qr_stack_read(b, out + got, len - got < chunk ? len - got : chunk);
            if (n > 0) {
                got += (size_t)n;
                progress = 1;
            } else if (n != QR_EAGAIN) {
                return (int)n;
            }
        }
        if (!progress && !qr_stack_pending_input(b)) {
            if (qr_now_ms() > end)
                return QR_EAGAIN;
            wait_both(a, b);
        }
    }
    return 0;
}

static int pump(qr_stack *a, qr_stack *b, const unsigned char *data, size_t len, unsigned char *out,
                size_t chunk)
{
    return pump_from(a, b, data, len, 0, out, chunk);
}

static void check_round_trip(size_t len, int compressible, size_t chunk)
{
    unsigned char *data = malloc(len + 1), *out = malloc(len + 1), extra;
    pair p;
    size_t i;

    if (compressible)
        for (i = 0; i < len; i++)
            data[i] = (unsigned char)("* 1 FETCH (FLAGS (\\Seen))\r\n"[i % 27]);
    else
        tt_random(data, len, (uint32_t)len + 7);
    CHECK_INT_EQ(pair_open(&p, 1), 0);
    CHECK_INT_EQ(pump(&p.s[0], &p.s[1], data, len, out, chunk), 0);
    CHECK(len == 0 || memcmp(data, out, len) == 0);
    CHECK_INT_EQ(qr_stack_read(&p.s[1], &extra, 1), QR_EAGAIN);
    CHECK_INT_EQ(qr_stack_pending_input(&p.s[1]), 0);
    /* counters: plain at the top, compressed = wire (no TLS in between) */
    CHECK_UINT_EQ(p.s[0].traffic.plain_out, len);
    CHECK_UINT_EQ(p.s[1].traffic.plain_in, len);
    CHECK_UINT_EQ(p.s[0].traffic.compr_out, p.s[0].traffic.wire_out);
    CHECK_UINT_EQ(p.s[1].traffic.compr_in, p.s[1].traffic.wire_in);
    CHECK_UINT_EQ(p.s[1].traffic.wire_in, p.s[0].traffic.wire_out);
    if (len == 0)
        CHECK_UINT_EQ(p.s[0].traffic.wire_out, 0);
    if (compressible && len >= 65536)
        CHECK(p.s[0].traffic.wire_out < len / 50);
    if (!compressible && len >= 65536)
        CHECK(p.s[0].traffic.wire_out > len);
    pair_close(&p);
    free(data);
    free(out);
}

static void test_round_trip_sizes(void)
{
    static const size_t sizes[] = {0, 1, 2, 100, 4095, 32768, 32769, 65536, 1000000};
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_round_trip(sizes[i], 0, 16384);
        check_round_trip(sizes[i], 1, 16384);
        check_round_trip(sizes[i], 0, 777);
    }
}

static void test_round_trip_one_byte_reads(void)
{
    check_round_trip(65536, 0, 1);
    check_round_trip(65536, 1, 1);
}

static void test_round_trip_10mib(void)
{
    check_round_trip(10 * 1024 * 1024, 0, 16384);
    check_round_trip(10 * 1024 * 1024, 1, 65536);
}

/* Each flushed command can be read whole by the peer before the next one. */
static void test_each_flush_delivers_whole_commands(void)
{
    char cmd[64], buf[64];
    pair p;
    int i, last, len;
    uint64_t before;

    CHECK_INT_EQ(pair_open(&p, 1), 0);
    for (i = 0; i < 100; i++) {
        len = snprintf(cmd, sizeof(cmd), "a%d UID FETCH %d:* (FLAGS)\r\n", i, i * 7);
        CHECK_INT_EQ(tt_write_all(&p.s[0], cmd, (size_t)len), 0);
        CHECK_UINT_EQ(tt_read_some(&p.s[1], buf, (size_t)len, sizeof(buf), &last), (size_t)len);
        CHECK_MEM_EQ(buf, (size_t)len, cmd, (size_t)len);
        CHECK_INT_EQ(qr_stack_read(&p.s[1], buf, sizeof(buf)), QR_EAGAIN);
    }
    /* a write without flush stays in the deflater; an empty flush adds nothing */
    before = p.s[0].traffic.wire_out;
    CHECK_INT_EQ(qr_stack_flush(&p.s[0]), 0);
    CHECK_UINT_EQ(p.s[0].traffic.wire_out, before);
    {
        char a[] = "a1 ", e[] = "", b[] = "NOOP\r\n";
        struct iovec v[3] = {{a, 3}, {e, 0}, {b, 6}};

        CHECK_INT_EQ(qr_stack_write(&p.s[0], v, 3), 9);
        CHECK_INT_EQ(qr_stack_write(&p.s[0], v + 1, 1), 0);
    }
    CHECK_INT_EQ(qr_stack_read(&p.s[1], buf, sizeof(buf)), QR_EAGAIN);
    CHECK_INT_EQ(qr_stack_flush(&p.s[0]), 0);
    CHECK_UINT_EQ(tt_read_some(&p.s[1], buf, 9, sizeof(buf), &last), 9);
    CHECK_MEM_EQ(buf, 9, "a1 NOOP\r\n", 9);
    pair_close(&p);
}

/* The fd is drained but the inflater still has output: pending_input says so. */
static void test_pending_input_with_one_byte_reads(void)
{
    unsigned char data[5000], out[5000];
    pair p;
    size_t got = 0, i;
    ssize_t n;
    char peek;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)("* 3 EXPUNGE\r\n"[i % 13]);
    CHECK_INT_EQ(pair_open(&p, 1), 0);
    CHECK_INT_EQ(qr_stack_pending_input(&p.s[1]), 0);
    CHECK_INT_EQ(tt_write_all(&p.s[0], data, sizeof(data)), 0);
    CHECK_INT_EQ(tt_wait(&p.s[1], POLLIN, 5000), 1);
    n = qr_stack_read(&p.s[1], out, 1);
    CHECK_INT_EQ(n, 1);
    got = 1;
    /* everything compressed was read from the fd in one go */
    CHECK(recv(qr_stack_fd(&p.s[1]), &peek, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN);
    while (qr_stack_pending_input(&p.s[1]) && got < sizeof(data)) {
        n = qr_stack_read(&p.s[1], out + got, 1);
        CHECK_INT_EQ(n, 1);
        if (n != 1)
            break;
        got++;
    }
    CHECK_UINT_EQ(got, sizeof(data));
    CHECK_MEM_EQ(out, got, data, sizeof(data));
    CHECK_INT_EQ(qr_stack_read(&p.s[1], out, 1), QR_EAGAIN);
    CHECK_INT_EQ(qr_stack_pending_input(&p.s[1]), 0);
    pair_close(&p);
}

/* Raw-deflate len bytes of src (or zeros when src is NULL) with a final flush mode. */
static unsigned char *zcompress(const void *src, size_t len, int level, int final, size_t *outlen)
{
    static const unsigned char zeros[65536];
    size_t cap = len / 500 + 65536 + (src ? len + len / 100 : 0), done = 0;
    unsigned char *out = malloc(cap);
    z_stream z;

    memset(&z, 0, sizeof(z));
    deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    do {
        size_t piece = src ? len - done : (len - done < sizeof(zeros) ? len - done : sizeof(zeros));

        z.next_in = (Bytef *)(uintptr_t)(src ? (const unsigned char *)src + done : zeros);
        z.avail_in = (uInt)piece;
        done += piece;
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        deflate(&z, done == len ? final : Z_NO_FLUSH);
    } while (done < len);
    *outlen = z.total_out;
    deflateEnd(&z);
    return out;
}

/* The tagged OK and the first compressed bytes arrive in one read. */
static void test_leftover_bytes_injected(void)
{
    static const char ok[] = "a2 OK DEFLATE active\r\n";
    char buf[4096];
    qr_layer *l = NULL;
    pair p;
    ssize_t n;
    char *eol;
    size_t left;
    int last;

    CHECK_INT_EQ(pair_open(&p, 0), 0);
    /* server: the OK in clear, then compression starts */
    CHECK_INT_EQ(tt_write_all(&p.s[0], ok, sizeof(ok) - 1), 0);
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &p.s[0], NULL, 0), 0);
    qr_stack_push(&p.s[0], l);
    CHECK_INT_EQ(tt_write_all(&p.s[0], "* 1 EXISTS\r\n", 12), 0);
    /* client: one read gets both */
    CHECK_INT_EQ(tt_wait(&p.s[1], POLLIN, 5000), 1);
    n = qr_stack_read(&p.s[1], buf, sizeof(buf));
    CHECK(n > (ssize_t)sizeof(ok) - 1);
    eol = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
    CHECK(eol != NULL);
    if (!eol)
        goto out;
    CHECK_MEM_EQ(buf, (size_t)(eol + 1 - buf), ok, sizeof(ok) - 1);
    left = (size_t)(buf + n - (eol + 1));
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &p.s[1], eol + 1, left), 0);
    qr_stack_push(&p.s[1], l);
    CHECK_INT_EQ(qr_stack_pending_input(&p.s[1]), 1);
    CHECK_UINT_EQ(p.s[1].traffic.compr_in, left);
    CHECK_UINT_EQ(tt_read_some(&p.s[1], buf, 12, sizeof(buf), &last), 12);
    CHECK_MEM_EQ(buf, 12, "* 1 EXISTS\r\n", 12);
    CHECK_INT_EQ(qr_stack_read(&p.s[1], buf, sizeof(buf)), QR_EAGAIN);
    /* and the client can answer compressed */
    CHECK_INT_EQ(tt_write_all(&p.s[1], "a3 NOOP\r\n", 9), 0);
    CHECK_UINT_EQ(tt_read_some(&p.s[0], buf, 9, sizeof(buf), &last), 9);
    CHECK_MEM_EQ(buf, 9, "a3 NOOP\r\n", 9);
out:
    pair_close(&p);
}

/* More injected bytes than the usual input buffer; then the stream ends. */
static void test_large_injection_and_stream_end(void)
{
    size_t len = 100000, zlen, got;
    unsigned char *data = malloc(len), *out = malloc(len + 1), *z;
    qr_layer *l = NULL;
    pair p;
    int last;

    tt_random(data, len, 99);
    z = zcompress(data, len, 6, Z_FINISH, &zlen);
    CHECK(zlen > 65536);
    CHECK_INT_EQ(pair_open(&p, 0), 0);
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &p.s[1], z, zlen), 0);
    qr_stack_push(&p.s[1], l);
    got = tt_read_some(&p.s[1], out, len + 1, 16384, &last);
    CHECK_UINT_EQ(got, len);
    CHECK(memcmp(out, data, len) == 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_STR_EQ(qr_errslot_get(&p.err[1])->message, "compressed stream ended (got EOF)");
    CHECK_INT_EQ(qr_stack_pending_input(&p.s[1]), 0);
    CHECK_INT_EQ(qr_stack_read(&p.s[1], out, 1), QR_EOF);
    CHECK_UINT_EQ(p.s[1].traffic.compr_in, zlen);
    CHECK_UINT_EQ(p.s[1].traffic.wire_in, 0);
    pair_close(&p);
    free(data);
    free(out);
    free(z);
}

static void check_corrupt(const void *junk, size_t len, int inject, const char *want)
{
    qr_layer *l = NULL;
    char buf[256];
    pair p;
    int last;

    CHECK_INT_EQ(pair_open(&p, 0), 0);
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &p.s[1], inject ? junk : NULL, inject ? len : 0), 0);
    qr_stack_push(&p.s[1], l);
    if (!inject)
        CHECK_INT_EQ(tt_write_all(&p.s[0], junk, len), 0);
    CHECK_UINT_EQ(tt_read_some(&p.s[1], buf, sizeof(buf), sizeof(buf), &last), 0);
    CHECK_INT_EQ(last, QR_ECOMPRESS);
    CHECK_INT_EQ(qr_errslot_get(&p.err[1])->code, QR_ECOMPRESS);
    CHECK_INT_EQ(qr_errslot_get(&p.err[1])->lib_code, Z_DATA_ERROR);
    CHECK_STR_EQ(qr_errslot_get(&p.err[1])->message, want);
    pair_close(&p);
}

static void test_corrupt_stream(void)
{
    /* BFINAL=1, BTYPE=11 (reserved) */
    check_corrupt("\xff\xff\xff\xff", 4, 0, "Inflation failed: invalid block type");
    check_corrupt("\xff\xff\xff\xff", 4, 1, "Inflation failed: invalid block type");
    /* a stored block whose LEN/NLEN disagree */
    check_corrupt("\x00\x05\x00\x00\x00hello", 10, 0,
                  "Inflation failed: invalid stored block lengths");
    /* plaintext where compression was expected */
    check_corrupt("* OK plain text\r\n", 17, 0, "Inflation failed: invalid distance too far back");
}

/* A slow reader: writes stop with QR_EAGAIN, interest wants POLLOUT, then it drains. */
static void test_back_pressure(void)
{
    size_t len = 4 * 1024 * 1024, sent = 0;
    unsigned char *data = malloc(len), *out = malloc(len);
    int small = 16384, tries = 0;
    pair p;
    ssize_t n;

    tt_random(data, len, 5);
    CHECK_INT_EQ(pair_open(&p, 1), 0);
    setsockopt(qr_stack_fd(&p.s[0]), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(qr_stack_fd(&p.s[1]), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    do {
        struct iovec v = {data + sent, len - sent};

        n = qr_stack_write(&p.s[0], &v, 1);
        if (n > 0)
            sent += (size_t)n;
    } while (n > 0 && ++tries < 100000);
    CHECK_INT_EQ(n, QR_EAGAIN);
    CHECK(sent < len);
    CHECK_INT_EQ(qr_stack_interest(&p.s[0]) & POLLOUT, POLLOUT);
    CHECK_INT_EQ(qr_stack_flush(&p.s[0]), QR_EAGAIN);
    CHECK_INT_EQ(pump_from(&p.s[0], &p.s[1], data, len, sent, out, 16384), 0);
    CHECK(memcmp(data, out, len) == 0);
    CHECK_INT_EQ(qr_stack_interest(&p.s[0]), 0);
    CHECK_UINT_EQ(p.s[0].traffic.plain_out, len);
    CHECK_UINT_EQ(p.s[1].traffic.plain_in, len);
    pair_close(&p);
    free(data);
    free(out);
}

static void test_eof_passes_through(void)
{
    char buf[8];
    pair p;
    int last;

    CHECK_INT_EQ(pair_open(&p, 1), 0);
    qr_stack_destroy(&p.s[0]);
    CHECK_UINT_EQ(tt_read_some(&p.s[1], buf, sizeof(buf), sizeof(buf), &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_STR_EQ(qr_errslot_get(&p.err[1])->message, "read from side1: 0 bytes read (got EOF)");
    qr_stack_destroy(&p.s[1]);
}

static long status_kib(const char *field)
{
    char line[256];
    long v = -1;
    size_t flen = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            v = strtol(line + flen + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* 1 GiB of zeros compressed to ~1 MiB, read with a 16 KiB buffer. */
static void test_deflate_bomb_bounded_memory(void)
{
    const size_t total = (size_t)1 << 30;
    size_t zlen, zsent = 0, got = 0, nonzero = 0, i;
    unsigned char *z = zcompress(NULL, total, 9, Z_SYNC_FLUSH, &zlen);
    unsigned char buf[16384];
    int64_t end = qr_now_ms() + 120000;
    qr_layer *l = NULL;
    long rss0, hwm1;
    pair p;

    CHECK(zlen < 2 * 1024 * 1024);
    CHECK_INT_EQ(pair_open(&p, 0), 0);
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &p.s[1], NULL, 0), 0);
    qr_stack_push(&p.s[1], l);
    rss0 = status_kib("VmRSS");
    while (got < total && qr_now_ms() < end) {
        ssize_t n;

        if (zsent < zlen) {
            struct iovec v = {z + zsent, zlen - zsent};

            n = qr_stack_write(&p.s[0], &v, 1);
            if (n > 0)
                zsent += (size_t)n;
        }
        n = qr_stack_read(&p.s[1], buf, sizeof(buf));
        if (n < 0 && n != QR_EAGAIN)
            break;
        for (i = 0; n > 0 && i < (size_t)n; i++)
            nonzero |= buf[i];
        if (n > 0)
            got += (size_t)n;
        else
            wait_both(&p.s[0], &p.s[1]);
    }
    hwm1 = status_kib("VmHWM");
    CHECK_UINT_EQ(got, total);
    CHECK_UINT_EQ(nonzero, 0);
    CHECK(rss0 > 0 && hwm1 > 0);
    printf("# VmRSS before %ld KiB, VmHWM after %ld KiB, compressed %zu bytes\n", rss0, hwm1, zlen);
    CHECK(hwm1 - rss0 < 8 * 1024);
    CHECK_UINT_EQ(p.s[1].traffic.compr_in, zlen);
    CHECK_UINT_EQ(p.s[1].traffic.plain_in, total);
    pair_close(&p);
    free(z);
}

static void test_allocation_failures(void)
{
    unsigned long n, points;
    qr_layer *l = NULL;
    qr_errslot err;
    qr_stack s;

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_deflate_layer_create(&l, &s, "x", 1), 0);
    points = qr_alloc_count();
    l->ops->destroy(l);
    CHECK(points >= 4);
    for (n = 1; n <= points; n++) {
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(qr_deflate_layer_create(&l, &s, "x", 1), QR_ENOMEM);
        CHECK(l == NULL);
        CHECK_INT_EQ(qr_errslot_get(&err)->code, QR_ENOMEM);
        qr_alloc_fail_at(0, 0);
    }
}

int main(void)
{
    /* first, so that earlier tests' buffers do not hide the peak */
    TAP_RUN(test_deflate_bomb_bounded_memory);
    TAP_RUN(test_round_trip_sizes);
    TAP_RUN(test_round_trip_one_byte_reads);
    TAP_RUN(test_round_trip_10mib);
    TAP_RUN(test_each_flush_delivers_whole_commands);
    TAP_RUN(test_pending_input_with_one_byte_reads);
    TAP_RUN(test_leftover_bytes_injected);
    TAP_RUN(test_large_injection_and_stream_end);
    TAP_RUN(test_corrupt_stream);
    TAP_RUN(test_back_pressure);
    TAP_RUN(test_eof_passes_through);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
