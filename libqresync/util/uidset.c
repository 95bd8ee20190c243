/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_uidset: a set of 32-bit message UIDs as sorted, disjoint, merged ranges.
 *
 * Representation. `r[0..n)` is an array of qr_range kept in *canonical*
 * form: every range has 1 <= lo <= hi, and consecutive ranges are neither
 * overlapping nor adjacent (r[k].hi + 1 < r[k+1].lo, computed in 64 bits
 * so that hi == 4294967295 does not wrap). Canonical form makes a set's
 * representation unique, so equality is a memcmp and the text form is the
 * shortest one. The array grows by doubling and never shrinks (clear keeps
 * it); there is no upper bound other than memory, since every range that
 * reaches a set has already been bounded by whoever produced it (a capped
 * response, a database row).
 *
 * Operations.
 *  - add_range/remove_range find the ranges touched by [lo, hi] with two
 *    binary searches and replace them by at most two ranges (splice()).
 *    Adding above the last range is the O(1) amortised fast path that the
 *    response parser relies on for ascending VANISHED lists.
 *  - union, difference and intersection walk both arrays once, writing
 *    into a new array that then replaces dst: O(n + m), and dst is left
 *    untouched if that allocation fails.
 *  - contains is a binary search; count sums the range sizes in 64 bits.
 *
 * Error discipline: every function that can fail makes every allocation it
 * needs before changing anything, so on QR_ENOMEM (or QR_EINVAL) the set is
 * exactly as it was. Text parsing and formatting live in uidset_parse.c and
 * uidset_format.c.
 */
#include "config.h"

#include "util/uidset_p.h"

#include <assert.h>
#include <qresync/error.h>
#include <string.h>

#include "util/alloc.h"

#define UIDSET_MIN_CAP 8

int qr_uidset_reserve_(qr_uidset *set, size_t need)
{
    size_t cap = set->cap ? set->cap : UIDSET_MIN_CAP;
    qr_range *r;

    if (need <= set->cap)
        return 0;
    while (cap < need && cap <= ((size_t)-1) / 2)
        cap *= 2;
    if (cap < need)
        cap = need;
    r = qr_reallocarray(set->r, cap, sizeof(*r));
    if (r == NULL)
        return QR_ENOMEM;
    set->r = r;
    set->cap = cap;
    return 0;
}

int qr_uidset_check_(const qr_uidset *set)
{
    size_t k;

    if (set->n > set->cap || (set->n && set->r == NULL))
        return 0;
    for (k = 0; k < set->n; k++) {
        if (set->r[k].lo == 0 || set->r[k].lo > set->r[k].hi)
            return 0;
        if (k + 1 < set->n && (uint64_t)set->r[k].hi + 1 >= set->r[k + 1].lo)
            return 0;
    }
    return 1;
}

QR_EXTERN int qr_uidset_new(qr_uidset **out)
{
    qr_uidset *set = qr_malloc(sizeof(*set));

    *out = set;
    if (set == NULL)
        return QR_ENOMEM;
    set->r = NULL;
    set->n = 0;
    set->cap = 0;
    return 0;
}

QR_EXTERN void qr_uidset_free(qr_uidset *set)
{
    if (set == NULL)
        return;
    qr_free(set->r);
    qr_free(set);
}

QR_EXTERN void qr_uidset_clear(qr_uidset *set)
{
    set->n = 0;
}

/* First index whose range ends at or after x (n if none). */
static size_t first_hi_at_least(const qr_uidset *set, uint64_t x)
{
    size_t lo = 0, hi = set->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->r[mid].hi < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index whose range starts after x (n if none). */
static size_t first_lo_above(const qr_uidset *set, uint64_t x)
{
    size_t lo = 0, hi = set->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->r[mid].lo <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Replace the `del` ranges at `at` by the k ranges of src. QR_ENOMEM. */
static int splice(qr_uidset *set, size_t at, size_t del, const qr_range *src, size_t k)
{
    if (k > del) {
        int rc = qr_uidset_reserve_(set, set->n + (k - del));
        if (rc < 0)
            return rc;
    }
    if (k != del && set->n > at + del)
        memmove(set->r + at + k, set->r + at + del, (set->n - at - del) * sizeof(*src));
    if (k)
        memcpy(set->r + at, src, k * sizeof(*src));
    set->n = set->n - del + k;
    assert(qr_uidset_check_(set));
    return 0;
}

QR_EXTERN int qr_uidset_add_range(qr_uidset *set, uint32_t a, uint32_t b)
{
    qr_range m;
    size_t i, j;

    if (a == 0 || b == 0)
        return QR_EINVAL;
    m.lo = a < b ? a : b;
    m.hi = a < b ? b : a;
    if (set->n == 0 || (uint64_t)set->r[set->n - 1].hi + 1 < m.lo)
        return splice(set, set->n, 0, &m, 1); /* the ascending fast path */
    /* ranges [i, j) overlap or touch [lo, hi] */
    i = first_hi_at_least(set, (uint64_t)m.lo - 1);
    j = first_lo_above(set, (uint64_t)m.hi + 1);
    if (i < j) {
        if (set->r[i].lo < m.lo)
            m.lo = set->r[i].lo;
        if (set->r[j - 1].hi > m.hi)
            m.hi = set->r[j - 1].hi;
    }
    return splice(set, i, j - i, &m, 1);
}

QR_EXTERN int qr_uidset_add(qr_uidset *set, uint32_t uid)
{
    return qr_uidset_add_range(set, uid, uid);
}

QR_EXTERN int qr_uidset_remove_range(qr_uidset *set, uint32_t a, uint32_t b)
{
    qr_range keep[2];
    uint32_t lo, hi;
    size_t i, j, k = 0;

    if (a == 0 || b == 0)
        return QR_EINVAL;
    lo = a < b ? a : b;
    hi = a < b ? b : a;
    /* ranges [i, j) overlap [lo, hi] */
    i = first_hi_at_least(set, lo);
    j = first_lo_above(set, hi);
    if (i >= j)
        return 0;
    if (set->r[i].lo < lo) {
        keep[k].lo = set->r[i].lo;
        keep[k++].hi = lo - 1;
    }
    if (set->r[j - 1].hi > hi) {
        keep[k].lo = hi + 1;
        keep[k++].hi = set->r[j - 1].hi;
    }
    return splice(set, i, j - i, keep, k);
}

QR_EXTERN int qr_uidset_remove(qr_uidset *set, uint32_t uid)
{
    return qr_uidset_remove_range(set, uid, uid);
}

QR_EXTERN int qr_uidset_contains(const qr_uidset *set, uint32_t uid)
{
    size_t i = first_hi_at_least(set, uid);

    return uid != 0 && i < set->n && set->r[i].lo <= uid;
}

QR_EXTERN uint64_t qr_uidset_count(const qr_uidset *set)
{
    uint64_t total = 0;
    size_t k;

    for (k = 0; k < set->n; k++)
        total += (uint64_t)set->r[k].hi - set->r[k].lo + 1;
    return total;
}

QR_EXTERN const qr_range *qr_uidset_ranges(const qr_uidset *set, size_t *n)
{
    *n = set->n;
    return set->n ? set->r : NULL;
}

QR_EXTERN int qr_uidset_copy(qr_uidset **out, const qr_uidset *src)
{
    qr_uidset *set;
    int rc = qr_uidset_new(&set);

    *out = NULL;
    if (rc < 0)
        return rc;
    rc = qr_uidset_reserve_(set, src->n);
    if (rc < 0) {
        qr_uidset_free(set);
        return rc;
    }
    if (src->n)
        memcpy(set->r, src->r, src->n * sizeof(*src->r));
    set->n = src->n;
    *out = set;
    return 0;
}

QR_EXTERN int qr_uidset_equal(const qr_uidset *a, const qr_uidset *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}

QR_EXTERN void qr_uidset_iter_init(qr_uidset_iter *it, const qr_uidset *set)
{
    it->set = set;
    it->index = 0;
    it->next = 0;
}

QR_EXTERN int qr_uidset_iter_next(qr_uidset_iter *it, uint32_t *uid)
{
    const qr_range *r;

    if (it->index >= it->set->n)
        return 0;
    r = &it->set->r[it->index];
    if (it->next == 0)
        it->next = r->lo;
    *uid = it->next;
    if (it->next == r->hi) {
        it->index++;
        it->next = 0;
    } else {
        it->next++;
    }
    return 1;
}

/* Append [lo, hi] to out[0..*n), merging it into the last range if touching. */
static void emit(qr_range *out, size_t *n, uint32_t lo, uint32_t hi)
{
    if (*n && (uint64_t)out[*n - 1].hi + 1 >= lo) {
        if (hi > out[*n - 1].hi)
            out[*n - 1].hi = hi;
        return;
    }
    out[*n].lo = lo;
    out[*n].hi = hi;
    (*n)++;
}

/* Room for the result of combining a and b, whose size is at most n + m. */
static qr_range *alloc_result(const qr_uidset *a, const qr_uidset *b, size_t *cap)
{
    *cap = a->n + b->n;
    return qr_mallocarray(*cap, sizeof(qr_range));
}

/* Make out[0..n) (capacity cap, owned) the ranges of set. */
static void adopt(qr_uidset *set, qr_range *out, size_t n, size_t cap)
{
    qr_free(set->r);
    set->r = out;
    set->n = n;
    set->cap = cap;
    assert(qr_uidset_check_(set));
}

QR_EXTERN int qr_uidset_union(qr_uidset *dst, const qr_uidset *src)
{
    size_t i = 0, j = 0, n = 0, cap;
    qr_range *out;

    if (dst == src || src->n == 0)
        return 0;
    if (dst->n && (uint64_t)dst->r[dst->n - 1].hi + 1 < src->r[0].lo) {
        /* src lies wholly above dst: append it in place */
        int rc = qr_uidset_reserve_(dst, dst->n + src->n);
        if (rc < 0)
            return rc;
        memcpy(dst->r + dst->n, src->r, src->n * sizeof(*src->r));
        dst->n += src->n;
        return 0;
    }
    out = alloc_result(dst, src, &cap);
    if (out == NULL)
        return QR_ENOMEM;
    while (i < dst->n || j < src->n) {
        const qr_range *r;
        if (j == src->n || (i < dst->n && dst->r[i].lo <= src->r[j].lo))
            r = &dst->r[i++];
        else
            r = &src->r[j++];
        emit(out, &n, r->lo, r->hi);
    }
    adopt(dst, out, n, cap);
    return 0;
}

QR_EXTERN int qr_uidset_difference(qr_uidset *dst, const qr_uidset *src)
{
    size_t i, j = 0, n = 0, cap;
    qr_range *out;

    if (dst == src) {
        dst->n = 0;
        return 0;
    }
    if (src->n == 0 || dst->n == 0)
        return 0;
    out = alloc_result(dst, src, &cap);
    if (out == NULL)
        return QR_ENOMEM;
    for (i = 0; i < dst->n; i++) {
        uint64_t lo = dst->r[i].lo, hi = dst->r[i].hi;
        /* src ranges wholly below this one cannot matter to later ones either */
        while (j < src->n && src->r[j].hi < lo)
            j++;
        /* cut out every src range starting inside [lo, hi]; the last one may
           reach into the next dst range, so it is not skipped */
        while (lo <= hi && j < src->n && src->r[j].lo <= hi) {
            if (src->r[j].lo > lo)
                emit(out, &n, (uint32_t)lo, src->r[j].lo - 1);
            lo = (uint64_t)src->r[j].hi + 1;
            if (src->r[j].hi > hi)
                break;
            j++;
        }
        if (lo <= hi)
            emit(out, &n, (uint32_t)lo, (uint32_t)hi);
    }
    adopt(dst, out, n, cap);
    return 0;
}

QR_EXTERN int qr_uidset_intersection(qr_uidset *dst, const qr_uidset *src)
{
    size_t i = 0, j = 0, n = 0, cap;
    qr_range *out;

    if (dst == src || dst->n == 0)
        return 0;
    if (src->n == 0) {
        dst->n = 0;
        return 0;
    }
    out = alloc_result(dst, src, &cap);
    if (out == NULL)
        return QR_ENOMEM;
    while (i < dst->n && j < src->n) {
        uint32_t lo = dst->r[i].lo > src->r[j].lo ? dst->r[i].lo : src->r[j].lo;
        uint32_t hi = dst->r[i].hi < src->r[j].hi ? dst->r[i].hi : src->r[j].hi;
        if (lo <= hi)
            emit(out, &n, lo, hi);
        if (dst->r[i].hi < src->r[j].hi)
            i++;
        else
            j++;
    }
    adopt(dst, out, n, cap);
    return 0;
}
