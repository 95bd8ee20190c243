/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * traffic.c: the traffic statistics line (traffic.h).
 *
 * The text is the reference's Net::IMAP::InterIMAP stats() byte for
 * byte, because users grep their logs for it: the counts come from
 * qr_conn_traffic() (plain_* are the session's bytes, compr_* the
 * compressed bytes below TLS), the units are powers of 1024 and the
 * factor is compressed / plain.
 */
#include <stdio.h>
#include <stdlib.h>

#include "traffic.h"
#include "xalloc.h"

char *qrt_traffic_bytes(char *buf, size_t size, uint64_t n)
{
    static const char units[] = "KMG";
    double v = (double)n;
    size_t u = 0;

    if (n < 1024) {
        snprintf(buf, size, "%llu", (unsigned long long)n);
        return buf;
    }
    /* Divide while the value reaches the next unit, up to G. */
    v /= 1024.0;
    while (u + 1 < sizeof(units) - 1 && v >= 1024.0) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.2f%c", v, units[u]);
    return buf;
}

/* Append " WHAT COUNT" and, when compressed, " (compr. C, factor F)". */
static int append_count(char *out, size_t size, const char *what, uint64_t plain, uint64_t wire,
                        int compressed)
{
    char a[32], b[32];

    qrt_traffic_bytes(a, sizeof(a), plain);
    if (!compressed || plain == 0)
        return snprintf(out, size, " %s %s", what, a);
    qrt_traffic_bytes(b, sizeof(b), wire);
    return snprintf(out, size, " %s %s (compr. %s, factor %.2f)", what, a, b,
                    (double)wire / (double)plain);
}

char *qrt_traffic_text(const qr_conn_traffic_stats *t)
{
    char line[192] = "IMAP traffic (bytes):";
    size_t n = sizeof("IMAP traffic (bytes):") - 1;
    int k;

    k = append_count(line + n, sizeof(line) - n, "recv", t->plain_in, t->compr_in, t->compressed);
    if (k > 0)
        n += (size_t)k;
    if (n < sizeof(line))
        append_count(line + n, sizeof(line) - n, "sent", t->plain_out, t->compr_out, t->compressed);
    return qrt_xstrdup(line);
}
