/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * traffic.h: the "IMAP traffic (bytes): ..." line both tools print for a
 * connection when it is destroyed (imap-client.md §11.3), and the byte
 * counts in the reference's format.
 */
#ifndef QRT_TRAFFIC_H
#define QRT_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/conn.h>

/**
 * Write n as the reference does into buf: the plain integer below 1024,
 * else n divided by 1024, 1024^2 or 1024^3 with two decimals and the
 * suffix K, M or G ("1.19K", "294.30K", "3.00M"). Returns buf.
 */
char *qrt_traffic_bytes(char *buf, size_t size, uint64_t n);

/**
 * "IMAP traffic (bytes): recv R sent S" for the counters t: R and S are
 * the session's own byte counts (after inflate, before deflate). While
 * COMPRESS is active, a non-zero count is followed by
 * " (compr. C, factor F)" with C the bytes on the link and F = C / count
 * with two decimals. Returns an owned string.
 */
char *qrt_traffic_text(const qr_conn_traffic_stats *t);

#endif /* QRT_TRAFFIC_H */
