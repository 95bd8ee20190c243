/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parsing the text form of a UID set, incrementally (see uidset_p.h).
 *
 * The parser is a four-state machine over the bytes [0-9:,]:
 *
 *     START  --digit 1-9-->  FIRST  --':'-->  COLON  --digit 1-9-->  SECOND
 *       ^                      |  \__digit                             |  \__digit
 *       +---------','----------+                                      |
 *       +---------------------------------','-------------------------+
 *
 * plus FAILED (sticky after a grammar error) and DONE (after finish). The
 * number being read is accumulated in a uint32_t with an overflow check
 * before each digit, and a number may not start with 0, so a number is at
 * most ten digits and the state is O(1) whatever the input.
 *
 * Elements are added to the set as they complete. Servers send VANISHED
 * lists in increasing order, and those are appended in O(1) (or merged into
 * the last range). An element that is not above the last range would need
 * an O(n) insertion, so a hostile descending list of n elements would cost
 * O(n^2); instead, within one feed call such elements are pushed unsorted
 * after the canonical prefix (a *batch*) and, before the call returns,
 * sorted in place (heapsort, no allocation) and merged with the prefix
 * (backwards merge through scratch room reserved while pushing, so the merge
 * cannot fail either). The set is therefore canonical between calls, and a
 * feed call costs O(n + t log t) for t batched elements.
 *
 * Errors: a grammar error marks the parser FAILED and leaves the elements
 * completed so far in the set. An allocation failure leaves the parser state
 * as it was before the byte that completed the element, so the caller can
 * feed again from that byte. qr_uidset_parse() wraps all this to give an
 * all-or-nothing parse of a complete string.
 */
#include "config.h"

#include "util/uidset_p.h"

#include <assert.h>
#include <qresync/error.h>
#include <string.h>

#include "util/alloc.h"

enum {
    ST_START = 0, /* expecting the first digit of an element */
    ST_FIRST,     /* inside the first number of an element */
    ST_COLON,     /* after ':', expecting the first digit of the second number */
    ST_SECOND,    /* inside the second number */
    ST_FAILED,    /* a grammar error was seen; every call fails */
    ST_DONE       /* finish succeeded; init before reuse */
};

/* Elements added during one feed call that were not above the last range. */
typedef struct batch {
    size_t base; /* set->r[base..n) are unsorted batched ranges */
    int active;  /* whether anything is batched */
} batch;

void qr_uidset_parser_init(qr_uidset_parser *p)
{
    p->num = 0;
    p->first = 0;
    p->state = ST_START;
}

/* Add [a, b] to the set: append or extend the last range, or batch it. */
static int batch_add(qr_uidset *set, batch *bt, uint32_t a, uint32_t b)
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    qr_range *last = set->n ? &set->r[set->n - 1] : NULL;
    int rc;

    if (!bt->active && last && lo >= last->lo && lo <= (uint64_t)last->hi + 1) {
        if (hi > last->hi)
            last->hi = hi;
        return 0;
    }
    if (!bt->active && last && lo < last->lo) {
        bt->active = 1;
        bt->base = set->n;
    }
    /* a batched range needs a twin slot of scratch room for the merge */
    rc = qr_uidset_reserve_(set, set->n + 1 + (bt->active ? set->n + 1 - bt->base : 0));
    if (rc < 0)
        return rc;
    set->r[set->n].lo = lo;
    set->r[set->n].hi = hi;
    set->n++;
    return 0;
}

static void sift_down(qr_range *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        qr_range tmp;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1].lo > a[child].lo)
            child++;
        if (a[root].lo >= a[child].lo)
            return;
        tmp = a[root];
        a[root] = a[child];
        a[child] = tmp;
        root = child;
    }
}

/* Sort a[0..n) by lo, in place, in O(n log n) without allocating. */
static void heap_sort(qr_range *a, size_t n)
{
    size_t i;

    for (i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (i = n; i-- > 1;) {
        qr_range tmp = a[0];
        a[0] = a[i];
        a[i] = tmp;
        sift_down(a, 0, i);
    }
}

/* Sort the batch, merge it with the canonical prefix, restore the invariant. */
static void batch_merge(qr_uidset *set, batch *bt)
{
    qr_range *r = set->r, *scratch;
    size_t t, pi, sj, w, k;

    if (!bt->active)
        return;
    t = set->n - bt->base;
    assert(set->cap >= set->n + t);
    scratch = r + set->n;
    heap_sort(r + bt->base, t);
    memcpy(scratch, r + bt->base, t * sizeof(*r));
    /* backwards merge of r[0..base) and scratch[0..t) into r[0..n) */
    pi = bt->base;
    sj = t;
    w = set->n;
    while (sj > 0) {
        if (pi > 0 && r[pi - 1].lo > scratch[sj - 1].lo)
            r[--w] = r[--pi];
        else
            r[--w] = scratch[--sj];
    }
    /* coalesce overlapping and adjacent neighbours */
    for (w = 0, k = 1; k < set->n; k++) {
        if ((uint64_t)r[w].hi + 1 >= r[k].lo) {
            if (r[k].hi > r[w].hi)
                r[w].hi = r[k].hi;
        } else {
            r[++w] = r[k];
        }
    }
    set->n = w + 1;
    bt->active = 0;
    assert(qr_uidset_check_(set));
}

/* One digit d. QR_EINVAL for a leading zero or a number above 2^32 - 1. */
static int on_digit(qr_uidset_parser *p, uint32_t d)
{
    switch (p->state) {
    case ST_START:
    case ST_COLON:
        if (d == 0)
            return QR_EINVAL;
        p->num = d;
        p->state = p->state == ST_START ? ST_FIRST : ST_SECOND;
        return 0;
    case ST_FIRST:
    case ST_SECOND:
        if (p->num > 429496729u || (p->num == 429496729u && d > 5))
            return QR_EINVAL;
        p->num = p->num * 10 + d;
        return 0;
    default:
        return QR_EINVAL;
    }
}

/* ':' */
static int on_colon(qr_uidset_parser *p)
{
    if (p->state != ST_FIRST)
        return QR_EINVAL;
    p->first = p->num;
    p->num = 0;
    p->state = ST_COLON;
    return 0;
}

/* ',': the element is complete. The state changes only once it is added. */
static int on_comma(qr_uidset_parser *p, qr_uidset *set, batch *bt)
{
    int rc;

    if (p->state == ST_FIRST)
        rc = batch_add(set, bt, p->num, p->num);
    else if (p->state == ST_SECOND)
        rc = batch_add(set, bt, p->first, p->num);
    else
        return QR_EINVAL;
    if (rc < 0)
        return rc;
    p->num = 0;
    p->state = ST_START;
    return 0;
}

int qr_uidset_parser_feed(qr_uidset_parser *p, qr_uidset *set, const char *buf, size_t len,
                          size_t *consumed)
{
    batch bt = {0, 0};
    size_t i;
    int rc = 0;

    if (p->state == ST_FAILED || p->state == ST_DONE)
        rc = QR_EINVAL;
    for (i = 0; i < len && rc == 0; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9')
            rc = on_digit(p, (uint32_t)(c - '0'));
        else if (c == ':')
            rc = on_colon(p);
        else if (c == ',')
            rc = on_comma(p, set, &bt);
        else
            break;
        if (rc < 0)
            break;
    }
    batch_merge(set, &bt);
    if (rc == QR_EINVAL)
        p->state = ST_FAILED;
    *consumed = i;
    return rc;
}

int qr_uidset_parser_finish(qr_uidset_parser *p, qr_uidset *set)
{
    int rc;

    if (p->state == ST_FIRST)
        rc = qr_uidset_add_range(set, p->num, p->num);
    else if (p->state == ST_SECOND)
        rc = qr_uidset_add_range(set, p->first, p->num);
    else
        rc = QR_EINVAL;
    if (rc == 0)
        p->state = ST_DONE;
    else if (rc == QR_EINVAL)
        p->state = ST_FAILED;
    return rc;
}

QR_EXTERN int qr_uidset_parse(qr_uidset *set, const char *s, size_t len)
{
    qr_uidset tmp = {NULL, 0, 0};
    qr_uidset_parser p;
    size_t used;
    int rc;

    qr_uidset_parser_init(&p);
    rc = qr_uidset_parser_feed(&p, &tmp, s, len, &used);
    if (rc == 0 && used != len)
        rc = QR_EINVAL;
    if (rc == 0)
        rc = qr_uidset_parser_finish(&p, &tmp);
    if (rc == 0 && set->n == 0) {
        qr_range *old = set->r; /* adopt tmp's array: nothing to merge */
        *set = tmp;
        tmp.r = old;
    } else if (rc == 0) {
        rc = qr_uidset_union(set, &tmp);
    }
    qr_free(tmp.r);
    return rc;
}
