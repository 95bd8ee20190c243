/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Change sets: the engine's pending-update table (qr_updtable) and the
 * qr_changes object taken from it.
 *
 * The table keeps one qr_flag_update per UID in arrival order, indexed by
 * UID through an open-addressing hash (linear probing, power-of-two size,
 * at most half full). Replacing an entry (a later FETCH of the same UID)
 * rewrites it in place. A VANISHED UID's entry is marked dead rather than
 * removed, so the index never needs tombstones; since a vanished UID is
 * never revived (the engine ignores later FETCHes of it), a dead entry
 * stays dead until the table is emptied by a take.
 *
 * qr_changes_build() turns the table into a change set: live entries below
 * the base UIDNEXT that pass the MODSEQ filter, sorted by UID (binary
 * search in qr_changes_find()). It allocates everything first and only
 * then moves the flag sets over, so a QR_ENOMEM leaves the engine intact.
 */
#include "config.h"

#include <qresync/mbox.h>
#include <stdlib.h>
#include <string.h>

#include "mbox/mbox_p.h"
#include "util/alloc.h"

struct qr_changes {
    qr_mbox_state base;  /* the state the changes are relative to */
    qr_mbox_state next;  /* the state to save afterwards */
    unsigned int flags;  /* QR_CHANGES_* bits */
    qr_uidset *vanished; /* owned: known UIDs that vanished */
    qr_uidset *newuids;  /* owned: UIDs >= base UIDNEXT seen in FETCH */
    qr_flag_update *upd; /* owned array of nupd updates, sorted by uid; owns their flag sets */
    size_t nupd;         /* number of updates */
};

void qr_updtable_init(qr_updtable *t)
{
    memset(t, 0, sizeof(*t));
}

void qr_updtable_free(qr_updtable *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        qr_flagset_dispose(&t->v[i].flags);
    qr_free(t->v);
    qr_free(t->dead);
    qr_free(t->slot);
    qr_updtable_init(t);
}

static size_t uid_hash(uint32_t uid, size_t mask)
{
    return (size_t)((uid * 2654435761u) >> 7) & mask;
}

size_t qr_updtable_find(const qr_updtable *t, uint32_t uid)
{
    size_t mask, i;

    if (t->nslot == 0)
        return SIZE_MAX;
    mask = t->nslot - 1;
    for (i = uid_hash(uid, mask); t->slot[i] != 0; i = (i + 1) & mask)
        if (t->v[t->slot[i] - 1].uid == uid)
            return t->slot[i] - 1;
    return SIZE_MAX;
}

/* Make the index hold at least 2 * (n + 1) slots. */
static int grow_index(qr_updtable *t)
{
    size_t ns = t->nslot ? t->nslot : 64, i;
    uint32_t *slot;

    if (2 * (t->n + 1) <= t->nslot)
        return 0;
    while (ns < 2 * (t->n + 1))
        ns *= 2;
    slot = qr_calloc(ns, sizeof(*slot));
    if (slot == NULL)
        return QR_ENOMEM;
    for (i = 0; i < t->n; i++) {
        size_t j = uid_hash(t->v[i].uid, ns - 1);
        while (slot[j] != 0)
            j = (j + 1) & (ns - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    qr_free(t->slot);
    t->slot = slot;
    t->nslot = ns;
    return 0;
}

/* Make room for one more entry in v and dead. */
static int grow_entries(qr_updtable *t)
{
    size_t nc;
    qr_flag_update *v;
    unsigned char *d;

    if (t->n < t->cap)
        return 0;
    nc = t->cap ? t->cap * 2 : 32;
    v = qr_reallocarray(t->v, nc, sizeof(*v));
    if (v == NULL)
        return QR_ENOMEM;
    t->v = v;
    d = qr_realloc(t->dead, nc);
    if (d == NULL)
        return QR_ENOMEM; /* v grew, cap did not: still consistent */
    t->dead = d;
    t->cap = nc;
    return 0;
}

int qr_updtable_add(qr_updtable *t, uint32_t uid, size_t *pos)
{
    size_t mask, i;
    int rc;

    if (t->n >= QR_MBOX_MAX_UPDATES)
        return QR_ELIMIT;
    rc = grow_entries(t);
    if (rc == 0)
        rc = grow_index(t);
    if (rc < 0)
        return rc;
    mask = t->nslot - 1;
    for (i = uid_hash(uid, mask); t->slot[i] != 0; i = (i + 1) & mask)
        ;
    memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
    t->v[t->n].uid = uid;
    t->dead[t->n] = 0;
    t->slot[i] = (uint32_t)(t->n + 1);
    *pos = t->n++;
    return 0;
}

static void kill_entry(qr_updtable *t, size_t pos)
{
    t->dead[pos] = 1;
    qr_flagset_dispose(&t->v[pos].flags);
}

void qr_updtable_kill_set(qr_updtable *t, const qr_uidset *set)
{
    size_t i;

    if (t->n == 0)
        return;
    if (qr_uidset_count(set) <= t->n) {
        qr_uidset_iter it;
        uint32_t uid;

        qr_uidset_iter_init(&it, set);
        while (qr_uidset_iter_next(&it, &uid)) {
            size_t pos = qr_updtable_find(t, uid);
            if (pos != SIZE_MAX)
                kill_entry(t, pos);
        }
        return;
    }
    for (i = 0; i < t->n; i++)
        if (!t->dead[i] && qr_uidset_contains(set, t->v[i].uid))
            kill_entry(t, i);
}

/* ---- change sets ----------------------------------------------------- */

static int upd_cmp(const void *pa, const void *pb)
{
    const qr_flag_update *a = pa, *b = pb;

    return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* Whether entry i of t goes into the change set. */
static int keep_entry(const qr_updtable *t, size_t i, const qr_mbox_state *base, int take_all)
{
    const qr_flag_update *u = &t->v[i];
    uint32_t uidnext = base->uidnext ? base->uidnext : 1;

    if (t->dead[i] || u->uid >= uidnext)
        return 0;
    return take_all || u->modseq == 0 || u->modseq > base->highestmodseq;
}

/* The vanished set: gone minus every UID at or above the base UIDNEXT. */
static int build_vanished(qr_uidset **out, const qr_uidset *gone, const qr_mbox_state *base)
{
    uint32_t uidnext = base->uidnext ? base->uidnext : 1;
    int rc = qr_uidset_copy(out, gone);

    if (rc == 0)
        rc = qr_uidset_remove_range(*out, uidnext, UINT32_MAX);
    if (rc < 0) {
        qr_uidset_free(*out);
        *out = NULL;
    }
    return rc;
}

int qr_changes_build(qr_changes **out, qr_updtable *t, const qr_uidset *gone,
                     const qr_uidset *newuids, const qr_mbox_state *base, const qr_mbox_state *next,
                     unsigned int flags, int take_all)
{
    qr_changes *c;
    size_t i, k = 0;

    *out = NULL;
    c = qr_calloc(1, sizeof(*c));
    if (c == NULL)
        return QR_ENOMEM;
    for (i = 0; i < t->n; i++)
        k += keep_entry(t, i, base, take_all);
    c->upd = qr_mallocarray(k, sizeof(*c->upd));
    if (c->upd == NULL || build_vanished(&c->vanished, gone, base) < 0 ||
        qr_uidset_copy(&c->newuids, newuids) < 0) {
        qr_changes_free(c);
        return QR_ENOMEM;
    }
    /* Nothing can fail from here: move the kept flag sets. */
    for (i = 0; i < t->n; i++) {
        if (!keep_entry(t, i, base, take_all))
            continue;
        c->upd[c->nupd++] = t->v[i];
        memset(&t->v[i].flags, 0, sizeof(t->v[i].flags));
    }
    qsort(c->upd, c->nupd, sizeof(*c->upd), upd_cmp);
    c->base = *base;
    c->next = *next;
    c->flags = flags;
    *out = c;
    return 0;
}

void qr_changes_free(qr_changes *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nupd; i++)
        qr_flagset_dispose(&c->upd[i].flags);
    qr_free(c->upd);
    qr_uidset_free(c->vanished);
    qr_uidset_free(c->newuids);
    qr_free(c);
}

const qr_uidset *qr_changes_vanished(const qr_changes *c)
{
    return c ? c->vanished : NULL;
}

const qr_uidset *qr_changes_new_uids(const qr_changes *c)
{
    return c ? c->newuids : NULL;
}

const qr_flag_update *qr_changes_updates(const qr_changes *c, size_t *n)
{
    if (n)
        *n = c ? c->nupd : 0;
    return (c && c->nupd) ? c->upd : NULL;
}

const qr_flag_update *qr_changes_find(const qr_changes *c, uint32_t uid)
{
    size_t lo = 0, hi;

    if (c == NULL)
        return NULL;
    hi = c->nupd;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->upd[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < c->nupd && c->upd[lo].uid == uid) ? &c->upd[lo] : NULL;
}

const qr_mbox_state *qr_changes_base(const qr_changes *c)
{
    return c ? &c->base : NULL;
}

const qr_mbox_state *qr_changes_state(const qr_changes *c)
{
    return c ? &c->next : NULL;
}

unsigned int qr_changes_flags(const qr_changes *c)
{
    return c ? c->flags : 0;
}
