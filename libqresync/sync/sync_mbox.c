/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mailbox selection and the synchronisation loop (interimap.md §10-§12.2):
 * SELECT with QRESYNC and the UID sample, adoption of the copies an
 * interrupted pass journalled, the reference's interrupted-sync recovery,
 * loading the clean state, and the loop over dirty mailboxes (in sorted
 * order, so runs are reproducible).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

/* --- SELECT -------------------------------------------------------------- */

static int select_side(struct qr_sync *s, size_t mi, sy_side *sd, int mode)
{
    int64_t idx = s->mbx_idx[mi];
    qr_qresync_params qp;
    qr_cmd *cmd = NULL;
    char *name;
    size_t len;
    sy_cache *c;
    int rc = 0;

    memset(&qp, 0, sizeof(qp));
    name = sy_server_name(sd, s->mbx[mi], s->mbx_len[mi], &len);
    if (name == NULL)
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    c = sy_cache_get(sd, name, len, 1);
    if (c == NULL) {
        qr_free(name);
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    if (c->phas & SY_UIDVALIDITY) {
        c->uidvalidity = c->puidvalidity;
        c->has |= SY_UIDVALIDITY;
    }
    if (mode != SY_SELECT_PLAIN && (c->phas & SY_UIDVALIDITY) && (c->phas & SY_HMS) &&
        c->phms > 0 && (c->phas & SY_UIDNEXT) && c->puidnext > 1) {
        qr_mbox_state saved = QR_MBOX_STATE_INIT;
        uint64_t count = 0;
        qr_uidset *known = NULL;

        saved.uidvalidity = c->puidvalidity;
        saved.uidnext = c->puidnext;
        saved.highestmodseq = c->phms;
        if (idx >= 0 && s->mbx_known[mi] && mode == SY_SELECT_SAMPLE) {
            uint32_t *u = qr_mallocarray(1024, sizeof(*u));
            size_t n = 0, i;

            rc = u == NULL ? QR_ENOMEM : qr_store_mapping_count(s->st, idx, &count);
            if (rc == 0 && count > 0)
                rc = qr_store_mapping_uids_desc(
                    s->st, sd->which == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE, idx, 1024,
                    u, &n);
            if (rc == 0 && n > 0 && qr_uidset_new(&known) != 0)
                rc = QR_ENOMEM;
            for (i = 0; rc == 0 && i < n; i++)
                rc = qr_uidset_add(known, u[i]) != 0 ? QR_ENOMEM : 0;
            qr_free(u);
            if (rc != 0) {
                qr_uidset_free(known);
                qr_free(name);
                return rc == QR_ENOMEM ? sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory")
                                       : sy_store_fail(s, rc);
            }
        }
        rc = qr_mbox_qresync_params(&qp, &saved, known);
        if (rc == 0 && qp.seq_first > 0 && known != NULL) {
            uint64_t delta = count - qr_uidset_count(known);

            qp.seq_first += (uint32_t)delta;
            qp.seq_last += (uint32_t)delta;
        }
        qr_uidset_free(known);
    }
    if (rc == 0 && (rc = qr_cmd_new(&cmd, "SELECT", 0)) == 0 &&
        (rc = sy_cmd_mailbox(cmd, name, len)) == 0 && qp.use_qresync)
        rc = qr_mbox_qresync_append(cmd, &qp);
    qr_mbox_qresync_params_dispose(&qp);
    if (rc != 0) {
        qr_cmd_free(cmd);
        qr_free(name);
        return sy_fail(s, rc, sy_comp(sd), NULL, "SELECT: %s", qr_strerror(rc));
    }
    /* imap-client.md §10.3: switch at [CLOSED] when a mailbox is selected */
    qr_free(sd->sel_next);
    sd->sel_next = name;
    if (sd->sel != NULL && (qr_session_has_cap(sd->s, QR_CAP_CONDSTORE) ||
                            qr_session_has_cap(sd->s, QR_CAP_QRESYNC))) {
        sd->closed_wait = 1;
    } else {
        sd->closed_wait = 0;
        sy_switch(sd);
    }
    return sy_submit(sd, cmd, 0, sy_done_fatal, NULL, sd);
}

int sy_select_both(struct qr_sync *s, size_t mi, int mode)
{
    int rc, k;

    if ((rc = select_side(s, mi, &s->side[0], mode)) != 0 ||
        (rc = select_side(s, mi, &s->side[1], mode)) != 0 || (rc = sy_wait(s)) != 0)
        return rc;
    for (k = 0; k < 2; k++) {
        if (s->side[k].sel_next != NULL) /* no [CLOSED] came: switch now */
            sy_switch(&s->side[k]);
        rc = sy_check_selected(&s->side[k]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* --- journal adoption ---------------------------------------------------- */

typedef struct jrow {
    int target;
    uint32_t src;
    uint64_t size;
    int64_t date;
    int used;
} jrow;

typedef struct jlist {
    jrow *v;
    size_t n, alloc;
} jlist;

static int jrow_cb(void *payload, qr_store_side target, uint32_t src, uint64_t size,
                   const char *date)
{
    jlist *l = payload;

    if (l->n == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 64;
        jrow *nv = qr_reallocarray(l->v, na, sizeof(*nv));

        if (nv == NULL)
            return QR_ENOMEM;
        l->v = nv;
        l->alloc = na;
    }
    l->v[l->n].target = target == QR_STORE_LOCAL ? QR_SYNC_LOCAL : QR_SYNC_REMOTE;
    l->v[l->n].src = src;
    l->v[l->n].size = size;
    l->v[l->n].date = sy_parse_internaldate(date);
    l->v[l->n].used = 0;
    l->n++;
    return 0;
}

typedef struct cand {
    uint32_t uid;
    uint64_t size;
    int64_t date;
} cand;

typedef struct cand_list {
    sy_side *sd;
    cand *v;
    size_t n, alloc;
} cand_list;

static int on_cand(qr_session *ss, const qr_resp *r, void *payload)
{
    cand_list *cl = payload;
    const qr_resp_fetch *f;

    (void)ss;
    if (r->kind != QR_RESP_FETCH)
        return 0;
    f = &r->u.fetch;
    if (!(f->present & QR_FETCH_UID) || !(f->present & QR_FETCH_RFC822_SIZE) ||
        !(f->present & QR_FETCH_INTERNALDATE))
        return 0;
    if (cl->n == cl->alloc) {
        size_t na = cl->alloc ? cl->alloc * 2 : 64;
        cand *nv = qr_reallocarray(cl->v, na, sizeof(*nv));

        if (nv == NULL) {
            sy_fail(cl->sd->sync, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            return 0;
        }
        cl->v = nv;
        cl->alloc = na;
    }
    cl->v[cl->n].uid = f->uid;
    cl->v[cl->n].size = f->rfc822_size;
    cl->v[cl->n].date = f->internaldate_time;
    cl->n++;
    return 0;
}

static int cand_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    return sy_done_fatal(ss, res, ((cand_list *)payload)->sd);
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;

    return (x->uid > y->uid) - (x->uid < y->uid);
}

/* Adopt, on one target side, the journalled copies found there. */
static int adopt_side(struct qr_sync *s, size_t mi, int t, jlist *jl, uint64_t *adopted)
{
    int64_t idx = s->mbx_idx[mi];
    sy_side *sd = &s->side[t];
    qr_store_cursor cur;
    cand_list cl = {sd, NULL, 0, 0};
    qr_cmd *cmd = NULL;
    char range[32];
    size_t i, j = 0, k;
    uint32_t since, other;
    int rc;

    rc = qr_store_cursor_get(s->st, t == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE, idx,
                             &cur);
    if (rc < 0)
        return sy_store_fail(s, rc);
    since = rc == 0 && cur.uidnext > 0 ? cur.uidnext : 1;
    snprintf(range, sizeof(range), "%" PRIu32 ":4294967295", since);
    if ((rc = qr_cmd_new(&cmd, "UID FETCH", 0)) != 0 || (rc = qr_cmd_add_raw(cmd, range)) != 0 ||
        (rc = qr_cmd_add_raw(cmd, "(RFC822.SIZE INTERNALDATE)")) != 0) {
        qr_cmd_free(cmd);
        return sy_fail(s, rc, sy_comp(sd), NULL, "UID FETCH: %s", qr_strerror(rc));
    }
    rc = sy_submit(sd, cmd, QR_CLAIM(QR_RESP_FETCH), cand_done, on_cand, &cl);
    if (rc == 0)
        rc = sy_wait(s);
    if (rc == 0 && cl.n > 0)
        qsort(cl.v, cl.n, sizeof(*cl.v), cmp_cand);
    for (i = 0; rc == 0 && i < cl.n; i++) {
        if (cl.v[i].uid < since)
            continue;
        rc = qr_store_mapping_lookup(s->st, t == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE,
                                     idx, cl.v[i].uid, &other);
        if (rc < 0) {
            rc = sy_store_fail(s, rc);
            break;
        }
        if (rc == 0) /* already mapped */
            continue;
        rc = 0;
        for (k = j; k < jl->n; k++) {
            jrow *r = &jl->v[k];

            if (r->target != t || r->used || r->size != cl.v[i].size || r->date != cl.v[i].date)
                continue;
            /* the source UID must not be mapped already */
            rc = qr_store_mapping_lookup(
                s->st, t == QR_SYNC_LOCAL ? QR_STORE_REMOTE : QR_STORE_LOCAL, idx, r->src, &other);
            if (rc < 0)
                break;
            if (rc == 0) {
                rc = 0;
                continue;
            }
            rc = qr_store_mapping_add(s->st, idx, t == QR_SYNC_LOCAL ? cl.v[i].uid : r->src,
                                      t == QR_SYNC_LOCAL ? r->src : cl.v[i].uid);
            if (rc == 0) {
                r->used = 1;
                j = k + 1;
                (*adopted)++;
                sy_log(s, QR_LOG_DEBUG, QR_SYNC_COMP_NONE, NULL, 0,
                       "Adopting (lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") from the journal",
                       t == QR_SYNC_LOCAL ? cl.v[i].uid : r->src,
                       t == QR_SYNC_LOCAL ? r->src : cl.v[i].uid);
            }
            break;
        }
        if (rc < 0)
            rc = sy_store_fail(s, rc);
    }
    qr_free(cl.v);
    return rc;
}

static int adopt(struct qr_sync *s, size_t mi)
{
    jlist jl = {NULL, 0, 0};
    uint64_t adopted = 0;
    int rc, t, need[2] = {0, 0};
    size_t i;

    rc = qr_store_journal_foreach(s->st, s->mbx_idx[mi], jrow_cb, &jl);
    if (rc != 0) {
        qr_free(jl.v);
        return rc == QR_ENOMEM ? sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory")
                               : sy_store_fail(s, rc);
    }
    for (i = 0; i < jl.n; i++)
        need[jl.v[i].target] = 1;
    if (need[0] || need[1])
        rc = sy_select_both(s, mi, 1);
    for (t = 0; rc == 0 && t < 2; t++)
        if (need[t])
            rc = adopt_side(s, mi, t, &jl, &adopted);
    qr_free(jl.v);
    if (rc == 0 && (rc = qr_store_journal_clear(s->st, s->mbx_idx[mi])) != 0)
        rc = sy_store_fail(s, rc);
    if (rc == 0 && (rc = qr_store_commit(s->st)) != 0)
        rc = sy_store_fail(s, rc);
    if (rc == 0 && adopted > 0) {
        char *pretty = sy_pretty(s, s->mbx[mi], s->mbx_len[mi]);

        sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_NONE, NULL, 0,
               "Adopted %" PRIu64 " message(s) an interrupted run had copied in %s", adopted,
               pretty ? pretty : "");
        s->stats.adopted += adopted;
        qr_free(pretty);
    }
    return rc;
}

/* --- interrupted-sync recovery (§10) ------------------------------------- */

static ssize_t find_mbx(const struct qr_sync *s, int64_t idx)
{
    size_t i;

    for (i = 0; i < s->nmbx; i++)
        if (s->mbx_idx[i] == idx)
            return (ssize_t)i;
    return -1;
}

typedef struct idx_list {
    int64_t *v;
    size_t n, alloc;
} idx_list;

static int idx_cb(void *payload, int64_t idx, const void *name, size_t len, int subscribed)
{
    idx_list *l = payload;

    (void)name;
    (void)len;
    (void)subscribed;
    if (l->n == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 16;
        int64_t *nv = qr_reallocarray(l->v, na, sizeof(*nv));

        if (nv == NULL)
            return QR_ENOMEM;
        l->v = nv;
        l->alloc = na;
    }
    l->v[l->n++] = idx;
    return 0;
}

static int on_exists(qr_session *ss, const qr_resp *r, void *payload)
{
    qr_uidset *set = payload;

    (void)ss;
    if (r->kind == QR_RESP_FETCH && (r->u.fetch.present & QR_FETCH_UID))
        (void)qr_uidset_add(set, r->u.fetch.uid);
    return 0;
}

typedef struct exist_ctx {
    sy_side *sd;
    qr_uidset *seen;
} exist_ctx;

static int on_exists_ctx(qr_session *ss, const qr_resp *r, void *payload)
{
    return on_exists(ss, r, ((exist_ctx *)payload)->seen);
}

static int exists_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    return sy_done_fatal(ss, res, ((exist_ctx *)payload)->sd);
}

static int recover_one(struct qr_sync *s, size_t mi)
{
    int64_t idx = s->mbx_idx[mi];
    sy_pairs pl = {NULL, NULL, 0, 0};
    qr_uidset *want[2] = {NULL, NULL}, *seen[2] = {NULL, NULL}, *rm[2] = {NULL, NULL};
    qr_uidset *keep[2] = {NULL, NULL};
    qr_store_cursor cur[2];
    exist_ctx ex[2];
    char *pretty = sy_pretty(s, s->mbx[mi], s->mbx_len[mi]);
    int rc = 0, k, removed = 0;
    size_t i;

    sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_NONE, NULL, 0, "Resuming interrupted sync for %s",
           pretty ? pretty : "");
    qr_free(pretty);
    for (k = 0; k < 2 && rc == 0; k++) {
        rc = qr_store_cursor_get(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE, idx, &cur[k]);
        if (rc != 0)
            rc = rc < 0 ? sy_store_fail(s, rc)
                        : sy_fail(s, QR_ESTORE, QR_SYNC_COMP_DATABASE, NULL,
                                  "no cursor row for idx %" PRId64, idx);
        if (rc == 0 && (qr_uidset_new(&want[k]) != 0 || qr_uidset_new(&seen[k]) != 0 ||
                        qr_uidset_new(&rm[k]) != 0 || qr_uidset_new(&keep[k]) != 0))
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    if (rc == 0 && (rc = qr_store_pending_foreach(s->st, idx, sy_pairs_cb, &pl)) != 0)
        rc = rc == QR_ENOMEM ? sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory")
                             : sy_store_fail(s, rc);
    for (i = 0; rc == 0 && i < pl.n; i++)
        if (qr_uidset_add(want[0], pl.l[i]) != 0 || qr_uidset_add(want[1], pl.r[i]) != 0)
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    if (rc == 0)
        rc = sy_select_both(s, mi, 1);
    ex[0].sd = &s->side[0];
    ex[0].seen = seen[0];
    ex[1].sd = &s->side[1];
    ex[1].seen = seen[1];
    for (k = 0; rc == 0 && k < 2; k++)
        if (qr_uidset_count(want[k]) > 0)
            rc = sy_submit_split(&s->side[k], "UID FETCH", want[k], "(MODSEQ FLAGS)",
                                 QR_CLAIM(QR_RESP_FETCH), exists_done, on_exists_ctx, &ex[k], NULL);
    if (rc == 0)
        rc = sy_wait(s);
    for (i = 0; rc == 0 && i < pl.n; i++) {
        int l = qr_uidset_contains(seen[0], pl.l[i]), r = qr_uidset_contains(seen[1], pl.r[i]);

        if (l && r) {
            if (qr_uidset_add(keep[0], pl.l[i]) != 0 || qr_uidset_add(keep[1], pl.r[i]) != 0)
                rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            continue;
        }
        if ((rc = qr_store_mapping_remove(s->st, QR_STORE_LOCAL, idx, pl.l[i])) < 0) {
            rc = sy_store_fail(s, rc);
            break;
        }
        rc = 0;
        if (l && qr_uidset_add(rm[0], pl.l[i]) != 0)
            rc = QR_ENOMEM;
        if (r && qr_uidset_add(rm[1], pl.r[i]) != 0)
            rc = QR_ENOMEM;
        if (rc != 0)
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    for (k = 0; rc == 0 && k < 2; k++)
        if (qr_uidset_count(rm[k]) > 0) {
            rc = sy_remove_messages(&s->side[k], rm[k]);
            removed = 1;
        }
    if (rc == 0 && removed && (rc = qr_store_commit(s->st)) != 0) /* C5 */
        rc = sy_store_fail(s, rc);
    for (k = 0; rc == 0 && k < 2; k++) {
        sy_side *sd = &s->side[k];
        sy_cache *c = sy_selected(sd);

        if (c == NULL)
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        else
            rc = sy_pcache_set(sd, c, SY_UIDVALIDITY | SY_UIDNEXT, cur[k].uidvalidity,
                               cur[k].uidnext, 0);
        if (rc == 0)
            c->phas &= ~SY_HMS;
    }
    if (rc == 0) {
        s->mbx_known[mi] = 1;
        rc = sy_sync_messages(s, mi, keep[0], keep[1]);
        s->stats.mailboxes++;
    }
    for (k = 0; k < 2; k++) {
        qr_uidset_free(want[k]);
        qr_uidset_free(seen[k]);
        qr_uidset_free(rm[k]);
        qr_uidset_free(keep[k]);
    }
    qr_free(pl.l);
    qr_free(pl.r);
    return rc;
}

int sy_recover(struct qr_sync *s, size_t *current)
{
    idx_list il = {NULL, 0, 0};
    size_t i;
    int rc = 0;

    *current = SIZE_MAX;
    /* ours first: adopt what the journal says was being copied */
    for (i = 0; rc == 0 && i < s->nmbx; i++) {
        if (s->mbx_idx[i] < 0)
            continue;
        rc = qr_store_journal_has(s->st, s->mbx_idx[i]);
        if (rc < 0)
            rc = sy_store_fail(s, rc);
        else if (rc == 1)
            rc = adopt(s, i);
    }
    if (rc != 0)
        return rc;
    rc = qr_store_interrupted_foreach(s->st, idx_cb, &il);
    if (rc != 0) {
        qr_free(il.v);
        return rc == QR_ENOMEM ? sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory")
                               : sy_store_fail(s, rc);
    }
    for (i = 0; rc == 0 && i < il.n; i++) {
        ssize_t m = find_mbx(s, il.v[i]);

        if (m < 0)
            continue;
        rc = recover_one(s, (size_t)m);
        *current = (size_t)m;
    }
    qr_free(il.v);
    return rc;
}

/* --- clean state (§11) --------------------------------------------------- */

static int state_cb(void *payload, int64_t idx, const void *name, size_t len,
                    const qr_store_cursor *l, const qr_store_cursor *r)
{
    struct qr_sync *s = payload;
    const qr_store_cursor *cur[2] = {l, r};
    ssize_t m = find_mbx(s, idx);
    int k, rc;

    (void)name;
    (void)len;
    if (m < 0)
        return 0;
    for (k = 0; k < 2; k++) {
        sy_side *sd = &s->side[k];
        size_t sl;
        char *sn = sy_server_name(sd, s->mbx[m], s->mbx_len[m], &sl);
        sy_cache *c = sn != NULL ? sy_cache_get(sd, sn, sl, 1) : NULL;

        qr_free(sn);
        if (c == NULL)
            return QR_ENOMEM;
        if ((c->phas & SY_UIDVALIDITY) && c->puidvalidity != cur[k]->uidvalidity) {
            /* OLD is the server's value here, NEW the database's */
            return sy_fail(s, QR_EUIDVALIDITY, sy_comp(sd), NULL,
                           "UIDVALIDITY changed! (%" PRIu32 " != %" PRIu32
                           ")  Need to invalidate the UID cache for %s.",
                           c->puidvalidity, cur[k]->uidvalidity, c->name);
        }
        rc = sy_pcache_set(sd, c, SY_UIDVALIDITY | SY_UIDNEXT | SY_HMS, cur[k]->uidvalidity,
                           cur[k]->uidnext, cur[k]->highestmodseq);
        if (rc != 0)
            return rc;
    }
    s->mbx_known[m] = 1;
    return 0;
}

int sy_load_state(struct qr_sync *s)
{
    int rc = qr_store_state_foreach(s->st, state_cb, s);

    if (s->failed)
        return s->failed;
    if (rc == QR_ENOMEM)
        return sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory");
    if (rc != 0)
        return sy_store_fail(s, rc);
    return 0;
}

/* --- the loop (§12.1) ---------------------------------------------------- */

/* Dirty on a side: only mailboxes that side has a CACHE entry for. */
static int dirty_on(struct qr_sync *s, size_t mi, int k)
{
    sy_side *sd = &s->side[k];
    size_t sl;
    char *sn;
    int d = 0;

    if (s->all_dirty)
        return 1;
    sn = sy_server_name(sd, s->mbx[mi], s->mbx_len[mi], &sl);
    if (sn == NULL)
        return 0;
    if (sy_cache_get(sd, sn, sl, 0) != NULL)
        d = sy_is_dirty(sd, sn, sl);
    qr_free(sn);
    return d;
}

int sy_mbx_dirty(struct qr_sync *s, size_t mi)
{
    return dirty_on(s, mi, 0) || dirty_on(s, mi, 1);
}

static int is_selected(const struct qr_sync *s, size_t mi)
{
    int k;

    for (k = 0; k < 2; k++) {
        const sy_side *sd = &s->side[k];
        size_t sl;
        char *sn = sy_server_name(sd, s->mbx[mi], s->mbx_len[mi], &sl);
        int same = sn != NULL && sd->sel != NULL && strcmp(sd->sel, sn) == 0;

        qr_free(sn);
        if (!same)
            return 0;
    }
    return 1;
}

static void debug_dirty(struct qr_sync *s)
{
    int k;

    if (s->o.log_level < QR_LOG_DEBUG)
        return;
    for (k = 0; k < 2; k++) {
        qr_dynbuf b;
        size_t i;

        qr_dynbuf_init(&b, (size_t)1 << 20);
        for (i = 0; i < s->nmbx; i++)
            if (dirty_on(s, i, k)) {
                size_t sl;
                char *sn = sy_server_name(&s->side[k], s->mbx[i], s->mbx_len[i], &sl);

                if (sn != NULL)
                    (void)qr_dynbuf_addf(&b, "%s%s", b.len ? ", " : "", sn);
                qr_free(sn);
            }
        {
            int any = b.len > 0;

            if (any)
                sy_log(s, QR_LOG_DEBUG, sy_comp(&s->side[k]), s->side[k].sel, 0,
                       "Dirty mailboxes: %s", qr_dynbuf_str(&b));
            else
                sy_log(s, QR_LOG_DEBUG, sy_comp(&s->side[k]), s->side[k].sel, 0, "Clean state!");
            qr_dynbuf_free(&b);
            if (any)
                break; /* remote is queried only when local found nothing */
        }
    }
}

static int first_time(struct qr_sync *s, size_t mi)
{
    int k, rc;

    for (k = 0; k < 2; k++) {
        sy_cache *c = sy_selected(&s->side[k]);
        qr_store_cursor cur;

        if (c == NULL || !(c->has & SY_UIDVALIDITY))
            return sy_fail(s, QR_EPROTO, sy_comp(&s->side[k]), s->side[k].sel,
                           "SELECT gave no UIDVALIDITY");
        cur.uidvalidity = c->uidvalidity;
        cur.uidnext = 0;
        cur.highestmodseq = 0;
        rc = qr_store_cursor_add(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE, s->mbx_idx[mi],
                                 &cur);
        if (rc != 0)
            return sy_store_fail(s, rc);
    }
    s->mbx_known[mi] = 1;
    return 0;
}

static int sync_one(struct qr_sync *s, size_t mi, int selected)
{
    int rc = 0, changed = 0, k, rounds;

    if (s->mbx_idx[mi] < 0)
        return sy_fail(s, QR_ESTORE, QR_SYNC_COMP_DATABASE, NULL, "no database row for %s",
                       s->mbx[mi]);
    if (!selected) {
        rc = sy_select_both(s, mi, 0);
        if (rc != 0)
            return rc;
        if (!s->mbx_known[mi]) {
            rc = first_time(s, mi);
        } else {
            rc = sy_sync_known(s, mi, &changed);
            if (rc == 0 && changed) {
                for (k = 0; rc == 0 && k < 2; k++) {
                    sy_cache *c = sy_selected(&s->side[k]);
                    qr_store_cursor cur;

                    rc = qr_store_cursor_get(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE,
                                             s->mbx_idx[mi], &cur);
                    if (rc == 0)
                        rc =
                            qr_store_cursor_update(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE,
                                                   s->mbx_idx[mi], cur.uidnext, c->phms);
                    if (rc != 0)
                        rc = rc < 0 ? sy_store_fail(s, rc) : 0;
                }
                if (rc == 0 && (rc = qr_store_commit(s->st)) != 0) /* C8 */
                    rc = sy_store_fail(s, rc);
            }
        }
        if (rc != 0)
            return rc;
    }
    s->stats.mailboxes++;
    for (rounds = 0; rc == 0 && rounds < 100; rounds++) {
        if (rounds > 0 && (rc = sy_cancelled(s)) != 0)
            break;
        rc = sy_sync_messages(s, mi, NULL, NULL);
        if (rc != 0 || !(dirty_on(s, mi, 0) || dirty_on(s, mi, 1)))
            break;
    }
    return rc;
}

int sy_loop(struct qr_sync *s, size_t current)
{
    size_t i;
    int rc = 0;

    if (current != SIZE_MAX && (dirty_on(s, current, 0) || dirty_on(s, current, 1)) &&
        is_selected(s, current))
        rc = sync_one(s, current, 1);
    debug_dirty(s);
    for (i = 0; rc == 0 && i < s->nmbx; i++) {
        if ((rc = sy_cancelled(s)) != 0)
            break;
        if (!(dirty_on(s, i, 0) || dirty_on(s, i, 1)))
            continue;
        rc = sync_one(s, i, is_selected(s, i) && i == current);
        if (rc == 0)
            debug_dirty(s);
    }
    return rc;
}
