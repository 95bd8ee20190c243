/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Flags: the keyword table (qr_kwtable) and flag sets (qr_flagset).
 *
 * A message's flags are the five system flags plus `\Recent` as bits, and
 * any number of keywords. Keywords are interned in a per-mailbox (or per
 * mailbox pair) table so that a flag set is a bitmask plus a short sorted
 * array of 32-bit ids: no strings per message, and equality, union and
 * difference are merges of sorted arrays.
 *
 * The table: `names` holds each keyword once, in id order, with the
 * spelling first seen; `slot` is an open-addressing index (linear probing,
 * power-of-two size, at most half full) from the ASCII-case-folded FNV-1a
 * hash to id + 1. Lookups compare case-insensitively (RFC 3501 flag names
 * are not case sensitive). Ids never change and are never reused.
 *
 * Invariants of a qr_flagset: kw[0..nkw) strictly increasing; kw is NULL
 * iff cap is 0; nkw <= QR_FLAGSET_MAX_KEYWORDS. Every failing function
 * leaves the set (and the table) as it was, except that
 * qr_flagset_add_name() may have interned a name before failing to grow
 * the set, which is harmless.
 *
 * Printing follows the reference: drop `\Recent`, sort the names bytewise
 * (so `$Label1` < `Junk` < `\Flagged` < `nonjunk`), join with one space.
 */
#include "config.h"

#include <qresync/mbox.h>
#include <stdlib.h>
#include <string.h>

#include "mbox/mbox_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

/* One interned keyword. */
typedef struct kwname {
    char *name;    /* owned, NUL-terminated spelling (the first interned) */
    size_t len;    /* its length */
    uint32_t hash; /* case-folded hash of the name */
} kwname;

struct qr_kwtable {
    kwname *names;  /* owned array, n in use, cap allocated; index = id */
    size_t n;       /* keywords interned */
    size_t cap;     /* entries allocated at names */
    uint32_t *slot; /* owned index: id + 1, 0 when empty; nslot entries */
    size_t nslot;   /* a power of two, or 0 before the first intern */
    size_t bytes;   /* total bytes of names, for the memory cap */
};

/* Total bytes of keyword names one table may hold. */
#define KW_MAX_BYTES (16u * 1024u * 1024u)
/* Longest formatted flag list. */
#define FORMAT_MAX (QR_FLAGSET_MAX_KEYWORDS * (QR_KWTABLE_MAX_NAME + 1) + 64)

static const struct {
    const char *name; /* canonical spelling */
    unsigned int bit; /* its QR_FLAG_* bit */
} sysflags[] = {
    {"\\Answered", QR_FLAG_ANSWERED}, {"\\Flagged", QR_FLAG_FLAGGED},
    {"\\Deleted", QR_FLAG_DELETED},   {"\\Seen", QR_FLAG_SEEN},
    {"\\Draft", QR_FLAG_DRAFT},       {"\\Recent", QR_FLAG_RECENT},
};
#define NSYS (sizeof(sysflags) / sizeof(sysflags[0]))

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int qr_mbox_ascii_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen)
        return 0;
    for (i = 0; i < alen; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return 0;
    return 1;
}

static uint32_t kw_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= fold((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

unsigned int qr_flag_system_bit(const char *name, size_t len)
{
    size_t k;

    if (name == NULL)
        return 0;
    for (k = 0; k < NSYS; k++)
        if (qr_mbox_ascii_ieq(name, len, sysflags[k].name, strlen(sysflags[k].name)))
            return sysflags[k].bit;
    return 0;
}

/* Whether name is acceptable as a keyword (see qr_kwtable_intern()). */
static int kw_valid(const char *name, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f || strchr("(){\"%*]", c) != NULL)
            return 0;
        if (c == '\\' && i > 0)
            return 0;
    }
    return qr_flag_system_bit(name, len) == 0;
}

int qr_kwtable_new(qr_kwtable **out)
{
    if (out == NULL)
        return QR_EINVAL;
    *out = qr_calloc(1, sizeof(**out));
    return *out ? 0 : QR_ENOMEM;
}

void qr_kwtable_free(qr_kwtable *kw)
{
    size_t i;

    if (kw == NULL)
        return;
    for (i = 0; i < kw->n; i++)
        qr_free(kw->names[i].name);
    qr_free(kw->names);
    qr_free(kw->slot);
    qr_free(kw);
}

/* Slot where name is, or the empty slot where it would go. nslot > 0. */
static size_t kw_probe(const qr_kwtable *kw, const char *name, size_t len, uint32_t h)
{
    size_t mask = kw->nslot - 1, i = h & mask;

    while (kw->slot[i] != 0) {
        const kwname *k = &kw->names[kw->slot[i] - 1];
        if (k->hash == h && qr_mbox_ascii_ieq(k->name, k->len, name, len))
            break;
        i = (i + 1) & mask;
    }
    return i;
}

int qr_kwtable_lookup(const qr_kwtable *kw, const char *name, size_t len, uint32_t *id)
{
    size_t i;

    if (kw == NULL || name == NULL || kw->nslot == 0)
        return 0;
    i = kw_probe(kw, name, len, kw_hash(name, len));
    if (kw->slot[i] == 0)
        return 0;
    if (id)
        *id = kw->slot[i] - 1;
    return 1;
}

/* Make the index hold at least 2 * (n + 1) slots. */
static int kw_grow_index(qr_kwtable *kw)
{
    size_t ns = kw->nslot ? kw->nslot : 16, i;
    uint32_t *slot;

    if (2 * (kw->n + 1) <= kw->nslot)
        return 0;
    while (ns < 2 * (kw->n + 1))
        ns *= 2;
    slot = qr_calloc(ns, sizeof(*slot));
    if (slot == NULL)
        return QR_ENOMEM;
    for (i = 0; i < kw->n; i++) {
        size_t j = kw->names[i].hash & (ns - 1);
        while (slot[j] != 0)
            j = (j + 1) & (ns - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    qr_free(kw->slot);
    kw->slot = slot;
    kw->nslot = ns;
    return 0;
}

int qr_kwtable_intern(qr_kwtable *kw, const char *name, size_t len, uint32_t *id)
{
    uint32_t h;
    size_t i;
    char *copy;

    if (kw == NULL || name == NULL || id == NULL || !kw_valid(name, len))
        return QR_EINVAL;
    if (qr_kwtable_lookup(kw, name, len, id))
        return 0;
    if (len > QR_KWTABLE_MAX_NAME || kw->n >= QR_KWTABLE_MAX_KEYWORDS ||
        kw->bytes + len > KW_MAX_BYTES)
        return QR_ELIMIT;
    if (kw->n == kw->cap) {
        size_t nc = kw->cap ? kw->cap * 2 : 16;
        kwname *v = qr_reallocarray(kw->names, nc, sizeof(*v));
        if (v == NULL)
            return QR_ENOMEM;
        kw->names = v;
        kw->cap = nc;
    }
    if (kw_grow_index(kw) < 0)
        return QR_ENOMEM;
    copy = qr_memdup0(name, len);
    if (copy == NULL)
        return QR_ENOMEM;
    h = kw_hash(name, len);
    i = kw_probe(kw, name, len, h);
    kw->names[kw->n].name = copy;
    kw->names[kw->n].len = len;
    kw->names[kw->n].hash = h;
    kw->slot[i] = (uint32_t)(kw->n + 1);
    *id = (uint32_t)kw->n++;
    kw->bytes += len;
    return 0;
}

const char *qr_kwtable_name(const qr_kwtable *kw, uint32_t id, size_t *len)
{
    if (kw == NULL || id >= kw->n)
        return NULL;
    if (len)
        *len = kw->names[id].len;
    return kw->names[id].name;
}

size_t qr_kwtable_count(const qr_kwtable *kw)
{
    return kw ? kw->n : 0;
}

/* ---- flag sets ------------------------------------------------------- */

void qr_flagset_dispose(qr_flagset *fs)
{
    if (fs == NULL)
        return;
    qr_free(fs->kw);
    fs->sys = 0;
    fs->kw = NULL;
    fs->nkw = 0;
    fs->cap = 0;
}

void qr_flagset_clear(qr_flagset *fs)
{
    if (fs == NULL)
        return;
    fs->sys = 0;
    fs->nkw = 0;
}

/* Make room for `need` ids. QR_ELIMIT, QR_ENOMEM; set unchanged on error. */
static int fs_reserve(qr_flagset *fs, size_t need)
{
    size_t nc;
    uint32_t *v;

    if (need > QR_FLAGSET_MAX_KEYWORDS)
        return QR_ELIMIT;
    if (need <= fs->cap)
        return 0;
    nc = fs->cap ? fs->cap : 4;
    while (nc < need)
        nc *= 2;
    v = qr_reallocarray(fs->kw, nc, sizeof(*v));
    if (v == NULL)
        return QR_ENOMEM;
    fs->kw = v;
    fs->cap = nc;
    return 0;
}

/* Index of the first id >= id. */
static size_t fs_lower_bound(const qr_flagset *fs, uint32_t id)
{
    size_t lo = 0, hi = fs->nkw;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fs->kw[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int qr_flagset_has_keyword(const qr_flagset *fs, uint32_t id)
{
    size_t i;

    if (fs == NULL)
        return 0;
    i = fs_lower_bound(fs, id);
    return i < fs->nkw && fs->kw[i] == id;
}

int qr_flagset_add_keyword(qr_flagset *fs, uint32_t id)
{
    size_t i;
    int rc;

    if (fs == NULL)
        return QR_EINVAL;
    i = fs_lower_bound(fs, id);
    if (i < fs->nkw && fs->kw[i] == id)
        return 0;
    /* Ascending input (the common case) appends. */
    rc = fs_reserve(fs, fs->nkw + 1);
    if (rc < 0)
        return rc;
    memmove(fs->kw + i + 1, fs->kw + i, (fs->nkw - i) * sizeof(*fs->kw));
    fs->kw[i] = id;
    fs->nkw++;
    return 0;
}

int qr_flagset_add_name(qr_flagset *fs, qr_kwtable *kw, const char *name, size_t len)
{
    unsigned int bit;
    uint32_t id;
    int rc;

    if (fs == NULL || kw == NULL || name == NULL)
        return QR_EINVAL;
    bit = qr_flag_system_bit(name, len);
    if (bit) {
        fs->sys |= bit;
        return 0;
    }
    rc = qr_kwtable_intern(kw, name, len, &id);
    return rc < 0 ? rc : qr_flagset_add_keyword(fs, id);
}

int qr_flagset_equal(const qr_flagset *a, const qr_flagset *b, int recent)
{
    unsigned int mask = recent ? ~0u : ~QR_FLAG_RECENT;

    if (a == NULL || b == NULL)
        return a == b;
    return (a->sys & mask) == (b->sys & mask) && a->nkw == b->nkw &&
           (a->nkw == 0 || memcmp(a->kw, b->kw, a->nkw * sizeof(*a->kw)) == 0);
}

int qr_flagset_copy(qr_flagset *dst, const qr_flagset *src)
{
    int rc;

    if (dst == NULL || src == NULL)
        return QR_EINVAL;
    if (dst == src)
        return 0;
    rc = fs_reserve(dst, src->nkw);
    if (rc < 0)
        return rc;
    if (src->nkw)
        memcpy(dst->kw, src->kw, src->nkw * sizeof(*dst->kw));
    dst->nkw = src->nkw;
    dst->sys = src->sys;
    return 0;
}

int qr_flagset_union(qr_flagset *dst, const qr_flagset *src)
{
    size_t i = 0, j = 0, k = 0, total;
    uint32_t *v;

    if (dst == NULL || src == NULL)
        return QR_EINVAL;
    if (dst == src || src->nkw == 0) {
        dst->sys |= src->sys;
        return 0;
    }
    /* Merge into a fresh array so that failure leaves dst untouched. */
    total = dst->nkw + src->nkw;
    v = qr_mallocarray(total, sizeof(*v));
    if (v == NULL)
        return QR_ENOMEM;
    while (i < dst->nkw || j < src->nkw) {
        if (j == src->nkw || (i < dst->nkw && dst->kw[i] < src->kw[j]))
            v[k++] = dst->kw[i++];
        else if (i == dst->nkw || src->kw[j] < dst->kw[i])
            v[k++] = src->kw[j++];
        else {
            v[k++] = dst->kw[i++];
            j++;
        }
    }
    if (k > QR_FLAGSET_MAX_KEYWORDS) {
        qr_free(v);
        return QR_ELIMIT;
    }
    qr_free(dst->kw);
    dst->kw = v;
    dst->nkw = k;
    dst->cap = total;
    dst->sys |= src->sys;
    return 0;
}

void qr_flagset_difference(qr_flagset *dst, const qr_flagset *src)
{
    size_t i, k = 0;

    if (dst == NULL || src == NULL)
        return;
    if (dst == src) {
        qr_flagset_clear(dst);
        return;
    }
    for (i = 0; i < dst->nkw; i++)
        if (!qr_flagset_has_keyword(src, dst->kw[i]))
            dst->kw[k++] = dst->kw[i];
    dst->nkw = k;
    dst->sys &= ~src->sys;
}

/* A name to print: pointer and length. */
typedef struct fmtname {
    const char *s; /* borrowed from sysflags or the table */
    size_t len;    /* its length */
} fmtname;

static int fmtname_cmp(const void *pa, const void *pb)
{
    const fmtname *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);

    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Collect the names of fs into v (room for NSYS + nkw). */
static int fmt_collect(const qr_flagset *fs, const qr_kwtable *kw, unsigned int flags, fmtname *v,
                       size_t *n)
{
    size_t k, m = 0;

    for (k = 0; k < NSYS; k++) {
        if (!(fs->sys & sysflags[k].bit))
            continue;
        if (sysflags[k].bit == QR_FLAG_RECENT && !(flags & QR_FLAGSET_FORMAT_RECENT))
            continue;
        v[m].s = sysflags[k].name;
        v[m++].len = strlen(sysflags[k].name);
    }
    for (k = 0; k < fs->nkw; k++) {
        v[m].s = qr_kwtable_name(kw, fs->kw[k], &v[m].len);
        if (v[m++].s == NULL)
            return QR_EINVAL;
    }
    *n = m;
    return 0;
}

int qr_flagset_format(const qr_flagset *fs, const qr_kwtable *kw, unsigned int flags, qr_buf *out)
{
    fmtname *v;
    qr_dynbuf b;
    size_t n = 0, i;
    int rc, parens = (flags & QR_FLAGSET_FORMAT_PARENS) != 0;

    if (fs == NULL || kw == NULL || out == NULL ||
        (flags & ~(QR_FLAGSET_FORMAT_PARENS | QR_FLAGSET_FORMAT_RECENT)))
        return QR_EINVAL;
    v = qr_mallocarray(NSYS + fs->nkw, sizeof(*v));
    if (v == NULL)
        return QR_ENOMEM;
    rc = fmt_collect(fs, kw, flags, v, &n);
    if (rc < 0) {
        qr_free(v);
        return rc;
    }
    qsort(v, n, sizeof(*v), fmtname_cmp);
    qr_dynbuf_init(&b, FORMAT_MAX);
    rc = qr_dynbuf_reserve(&b, 1);
    if (rc == 0 && parens)
        rc = qr_dynbuf_addc(&b, '(');
    for (i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = qr_dynbuf_addc(&b, ' ');
        if (rc == 0)
            rc = qr_dynbuf_add(&b, v[i].s, v[i].len);
    }
    if (rc == 0 && parens)
        rc = qr_dynbuf_addc(&b, ')');
    if (rc == 0)
        rc = qr_dynbuf_detach(&b, out);
    qr_dynbuf_free(&b);
    qr_free(v);
    return rc < 0 ? QR_ENOMEM : 0;
}
