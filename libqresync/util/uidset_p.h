/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of qr_uidset (public API in include/qresync/uidset.h).
 *
 * The structure itself, for the two files that implement it (uidset.c,
 * uidset_parse.c), plus helpers for other library code:
 *   - qr_uidset_append_to() writes a set into a capped qr_dynbuf (the
 *     command builder);
 *   - the incremental parser qr_uidset_parser_*, which the response parser
 *     feeds with the slices of a `VANISHED (EARLIER) 1:3,7,...` set as they
 *     arrive, so that a set of megabytes is never held as one token.
 *
 * Invariant of a qr_uidset (checked by qr_uidset_check_()): for every k,
 *   1 <= r[k].lo <= r[k].hi, and r[k].hi + 1 < r[k+1].lo (no overlap, no
 *   adjacency), computed without 32-bit overflow.
 * It holds whenever no library function is running on the set; the
 * incremental parser keeps it between its calls too.
 */
#ifndef QR_UTIL_UIDSET_P_H
#define QR_UTIL_UIDSET_P_H

#include <qresync/uidset.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dynbuf.h"

struct qr_uidset {
    qr_range *r; /* owned array of cap ranges, the first n in use; NULL when cap == 0 */
    size_t n;    /* ranges in use */
    size_t cap;  /* ranges allocated */
};

/* The longest element, "4294967294:4294967295". */
#define QR_UIDSET_MAX_ELEMENT 21

/* Grow set->r so that it holds at least `need` ranges. QR_ENOMEM. */
int qr_uidset_reserve_(qr_uidset *set, size_t need);
/* 1 if the set satisfies the invariant above, 0 if not (tests, asserts). */
int qr_uidset_check_(const qr_uidset *set);

/*
 * Append the text form of set ("1:5,7", "" when empty) to out. QR_ELIMIT
 * (past out's maximum) or QR_ENOMEM, and then out is unchanged.
 */
int qr_uidset_append_to(const qr_uidset *set, qr_dynbuf *out);

/*
 * Incremental parser for the text form of a set. O(1) state; put it on the
 * stack. Grammar (RFC 3501 sequence-set without '*'):
 *     set     = element *("," element)
 *     element = number [":" number]
 *     number  = %x31-39 *DIGIT, at most 4294967295
 * Usage:
 *     qr_uidset_parser p;
 *     qr_uidset_parser_init(&p);
 *     for each slice: rc = qr_uidset_parser_feed(&p, set, buf, len, &used);
 *         (a slice is consumed whole unless the set ends inside it: then
 *          buf[used] is the first byte after the set)
 *     once the delimiter after the set was seen: rc = qr_uidset_parser_finish(&p, set);
 * Elements are added to `set` as soon as they are complete (at the ',' that
 * ends them, or in finish for the last one), so the caller usually starts
 * with an empty set. Ascending lists (as servers send them) are appended in
 * constant time per element; other orders are batched within one feed call
 * and merged once, so no input makes parsing quadratic in the chunk size.
 * Feeding any split of the same bytes gives the same set and the same
 * result code at the same byte.
 */
typedef struct qr_uidset_parser {
    uint32_t num;   /* the number being read (0 before its first digit) */
    uint32_t first; /* first number of an `n:m` element, once ':' was read */
    int state;      /* where in the grammar we are (enum in uidset_parse.c) */
} qr_uidset_parser;

/* Start (or restart) a parse. */
void qr_uidset_parser_init(qr_uidset_parser *p);

/*
 * Parse buf[0..len) while its bytes are digits, ':' or ','; stop at the
 * first other byte without consuming it. *consumed receives the number of
 * bytes used. Returns:
 *   0          every byte up to *consumed was taken (a stop byte ends the
 *              set: call finish);
 *   QR_EINVAL  grammar error at buf[*consumed] ("1::2", ",,", a leading
 *              ',', a 0, a leading zero, a number above 4294967295); the
 *              parser then fails every later call until init. Elements
 *              completed before the error stay in the set;
 *   QR_ENOMEM  adding the element ended by buf[*consumed] failed; the
 *              parser state is unchanged, so feeding again from that byte
 *              retries.
 * The set satisfies its invariant whenever this returns.
 */
int qr_uidset_parser_feed(qr_uidset_parser *p, qr_uidset *set, const char *buf, size_t len,
                          size_t *consumed);

/*
 * The set ended (the caller saw the byte after it). Adds the last element.
 * QR_EINVAL when the set ended mid-element or was empty ("", "5:", "1,"),
 * or after an earlier QR_EINVAL; QR_ENOMEM (state unchanged, retry
 * possible). After 0 the parser must be re-initialised before reuse.
 */
int qr_uidset_parser_finish(qr_uidset_parser *p, qr_uidset *set);

#endif /* QR_UTIL_UIDSET_P_H */
