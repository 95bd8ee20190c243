/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `--repair` (interimap.md §13): download every UID and its flags on both
 * sides, compare with the mapping, repair each anomaly with the
 * reference's warnings, then synchronise the mailbox.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

typedef struct repair {
    struct qr_sync *s;
    size_t mi;
    int64_t idx;
    char *pretty;
    qr_store_cursor cur[2];
    qr_uidset *v[2];    /* vanished (QRESYNC SELECT) */
    sy_flagmap m[2];    /* present UIDs with (MODSEQ, flags) */
    sy_flagmap set[2];  /* flag updates to push */
    qr_uidset *rm[2];   /* to remove */
    qr_uidset *copy[2]; /* source UIDs to copy from side k to the other */
    qr_uidset *seen[2]; /* UIDs with a mapping row */
    sy_pairs del;       /* mapping rows to delete */
} repair;

/* Step 5 for one pair. */
static int one_pair(repair *x, uint32_t l, uint32_t r)
{
    struct qr_sync *s = x->s;
    const sy_mod *lm = sy_flagmap_find(&x->m[0], l), *rm = sy_flagmap_find(&x->m[1], r);
    int rc = 0;

    if (qr_uidset_add(x->seen[0], l) != 0 || qr_uidset_add(x->seen[1], r) != 0)
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    if (lm != NULL && rm != NULL) {
        int lch = lm->modseq > x->cur[0].highestmodseq, rch = rm->modseq > x->cur[1].highestmodseq;
        char *u;

        if (strcmp(lm->flags, rm->flags) == 0)
            return 0;
        if (!lch && rch)
            return sy_want_put(s, &x->set[0], l, rm->flags);
        if (lch && !rch)
            return sy_want_put(s, &x->set[1], r, lm->flags);
        if (!lch && !rch)
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_NONE, NULL, 0,
                   "WARNING: Missed flag update in %s for (lUID,rUID) = (%" PRIu32 ",%" PRIu32
                   "). Repairing.",
                   x->pretty, l, r);
        u = sy_flags_union(lm->flags, rm->flags);
        if (u == NULL)
            return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_NONE, NULL, 0,
               "WARNING: Conflicting flag update in %s for local UID %" PRIu32
               " (%s) and remote UID %" PRIu32 " (%s). Setting both to the union (%s).",
               x->pretty, l, lm->flags, r, rm->flags, u);
        rc = sy_want_put(s, &x->set[0], l, u);
        if (rc == 0)
            rc = sy_want_put(s, &x->set[1], r, u);
        qr_free(u);
        return rc;
    }
    if (sy_pairs_cb(&x->del, x->idx, l, r) != 0)
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    if (lm == NULL && rm == NULL) {
        if (!(qr_uidset_contains(x->v[0], l) && qr_uidset_contains(x->v[1], r)))
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_NONE, NULL, 0,
                   "WARNING: Pair (lUID,rUID) = (%" PRIu32 ",%" PRIu32
                   ") vanished from %s. Repairing.",
                   l, r, x->pretty);
        return 0;
    }
    if (lm == NULL) {
        if (qr_uidset_contains(x->v[0], l))
            rc = qr_uidset_add(x->rm[1], r);
        else {
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_LOCAL, s->side[0].sel, 0,
                   "WARNING: UID %" PRIu32 " disappeared. Redownloading remote UID %" PRIu32 ".", l,
                   r);
            rc = qr_uidset_add(x->copy[1], r);
        }
    } else {
        if (qr_uidset_contains(x->v[1], r))
            rc = qr_uidset_add(x->rm[0], l);
        else {
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_REMOTE, s->side[1].sel, 0,
                   "WARNING: UID %" PRIu32 " disappeared. Redownloading local UID %" PRIu32 ".", r,
                   l);
            rc = qr_uidset_add(x->copy[0], l);
        }
    }
    return rc != 0 ? sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory") : 0;
}

/* Step 8: vanished and present UIDs without a mapping. */
static int unmapped(repair *x)
{
    struct qr_sync *s = x->s;
    int k, rc = 0;

    for (k = 0; k < 2 && rc == 0; k++) {
        sy_side *o = &s->side[1 - k];
        qr_uidset *dunno = NULL;
        size_t i;

        if (qr_uidset_copy(&dunno, x->v[k]) != 0 || qr_uidset_difference(dunno, x->seen[k]) != 0) {
            qr_uidset_free(dunno);
            return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        }
        if (qr_uidset_count(dunno) > 0) {
            qr_dynbuf t;

            qr_dynbuf_init(&t, (size_t)1 << 24);
            if (sy_uidset_text(&t, dunno) == 0)
                sy_log(s, QR_LOG_WARNING, sy_comp(o), o->sel, 0,
                       "WARNING: No match for %" PRIu64 " vanished %s UID(s) %s. Ignoring.",
                       qr_uidset_count(dunno), k == 0 ? "local" : "remote", qr_dynbuf_str(&t));
            qr_dynbuf_free(&t);
        }
        qr_uidset_free(dunno);
        for (i = 0; i < x->m[k].n && rc == 0; i++) {
            uint32_t u = x->m[k].v[i].uid;

            if (qr_uidset_contains(x->seen[k], u))
                continue;
            sy_log(s, QR_LOG_WARNING, sy_comp(o), o->sel, 0,
                   "WARNING: No match for modified %s UID %" PRIu32 ". Redownloading.",
                   k == 0 ? "local" : "remote", u);
            if (qr_uidset_add(x->copy[k], u) != 0)
                rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        }
    }
    return rc;
}

static int repair_one(struct qr_sync *s, size_t mi)
{
    repair x;
    qr_uidset *created[2] = {NULL, NULL};
    size_t i;
    int k, rc = 0;

    memset(&x, 0, sizeof(x));
    x.s = s;
    x.mi = mi;
    x.idx = s->mbx_idx[mi];
    x.pretty = sy_pretty(s, s->mbx[mi], s->mbx_len[mi]);
    for (k = 0; k < 2 && rc == 0; k++) {
        if (qr_uidset_new(&x.v[k]) != 0 || qr_uidset_new(&x.rm[k]) != 0 ||
            qr_uidset_new(&x.copy[k]) != 0 || qr_uidset_new(&x.seen[k]) != 0 ||
            qr_uidset_new(&created[k]) != 0 || x.pretty == NULL)
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        else if ((rc = qr_store_cursor_get(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE, x.idx,
                                           &x.cur[k])) != 0)
            rc = rc < 0 ? sy_store_fail(s, rc) : 1;
    }
    if (rc == 1) { /* no local/remote rows: skipped (step 1) */
        rc = 0;
        goto out;
    }
    if (rc == 0)
        rc = sy_select_both(s, mi, SY_SELECT_NOSAMPLE);
    if (rc == 0)
        rc = sy_pull_full(s, x.v, x.m);
    if (rc == 0 && (rc = qr_store_mapping_foreach(s->st, x.idx, sy_pairs_cb, &x.del)) != 0)
        rc = rc == QR_ENOMEM ? sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory")
                             : sy_store_fail(s, rc);
    if (rc == 0) {
        /* x.del held every pair: walk them, then keep only the ones to delete */
        sy_pairs all = x.del;

        memset(&x.del, 0, sizeof(x.del));
        for (i = 0; i < all.n && rc == 0; i++)
            rc = one_pair(&x, all.l[i], all.r[i]);
        qr_free(all.l);
        qr_free(all.r);
    }
    /* step 6: removals, mapping deletions, C6 */
    if (rc == 0 && (rc = sy_remove_submit(&s->side[0], x.rm[0])) == 0 &&
        (rc = sy_remove_submit(&s->side[1], x.rm[1])) == 0)
        rc = sy_wait(s);
    sy_remove_end(s);
    for (i = 0; rc == 0 && i < x.del.n; i++)
        if ((rc = qr_store_mapping_remove(s->st, QR_STORE_LOCAL, x.idx, x.del.l[i])) > 0)
            rc = 0;
    if (rc < 0)
        rc = sy_store_fail(s, rc);
    if (rc == 0 && x.del.n > 0 && (rc = qr_store_commit(s->st)) != 0)
        rc = sy_store_fail(s, rc);
    /* step 7: flags, local then remote */
    for (k = 0; rc == 0 && k < 2; k++)
        rc = sy_push_submit(&s->side[k], &x.set[k]);
    if (rc == 0 && (x.set[0].n > 0 || x.set[1].n > 0))
        rc = sy_wait(s);
    sy_push_end(s);
    /* steps 8-9: download what is missing, local -> remote first */
    if (rc == 0)
        rc = unmapped(&x);
    if (rc == 0)
        rc = sy_copy_uids(s, mi, &s->side[0], &s->side[1], x.copy[0], created[1]);
    if (rc == 0)
        rc = sy_copy_uids(s, mi, &s->side[1], &s->side[0], x.copy[1], created[0]);
    /* step 10 */
    if (rc == 0) {
        s->stats.mailboxes++;
        rc = sy_sync_messages(s, mi, created[0], created[1]);
    }
out:
    for (k = 0; k < 2; k++) {
        qr_uidset_free(x.v[k]);
        qr_uidset_free(x.rm[k]);
        qr_uidset_free(x.copy[k]);
        qr_uidset_free(x.seen[k]);
        qr_uidset_free(created[k]);
        sy_flagmap_dispose(&x.m[k]);
        sy_flagmap_dispose(&x.set[k]);
    }
    qr_free(x.del.l);
    qr_free(x.del.r);
    qr_free(x.pretty);
    return rc;
}

QR_EXTERN int qr_sync_repair(qr_sync *s)
{
    size_t current = SIZE_MAX, i;
    int rc;

    if (s == NULL || s->side[0].conn == NULL)
        return QR_EINVAL;
    if (s->failed)
        return s->failed;
    memset(&s->stats, 0, sizeof(s->stats));
    s->list_mode = SY_LIST_STATUS;
    if ((rc = sy_prepare(s)) != 0 || (rc = sy_reconcile(s)) != 0 ||
        (rc = sy_recover(s, &current)) != 0 || (rc = sy_load_state(s)) != 0)
        return s->failed ? s->failed : rc;
    for (i = 0; rc == 0 && i < s->nmbx; i++)
        if ((rc = sy_cancelled(s)) == 0 && s->mbx_idx[i] >= 0 && s->mbx_known[i])
            rc = repair_one(s, i);
    return rc != 0 && s->failed ? s->failed : rc;
}
