/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parser-throughput: MB/s of the response parser on two workloads, each
 * beside memchr() over the same bytes (a floor for "touching every byte"):
 *   (a) one FETCH per message with a 50 KiB BODY[] literal streamed to a
 *       sink (fed in 64 KiB reads), twice: a sink that only counts bytes
 *       (the parser's own cost: it hands the input buffer over without
 *       reading it, so this rate is not bounded by memory bandwidth), and
 *       a sink that runs memchr() over every chunk, which is the figure to
 *       compare with memchr alone (target: at least half of it);
 *   (b) 100,000 lines `* N FETCH (UID N FLAGS (\Seen) MODSEQ (N))`.
 * Build with --buildtype=release and run: bench/parser-throughput [ROUNDS]
 */
#include <qresync/resp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct counts {
    unsigned long responses; /* on_response calls */
    unsigned long long body; /* body bytes */
    int touch;               /* the sink reads every body byte */
    size_t newlines;         /* what the touching sink found */
} counts;

static int on_response(const qr_resp *r, void *arg)
{
    ((counts *)arg)->responses += r->kind == QR_RESP_FETCH;
    return 0;
}

static int on_data(const char *d, size_t n, void *arg)
{
    counts *c = arg;

    c->body += n;
    if (c->touch) {
        const char *s = d, *end = d + n;
        while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
            c->newlines++;
            s++;
        }
    }
    return 0;
}

static double parse_rate(const char *buf, size_t len, int rounds, counts *c)
{
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    double t0, best = 1e9;
    int r;

    o.callbacks.on_response = on_response;
    o.callbacks.on_body_data = on_data;
    o.payload = c;
    for (r = 0; r < rounds; r++) {
        qr_parser *p = NULL;
        size_t off = 0, used;
        if (qr_parser_new(&p, &o) != 0)
            exit(1);
        t0 = now();
        while (off < len) {
            size_t n = len - off > 65536 ? 65536 : len - off;
            if (qr_parser_feed(p, buf + off, n, &used) != 0)
                exit(2);
            off += used;
        }
        t0 = now() - t0;
        best = t0 < best ? t0 : best;
        qr_parser_free(p);
    }
    return (double)len / best / 1e6;
}

static volatile size_t memchr_sink; /* keeps the memchr loop alive */

static double memchr_rate(const char *buf, size_t len, int rounds)
{
    double t0, best = 1e9;
    int r;

    for (r = 0; r < rounds; r++) {
        const char *s = buf, *end = buf + len;
        size_t h = 0;
        t0 = now();
        while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
            h++;
            s++;
        }
        t0 = now() - t0;
        memchr_sink += h;
        best = t0 < best ? t0 : best;
    }
    return (double)len / best / 1e6;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5, i;
    size_t cap = 64u << 20, len = 0, body = 50 * 1024;
    char *buf = malloc(cap);
    counts c = {0, 0, 0, 0};
    double counting, touching, floor;

    if (buf == NULL)
        return 1;
    /* (a) bodies: 1000 messages of 50 KiB */
    for (i = 1; i <= 1000; i++) {
        len += (size_t)sprintf(buf + len, "* %d FETCH (UID %d BODY[] {%zu}\r\n", i, i, body);
        memset(buf + len, 'a' + i % 26, body);
        len += body;
        len += (size_t)sprintf(buf + len, ")\r\n");
    }
    counting = parse_rate(buf, len, rounds, &c);
    c.touch = 1;
    touching = parse_rate(buf, len, rounds, &c);
    c.touch = 0;
    floor = memchr_rate(buf, len, rounds);
    printf("(a) 1000 x 50 KiB bodies, %.1f MB: parser + memchr sink %.0f MB/s, memchr alone %.0f "
           "MB/s (%.2fx); parser + counting sink %.0f MB/s\n",
           len / 1e6, touching, floor, touching / floor, counting);
    /* (b) flag lines */
    len = 0;
    for (i = 1; i <= 100000; i++)
        len += (size_t)sprintf(buf + len, "* %d FETCH (UID %d FLAGS (\\Seen) MODSEQ (%d))\r\n", i,
                               i, i + 1000000);
    printf("(b) 100000 FETCH flag lines, %.1f MB: parser %.0f MB/s, memchr %.0f MB/s (target >= "
           "200 MB/s)\n",
           len / 1e6, parse_rate(buf, len, rounds, &c), memchr_rate(buf, len, rounds));
    printf("(%lu FETCH events, %llu body bytes)\n", c.responses, c.body);
    free(buf);
    return 0;
}
