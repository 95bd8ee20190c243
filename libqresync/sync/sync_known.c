/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Changes to messages both sides know (interimap.md §12.3-§12.6): pulling
 * the updates of the selected mailbox, resolving them against the mapping
 * (expunges propagated, flag conflicts resolved by the union), pushing
 * flag updates with UNCHANGEDSINCE and removing messages. Both sides'
 * commands are pipelined and run at the same time.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

/* --- pull updates (§12.3, imap-client.md §10.5) -------------------------- */

typedef struct pull_state {
    qr_uidset *refetch; /* entries with unknown flags or MODSEQ 0 */
} pull_state;

/* Move the usable modified entries of sd into out; collect the others.
 * Returns 1 when a refetch was submitted. */
static int pull_take(sy_side *sd, sy_flagmap *out, qr_uidset *refetch, int *submitted, int full)
{
    sy_cache *c = sy_selected(sd);
    uint32_t unext = c != NULL && (c->phas & SY_UIDNEXT) && c->puidnext ? c->puidnext : 1;
    uint64_t hms = c != NULL && (c->phas & SY_HMS) ? c->phms : 0;
    size_t i;
    int rc = 0;

    *submitted = 0;
    qr_uidset_clear(refetch);
    for (i = 0; i < sd->mods.n && rc == 0; i++) {
        sy_mod *m = &sd->mods.v[i];

        if (m->flags != NULL && m->modseq > 0) {
            if (m->uid < unext && (full || m->modseq > hms)) {
                rc = sy_flagmap_put(out, m->uid, m->modseq, m->flags);
                if (rc == 0)
                    m->flags = NULL;
            }
        } else {
            rc = qr_uidset_add(refetch, m->uid);
        }
    }
    sy_flagmap_dispose(&sd->mods);
    if (rc != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    if (qr_uidset_count(refetch) > 0) {
        rc = sy_submit_split(sd, "UID FETCH", refetch, "(MODSEQ FLAGS)", 0, sy_done_fatal, NULL, sd,
                             NULL);
        *submitted = rc == 0;
    }
    return rc;
}

/* Finish a pull: vanished UIDs, drop them from the flags, PCACHE HMS. */
static int pull_finish(sy_side *sd, qr_uidset *vanished, sy_flagmap *out)
{
    sy_cache *c = sy_selected(sd);
    uint32_t unext = c != NULL && (c->phas & SY_UIDNEXT) && c->puidnext ? c->puidnext : 1;
    size_t n, i;
    const qr_range *r = qr_uidset_ranges(sd->vanished, &n);
    int rc = 0;

    qr_uidset_clear(vanished);
    for (i = 0; i < n && rc == 0; i++) {
        uint32_t hi;

        if (r[i].lo >= unext)
            break;
        hi = r[i].hi < unext ? r[i].hi : unext - 1;
        rc = qr_uidset_add_range(vanished, r[i].lo, hi);
    }
    qr_uidset_clear(sd->vanished);
    if (rc != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    for (i = 0; i < out->n;) {
        if (qr_uidset_contains(vanished, out->v[i].uid))
            sy_flagmap_remove(out, out->v[i].uid);
        else
            i++;
    }
    if (c != NULL) {
        c->phms = (c->has & SY_HMS) ? c->hms : 0;
        c->phas |= SY_HMS;
        sy_log_pcache(sd, c);
    }
    return 0;
}

int sy_pull_updates(sy_side *sd, qr_uidset *vanished, sy_flagmap *modified)
{
    qr_uidset *refetch = NULL;
    int rc, sub;

    if (qr_uidset_new(&refetch) != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    do {
        rc = pull_take(sd, modified, refetch, &sub, 0);
        if (rc == 0 && sub)
            rc = sy_wait(sd->sync);
    } while (rc == 0 && sub);
    if (rc == 0)
        rc = pull_finish(sd, vanished, modified);
    qr_uidset_free(refetch);
    return rc;
}

/* Both sides at once. */
static int pull_both(struct qr_sync *s, qr_uidset **v, sy_flagmap *m, int full)
{
    qr_uidset *refetch[2] = {NULL, NULL};
    int rc = 0, sub[2] = {1, 1}, i;

    if (qr_uidset_new(&refetch[0]) != 0 || qr_uidset_new(&refetch[1]) != 0)
        rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    while (rc == 0 && (sub[0] || sub[1])) {
        for (i = 0; i < 2 && rc == 0; i++)
            if (sub[i])
                rc = pull_take(&s->side[i], &m[i], refetch[i], &sub[i], full);
        if (rc == 0 && (sub[0] || sub[1]))
            rc = sy_wait(s);
    }
    for (i = 0; i < 2 && rc == 0; i++)
        rc = pull_finish(&s->side[i], v[i], &m[i]);
    qr_uidset_free(refetch[0]);
    qr_uidset_free(refetch[1]);
    return rc;
}

int sy_pull_full(struct qr_sync *s, qr_uidset **v, sy_flagmap *m)
{
    int k, rc = 0;

    for (k = 0; rc == 0 && k < 2; k++) {
        sy_side *sd = &s->side[k];
        sy_cache *c = sy_selected(sd);
        char range[32];
        qr_cmd *cmd = NULL;

        if (c == NULL || !(c->phas & SY_UIDNEXT) || c->puidnext <= 1)
            continue;
        /* one command, not split (imap-client.md §7.4) */
        snprintf(range, sizeof(range), "1:%" PRIu32, c->puidnext - 1);
        if ((rc = qr_cmd_new(&cmd, "UID FETCH", 0)) != 0 ||
            (rc = qr_cmd_add_raw(cmd, range)) != 0 ||
            (rc = qr_cmd_add_raw(cmd, "(MODSEQ FLAGS)")) != 0) {
            qr_cmd_free(cmd);
            return sy_fail(s, rc, sy_comp(sd), sd->sel, "UID FETCH: %s", qr_strerror(rc));
        }
        rc = sy_submit(sd, cmd, 0, sy_done_fatal, NULL, sd);
    }
    if (rc == 0)
        rc = sy_wait(s);
    if (rc == 0)
        rc = pull_both(s, v, m, 1);
    return rc;
}

/* --- removing messages (§12.6) ------------------------------------------- */

typedef struct rm_cmd {
    sy_side *sd;
    qr_uidset *uids; /* the chunk */
    int expunge;     /* 1 for the UID EXPUNGE */
} rm_cmd;

static int rm_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    rm_cmd *rc = payload;
    sy_side *sd = rc->sd;
    struct qr_sync *s = sd->sync;

    (void)ss;
    if (sd->outstanding > 0)
        sd->outstanding--;
    if (res->status != 0) {
        sy_cmd_failed(sd, res, NULL);
    } else if (rc->expunge) {
        qr_uidset *ok = NULL, *bad = NULL;
        qr_dynbuf t;

        qr_dynbuf_init(&t, (size_t)1 << 24);
        if (qr_uidset_copy(&ok, rc->uids) != 0 || qr_uidset_copy(&bad, rc->uids) != 0 ||
            qr_uidset_intersection(ok, sd->expunge_seen) != 0 ||
            qr_uidset_difference(bad, sd->expunge_seen) != 0) {
            sy_fail(s, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
        } else {
            qr_uidset_iter it;
            uint32_t u;

            qr_uidset_difference(sd->vanished, ok);
            qr_uidset_iter_init(&it, ok);
            while (qr_uidset_iter_next(&it, &u))
                sy_flagmap_remove(&sd->mods, u);
            if (qr_uidset_count(ok) > 0 && sy_uidset_text(&t, ok) == 0) {
                sy_log(s, QR_LOG_INFO, sy_comp(sd), sd->sel, QR_SYNC_LOG_QUIET,
                       "Removed %" PRIu64 " UID(s) %s", qr_uidset_count(ok), qr_dynbuf_str(&t));
                s->stats.expunged[sd->which] += qr_uidset_count(ok);
            }
            qr_dynbuf_reset(&t);
            if (qr_uidset_count(bad) > 0 && sy_uidset_text(&t, bad) == 0)
                sy_log(s, QR_LOG_WARNING, sy_comp(sd), sd->sel, 0,
                       "WARNING: Couldn't UID EXPUNGE %s", qr_dynbuf_str(&t));
        }
        qr_dynbuf_free(&t);
        qr_uidset_free(ok);
        qr_uidset_free(bad);
    }
    qr_uidset_free(rc->uids);
    qr_free(rc);
    return 0;
}

static int rm_piece(const char *text, void *ctx)
{
    sy_side *sd = ctx;
    int k, rc = 0;

    for (k = 0; k < 2 && rc == 0; k++) {
        rm_cmd *c = qr_calloc(1, sizeof(*c));
        qr_cmd *cmd = NULL;

        if (c == NULL || qr_uidset_new(&c->uids) != 0 ||
            qr_uidset_parse(c->uids, text, strlen(text)) != 0) {
            if (c != NULL)
                qr_uidset_free(c->uids);
            qr_free(c);
            return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
        }
        c->sd = sd;
        c->expunge = k;
        if ((rc = qr_cmd_new(&cmd, k ? "UID EXPUNGE" : "UID STORE", 0)) != 0 ||
            (rc = qr_cmd_add_raw(cmd, text)) != 0 ||
            (!k && (rc = qr_cmd_add_raw(cmd, "+FLAGS.SILENT (\\Deleted)")) != 0)) {
            qr_cmd_free(cmd);
            qr_uidset_free(c->uids);
            qr_free(c);
            return sy_fail(sd->sync, rc, sy_comp(sd), NULL, "%s", qr_strerror(rc));
        }
        rc = sy_submit(sd, cmd, 0, rm_done, NULL, c);
        if (rc != 0) {
            qr_uidset_free(c->uids);
            qr_free(c);
        }
    }
    return rc;
}

/* Submit the removal of uids on sd (wait with sy_wait()). */
int sy_remove_submit(sy_side *sd, const qr_uidset *uids)
{
    if (qr_uidset_count(uids) == 0)
        return 0;
    if (!qr_session_has_cap(sd->s, QR_CAP_UIDPLUS))
        return sy_fail(sd->sync, QR_ECAPABILITY, sy_comp(sd), NULL,
                       "Server did not advertise UIDPLUS (RFC 4315) capability.");
    if (sd->expunge_seen == NULL && qr_uidset_new(&sd->expunge_seen) != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    return sy_pieces(uids, rm_piece, sd);
}

void sy_remove_end(struct qr_sync *s)
{
    int i;

    for (i = 0; i < 2; i++) {
        qr_uidset_free(s->side[i].expunge_seen);
        s->side[i].expunge_seen = NULL;
    }
}

int sy_remove_messages(sy_side *sd, const qr_uidset *uids)
{
    int rc = sy_remove_submit(sd, uids);

    if (rc == 0)
        rc = sy_wait(sd->sync);
    sy_remove_end(sd->sync);
    return rc;
}

/* --- pushing flag updates (§12.5) ---------------------------------------- */

typedef struct st_cmd {
    sy_side *sd;
    qr_uidset *uids;
    char *flags;
} st_cmd;

typedef struct st_ctx {
    sy_side *sd;
    const char *flags;
    uint64_t since;
} st_ctx;

static int st_done_store(qr_session *ss, const qr_session_result *res, const qr_uidset *modified,
                         st_cmd *c)
{
    sy_side *sd = c->sd;
    struct qr_sync *s = sd->sync;
    qr_uidset *upd = NULL, *failed = NULL;
    qr_uidset_iter it;
    uint32_t u;
    qr_dynbuf t;
    int rc = 0;

    (void)ss;
    (void)res;
    if (qr_uidset_new(&upd) != 0 || qr_uidset_new(&failed) != 0) {
        rc = QR_ENOMEM;
        goto out;
    }
    qr_uidset_iter_init(&it, c->uids);
    while (rc == 0 && qr_uidset_iter_next(&it, &u)) {
        if (modified != NULL && qr_uidset_contains(modified, u)) {
            if (sy_flagmap_find(&sd->mods, u) == NULL)
                rc = sy_flagmap_put(&sd->mods, u, 0, NULL);
            if (rc == 0)
                rc = qr_uidset_add(failed, u);
        } else if (sd->store_seen != NULL && qr_uidset_contains(sd->store_seen, u)) {
            sy_mod *m = sy_flagmap_find(&sd->mods, u);

            if (m == NULL || m->flags == NULL || strcmp(m->flags, c->flags) == 0) {
                sy_flagmap_remove(&sd->mods, u);
                rc = qr_uidset_add(upd, u);
            }
        }
    }
    if (rc != 0)
        goto out;
    qr_dynbuf_init(&t, (size_t)1 << 24);
    if (qr_uidset_count(upd) > 0 && sy_uidset_text(&t, upd) == 0) {
        sy_log(s, QR_LOG_INFO, sy_comp(sd), sd->sel, QR_SYNC_LOG_QUIET,
               "Updated flags (%s) for UID %s", c->flags, qr_dynbuf_str(&t));
        s->stats.flags_updated[sd->which] += qr_uidset_count(upd);
    }
    qr_dynbuf_reset(&t);
    if (qr_uidset_count(failed) > 0 && sy_uidset_text(&t, failed) == 0)
        sy_log(s, QR_LOG_INFO, sy_comp(sd), sd->sel, QR_SYNC_LOG_QUIET,
               "Couldn't update flags (%s) for UID %s, will try again later", c->flags,
               qr_dynbuf_str(&t));
    qr_dynbuf_free(&t);
out:
    if (rc != 0)
        sy_fail(s, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    qr_uidset_free(upd);
    qr_uidset_free(failed);
    return 0;
}

static int st_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    st_cmd *c = payload;
    sy_side *sd = c->sd;

    if (sd->outstanding > 0)
        sd->outstanding--;
    if (res->status == 0 ||
        (res->status == QR_ENO && res->code != NULL && res->code->kind == QR_CODE_MODIFIED)) {
        const qr_uidset *mod =
            res->code != NULL && res->code->kind == QR_CODE_MODIFIED ? res->code->set : NULL;

        st_done_store(ss, res, mod, c);
    } else {
        sy_cmd_failed(sd, res, NULL);
    }
    qr_uidset_free(c->uids);
    qr_free(c->flags);
    qr_free(c);
    return 0;
}

static int st_piece(const char *text, void *ctx)
{
    st_ctx *x = ctx;
    sy_side *sd = x->sd;
    st_cmd *c = qr_calloc(1, sizeof(*c));
    qr_cmd *cmd = NULL;
    qr_dynbuf tail;
    int rc;

    if (c == NULL || qr_uidset_new(&c->uids) != 0 ||
        qr_uidset_parse(c->uids, text, strlen(text)) != 0 ||
        (c->flags = qr_strdup(x->flags)) == NULL) {
        if (c != NULL)
            qr_uidset_free(c->uids);
        qr_free(c);
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    }
    c->sd = sd;
    qr_dynbuf_init(&tail, (size_t)1 << 20);
    rc =
        qr_dynbuf_addf(&tail, "(UNCHANGEDSINCE %" PRIu64 ") FLAGS.SILENT (%s)", x->since, x->flags);
    if (rc == 0 && (rc = qr_cmd_new(&cmd, "UID STORE", 0)) == 0 &&
        (rc = qr_cmd_add_raw(cmd, text)) == 0)
        rc = qr_cmd_add_raw(cmd, qr_dynbuf_str(&tail));
    qr_dynbuf_free(&tail);
    if (rc != 0) {
        qr_cmd_free(cmd);
        qr_uidset_free(c->uids);
        qr_free(c->flags);
        qr_free(c);
        return sy_fail(sd->sync, rc, sy_comp(sd), sd->sel, "UID STORE: %s", qr_strerror(rc));
    }
    rc = sy_submit(sd, cmd, 0, st_done, NULL, c);
    if (rc != 0) {
        qr_uidset_free(c->uids);
        qr_free(c->flags);
        qr_free(c);
    }
    return rc;
}

static int cmp_mod_flags(const void *a, const void *b)
{
    const sy_mod *x = a, *y = b;
    int c = strcmp(x->flags, y->flags);

    return c != 0 ? c : (x->uid > y->uid) - (x->uid < y->uid);
}

/* Submit the updates of `want` (uid -> flags) on sd, one STORE per flag list. */
int sy_push_submit(sy_side *sd, sy_flagmap *want)
{
    sy_cache *c = sy_selected(sd);
    qr_uidset *set = NULL;
    size_t i, j;
    int rc = 0;

    if (want->n == 0)
        return 0;
    if (sd->store_seen == NULL && qr_uidset_new(&sd->store_seen) != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    if (qr_uidset_new(&set) != 0)
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    qsort(want->v, want->n, sizeof(*want->v), cmp_mod_flags);
    for (i = 0; i < want->n && rc == 0; i = j) {
        st_ctx x;

        qr_uidset_clear(set);
        for (j = i; j < want->n && strcmp(want->v[j].flags, want->v[i].flags) == 0; j++)
            if (qr_uidset_add(set, want->v[j].uid) != 0)
                rc = sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
        x.sd = sd;
        x.flags = want->v[i].flags;
        x.since = c != NULL && (c->phas & SY_HMS) ? c->phms : 0;
        if (rc == 0)
            rc = sy_pieces(set, st_piece, &x);
    }
    qr_uidset_free(set);
    return rc;
}

/* --- known messages (§12.4) ---------------------------------------------- */

int sy_want_put(struct qr_sync *s, sy_flagmap *m, uint32_t uid, const char *flags)
{
    char *f = qr_strdup(flags);

    if (f == NULL || sy_flagmap_put(m, uid, 0, f) != 0) {
        qr_free(f);
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    return 0;
}

static int map_uid(struct qr_sync *s, int side, int64_t idx, uint32_t uid, uint32_t *other)
{
    int rc = qr_store_mapping_lookup(
        s->st, side == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE, idx, uid, other);

    if (rc < 0)
        return sy_store_fail(s, rc);
    return rc; /* 0 found, 1 none */
}

static int warn_dunno(struct qr_sync *s, int side, const qr_uidset *set)
{
    /* logged under the *other* side's name, as the reference does */
    sy_side *o = &s->side[1 - side];
    qr_dynbuf t;

    if (qr_uidset_count(set) == 0)
        return 0;
    qr_dynbuf_init(&t, (size_t)1 << 24);
    if (sy_uidset_text(&t, set) == 0)
        sy_log(s, QR_LOG_WARNING, sy_comp(o), o->sel, 0,
               "WARNING: No match for %" PRIu64 " vanished %s UID(s) %s. Ignoring.",
               qr_uidset_count(set), side == QR_SYNC_LOCAL ? "local" : "remote", qr_dynbuf_str(&t));
    qr_dynbuf_free(&t);
    return 0;
}

/* Vanished messages: propagate, delete the mapping rows. */
static int known_vanished(struct qr_sync *s, int64_t idx, qr_uidset **v)
{
    qr_uidset *dunno[2] = {NULL, NULL}, *rm[2] = {NULL, NULL};
    qr_uidset_iter it;
    uint32_t u, o;
    int i, rc = 0;

    for (i = 0; i < 2; i++)
        if (qr_uidset_new(&dunno[i]) != 0 || qr_uidset_new(&rm[i]) != 0)
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    for (i = 0; i < 2 && rc == 0; i++) {
        qr_uidset_iter_init(&it, v[i]);
        while (rc == 0 && qr_uidset_iter_next(&it, &u)) {
            rc = map_uid(s, i, idx, u, &o);
            if (rc == 1) {
                rc = qr_uidset_add(dunno[i], u);
            } else if (rc == 0 && !qr_uidset_contains(v[1 - i], o)) {
                rc = qr_uidset_add(rm[1 - i], o);
            }
        }
    }
    if (rc == 0) {
        warn_dunno(s, QR_SYNC_LOCAL, dunno[0]);
        warn_dunno(s, QR_SYNC_REMOTE, dunno[1]);
        if ((rc = sy_remove_submit(&s->side[0], rm[0])) == 0 &&
            (rc = sy_remove_submit(&s->side[1], rm[1])) == 0)
            rc = sy_wait(s);
        sy_remove_end(s);
    }
    /* DELETE FROM mapping for lV + lToRemove (the reference's order) */
    for (i = 0; i < 2 && rc == 0; i++) {
        const qr_uidset *set = i == 0 ? v[0] : rm[0];

        qr_uidset_iter_init(&it, set);
        while (rc == 0 && qr_uidset_iter_next(&it, &u)) {
            rc = qr_store_mapping_remove(s->st, QR_STORE_LOCAL, idx, u);
            if (rc == 1) {
                sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_DATABASE, NULL, 0,
                       "WARNING: Can't delete (idx,lUID) = (%" PRId64 ",%" PRIu32 ")", idx, u);
                rc = 0;
            } else if (rc < 0) {
                rc = sy_store_fail(s, rc);
            }
        }
    }
    for (i = 0; i < 2; i++) {
        qr_uidset_free(dunno[i]);
        qr_uidset_free(rm[i]);
    }
    return rc < 0 ? rc : 0;
}

static int known_flags(struct qr_sync *s, size_t mi, int64_t idx, sy_flagmap *m)
{
    sy_flagmap want[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    char *pretty = NULL;
    size_t i;
    uint32_t o;
    int rc = 0, k;

    for (i = 0; i < m[0].n && rc == 0; i++) {
        const sy_mod *l = &m[0].v[i];
        const sy_mod *r;

        rc = map_uid(s, QR_SYNC_LOCAL, idx, l->uid, &o);
        if (rc < 0)
            break;
        if (rc == 1) {
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_REMOTE, s->side[1].sel, 0,
                   "WARNING: No match for modified local UID %" PRIu32 ". Try '--repair'.", l->uid);
            rc = 0;
            continue;
        }
        r = sy_flagmap_find(&m[1], o);
        if (r != NULL && strcmp(r->flags, l->flags) != 0) {
            char *u = sy_flags_union(l->flags, r->flags);

            if (u == NULL)
                return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            if (pretty == NULL)
                pretty = sy_pretty(s, s->mbx[mi], s->mbx_len[mi]);
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_NONE, NULL, 0,
                   "WARNING: Conflicting flag update in %s for local UID %" PRIu32
                   " (%s) and remote UID %" PRIu32 " (%s). Setting both to the union (%s).",
                   pretty ? pretty : "", l->uid, l->flags, o, r->flags, u);
            rc = sy_want_put(s, &want[0], l->uid, u);
            if (rc == 0)
                rc = sy_want_put(s, &want[1], o, u);
            qr_free(u);
        } else if (r == NULL) {
            rc = sy_want_put(s, &want[1], o, l->flags);
        }
    }
    for (i = 0; i < m[1].n && rc == 0; i++) {
        const sy_mod *r = &m[1].v[i];

        rc = map_uid(s, QR_SYNC_REMOTE, idx, r->uid, &o);
        if (rc < 0)
            break;
        if (rc == 1) {
            sy_log(s, QR_LOG_WARNING, QR_SYNC_COMP_LOCAL, s->side[0].sel, 0,
                   "WARNING: No match for modified remote UID %" PRIu32 ". Try '--repair'.",
                   r->uid);
            rc = 0;
            continue;
        }
        if (sy_flagmap_find(&m[0], o) == NULL)
            rc = sy_want_put(s, &want[0], o, r->flags);
    }
    qr_free(pretty);
    for (k = 0; k < 2 && rc == 0; k++)
        rc = sy_push_submit(&s->side[k], &want[k]);
    if (rc == 0 && (want[0].n > 0 || want[1].n > 0))
        rc = sy_wait(s);
    for (k = 0; k < 2; k++)
        sy_flagmap_dispose(&want[k]);
    sy_push_end(s);
    return rc < 0 ? rc : 0;
}

void sy_push_end(struct qr_sync *s)
{
    int k;

    for (k = 0; k < 2; k++) {
        qr_uidset_free(s->side[k].store_seen);
        s->side[k].store_seen = NULL;
    }
}

int sy_sync_known(struct qr_sync *s, size_t mi, int *changed)
{
    int64_t idx = s->mbx_idx[mi];
    qr_uidset *v[2] = {NULL, NULL};
    sy_flagmap m[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    int rc = 0, k, rounds = 0;

    *changed = 0;
    if (qr_uidset_new(&v[0]) != 0 || qr_uidset_new(&v[1]) != 0)
        rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    while (rc == 0) {
        for (k = 0; k < 2; k++)
            sy_flagmap_dispose(&m[k]);
        rc = pull_both(s, v, m, 0);
        if (rc != 0)
            break;
        if (qr_uidset_count(v[0]) == 0 && qr_uidset_count(v[1]) == 0 && m[0].n == 0 && m[1].n == 0)
            break;
        *changed = 1;
        if (++rounds > 1000) {
            rc = sy_fail(s, QR_ERROR, QR_SYNC_COMP_NONE, NULL,
                         "flag updates keep failing on %s; giving up for this run",
                         s->side[0].sel ? s->side[0].sel : "?");
            break;
        }
        rc = known_vanished(s, idx, v);
        if (rc == 0)
            rc = known_flags(s, mi, idx, m);
    }
    for (k = 0; k < 2; k++) {
        sy_flagmap_dispose(&m[k]);
        qr_uidset_free(v[k]);
    }
    return rc;
}
