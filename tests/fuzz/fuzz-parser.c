/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-parser: the response parser on arbitrary server bytes.
 *
 * The first input byte chooses the limits (small or default token, literal
 * and depth limits) and how the rest is split; the rest is the server
 * stream. The stream is parsed twice: whole, then cut into pieces (single
 * bytes, or pseudo-random sizes seeded by the first byte) with callbacks
 * optionally returning QR_PAUSE after every event. Both runs must produce
 * the same event log, including the final error line, and must consume
 * exactly the input when no error occurred: any difference aborts.
 * Sanitizers catch the rest (over-reads, leaks, undefined behaviour).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../transcripts/events.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void limits(qr_parser_options *o, uint8_t sel)
{
    qr_parser_options_init(o, QR_PARSER_OPTIONS_VERSION);
    if (sel & 0x01) {
        o->max_token = 64;
        o->max_small_literal = 32;
        o->max_literal = 4096;
        o->max_depth = 4;
        o->max_response = 4096;
    }
}

static int run(const char *in, size_t len, uint8_t sel, int split, ev_log *log)
{
    qr_parser_options o;
    qr_parser *p = NULL;
    size_t off = 0, used, rounds = 0;
    unsigned rng = sel * 2654435761u + 1;
    int rc = 0;

    limits(&o, sel);
    ev_log_attach(log, &o);
    log->pause = split && (sel & 0x02);
    if (qr_parser_new(&p, &o) != 0)
        abort();
    while (off < len || rc == QR_PAUSE) { /* after a pause, feed again even with 0 bytes */
        size_t n = len - off;
        if (split) {
            rng = rng * 1103515245u + 12345u;
            n = (sel & 0x04) ? 1 : 1 + (rng >> 16) % 17;
            if (n > len - off)
                n = len - off;
        }
        if (off == len)
            n = 0;
        if (++rounds > 4 * len + 100)
            abort(); /* no progress */
        rc = qr_parser_feed(p, in + off, n, &used);
        if (used > n || (rc == 0 && used != n))
            abort();
        off += used;
        if (rc == QR_PAUSE)
            continue;
        if (rc < 0) {
            ev_log_error(log, p, rc);
            if (qr_parser_feed(p, in + off, len - off, &used) != rc || used != 0)
                abort(); /* not sticky */
            break;
        }
    }
    if (rc >= 0 && qr_parser_offset(p) != len)
        abort();
    if (log->bad)
        abort(); /* body events out of order or sizes wrong */
    qr_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ev_log whole, pieces;
    char *copy;

    if (size < 1)
        return 0;
    /* an exact-size copy so that any over-read is caught by ASan */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    ev_log_init(&whole);
    ev_log_init(&pieces);
    run(copy, size - 1, data[0], 0, &whole);
    run(copy, size - 1, data[0], 1, &pieces);
    if (strcmp(whole.buf ? whole.buf : "", pieces.buf ? pieces.buf : "") != 0) {
        if (getenv("FUZZ_PARSER_DEBUG") != NULL)
            fprintf(stderr, "--- whole:\n%s--- pieces:\n%s", whole.buf ? whole.buf : "",
                    pieces.buf ? pieces.buf : "");
        abort(); /* the split changed the events */
    }
    ev_log_free(&whole);
    ev_log_free(&pieces);
    free(copy);
    return 0;
}
