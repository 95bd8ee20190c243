/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_mbox_engine: folds the response events of one selected mailbox into
 * a change set, relative to a cached state.
 *
 * State kept:
 *   - `base`, the state the pending changes are relative to (the cached
 *     state, then the state of the last take); `cur`, the state built from
 *     the responses so far (starts as a copy of base);
 *   - the pending flag updates (qr_updtable, one entry per UID below the
 *     base UIDNEXT), the `gone` set (every UID a VANISHED named since the
 *     last take, whatever its value) and `newuids` (UIDs at or above the
 *     base UIDNEXT that a FETCH showed, minus gone);
 *   - the phase with respect to `[CLOSED]` and how many more CLOSED codes
 *     to skip.
 *
 * Rules, in the order a response is handled:
 *   1. In QR_MBOX_CLOSED nothing is folded; in QR_MBOX_AWAIT_CLOSED only an
 *      OK [CLOSED] counts (it moves toward QR_MBOX_ACTIVE); an ACTIVE
 *      engine that sees OK [CLOSED] becomes CLOSED (its mailbox ended).
 *   2. Every UID and MODSEQ received moves UIDNEXT / HIGHESTMODSEQ in
 *      `cur` (UIDNEXT only up; HIGHESTMODSEQ up from FETCH, set by the
 *      code but never below a MODSEQ seen since the engine started).
 *   3. Expunge wins: a VANISHED UID leaves the updates and new UIDs, and a
 *      later FETCH of it is ignored (the server raced a flag change with
 *      the expunge).
 *   4. One update per UID: a later FETCH replaces an earlier one when its
 *      MODSEQ is higher, or equal and it has FLAGS or the earlier had none.
 * Filtering by MODSEQ (updates not above the base HIGHESTMODSEQ are stale)
 * happens at take time, so QR_MBOX_TAKE_ALL can keep them.
 *
 * EXPUNGE by sequence number: a QRESYNC server must send VANISHED instead
 * (RFC 7162 §3.2.10). The engine keeps no sequence-number map, so it
 * cannot name the UID: it lowers EXISTS and raises QR_CHANGES_RESCAN so the
 * caller compares the full UID list.
 *
 * Errors other than QR_EINVAL are sticky (`failed`): a response may have
 * been half applied, so the pending changes can no longer be trusted.
 */
#include "config.h"

#include <qresync/mbox.h>
#include <string.h>

#include "mbox/mbox_p.h"
#include "util/alloc.h"

struct qr_mbox_engine {
    qr_kwtable *kw;           /* borrowed keyword table for every flag set */
    qr_mbox_state base;       /* the state pending changes are relative to */
    qr_mbox_state cur;        /* the state built from what was received */
    qr_mbox_phase phase;      /* where we are with respect to [CLOSED] */
    unsigned int closed_wait; /* [CLOSED] codes still to skip (AWAIT_CLOSED) */
    unsigned int cflags;      /* QR_CHANGES_* bits since the last take */
    uint64_t max_modseq;      /* highest MODSEQ seen in a FETCH since creation */
    qr_updtable upd;          /* pending flag updates (owned) */
    qr_uidset *gone;          /* owned: every UID vanished since the last take */
    qr_uidset *newuids;       /* owned: UIDs >= base UIDNEXT seen in FETCH, minus gone */
    qr_flagset scratch;       /* owned: FLAGS being parsed, swapped into entries */
    int failed;               /* sticky error code, 0 while healthy */
    qr_errslot err;           /* detail of the last error */
};

static uint32_t base_uidnext(const qr_mbox_engine *e)
{
    return e->base.uidnext ? e->base.uidnext : 1;
}

static int fail(qr_mbox_engine *e, int rc, const char *what)
{
    if (rc == QR_ENOMEM)
        qr_err_set(&e->err, rc, "out of memory while folding %s", what);
    else if (rc == QR_ELIMIT)
        qr_err_set(&e->err, rc, "limit exceeded while folding %s", what);
    else if (e->err.pub.code != rc)
        qr_err_set(&e->err, rc, "%s", what);
    e->failed = rc;
    return rc;
}

int qr_mbox_engine_new(qr_mbox_engine **out, const qr_mbox_state *cached, qr_kwtable *kw)
{
    qr_mbox_engine *e;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (kw == NULL || (cached && cached->version != QR_MBOX_STATE_VERSION))
        return QR_EINVAL;
    e = qr_calloc(1, sizeof(*e));
    if (e == NULL)
        return QR_ENOMEM;
    if (qr_uidset_new(&e->gone) < 0 || qr_uidset_new(&e->newuids) < 0) {
        qr_mbox_engine_free(e);
        return QR_ENOMEM;
    }
    e->kw = kw;
    qr_mbox_state_init(&e->base, QR_MBOX_STATE_VERSION);
    if (cached)
        e->base = *cached;
    e->cur = e->base;
    e->phase = QR_MBOX_ACTIVE;
    qr_updtable_init(&e->upd);
    qr_errslot_clear(&e->err);
    *out = e;
    return 0;
}

void qr_mbox_engine_free(qr_mbox_engine *e)
{
    if (e == NULL)
        return;
    qr_updtable_free(&e->upd);
    qr_uidset_free(e->gone);
    qr_uidset_free(e->newuids);
    qr_flagset_dispose(&e->scratch);
    qr_free(e);
}

int qr_mbox_engine_begin_select(qr_mbox_engine *e, unsigned int closed_expected)
{
    if (e == NULL)
        return QR_EINVAL;
    if (e->failed)
        return e->failed;
    e->phase = closed_expected ? QR_MBOX_AWAIT_CLOSED : QR_MBOX_ACTIVE;
    e->closed_wait = closed_expected;
    e->cur.exists = 0;
    e->cur.exists_known = 0;
    e->cur.nomodseq = 0;
    return 0;
}

/* Raise cur.uidnext past uid (saturating at 4294967295). */
static void saw_uid(qr_mbox_engine *e, uint32_t uid)
{
    uint32_t next = uid == UINT32_MAX ? UINT32_MAX : uid + 1;

    if (e->cur.uidnext < next)
        e->cur.uidnext = next;
}

static int check_ranges(qr_mbox_engine *e, const qr_uidset *set, const char *what)
{
    size_t n = 0;

    (void)qr_uidset_ranges(set, &n);
    return n > QR_MBOX_MAX_RANGES ? fail(e, QR_ELIMIT, what) : 0;
}

/* [MODIFIED set]: UIDs whose conditional STORE failed; flags unknown. */
static int on_modified(qr_mbox_engine *e, const qr_uidset *set)
{
    const qr_range *r;
    size_t n = 0, i, pos;
    uint32_t top = base_uidnext(e) - 1, uid;
    int rc;

    r = qr_uidset_ranges(set, &n);
    for (i = 0; i < n && r[i].lo <= top; i++) {
        for (uid = r[i].lo;; uid++) {
            if (!qr_uidset_contains(e->gone, uid) && qr_updtable_find(&e->upd, uid) == SIZE_MAX) {
                rc = qr_updtable_add(&e->upd, uid, &pos);
                if (rc < 0)
                    return fail(e, rc, "[MODIFIED]");
            }
            if (uid == r[i].hi || uid == top)
                break;
        }
    }
    return 0;
}

static int on_uidvalidity(qr_mbox_engine *e, uint64_t v)
{
    if (v == 0)
        return fail(e, QR_EPROTO, "[UIDVALIDITY 0]");
    if (e->cur.uidvalidity != 0 && e->cur.uidvalidity != v) {
        qr_err_set(&e->err, QR_EUIDVALIDITY, "UIDVALIDITY changed (%lu != %lu)",
                   (unsigned long)e->cur.uidvalidity, (unsigned long)v);
        return fail(e, QR_EUIDVALIDITY, "UIDVALIDITY changed");
    }
    e->cur.uidvalidity = (uint32_t)v;
    return 0;
}

/* The response code of a tagged or untagged status response. */
static int on_code(qr_mbox_engine *e, const qr_resp *resp)
{
    const qr_resp_code *c = &resp->text.code;

    if (c->kind == QR_CODE_MODIFIED && c->set &&
        (resp->cond == QR_COND_OK || resp->cond == QR_COND_NO))
        return on_modified(e, c->set);
    if (resp->cond != QR_COND_OK)
        return 0;
    switch (c->kind) {
    case QR_CODE_UIDVALIDITY:
        return on_uidvalidity(e, c->number);
    case QR_CODE_UIDNEXT:
        if (c->number == 0)
            return fail(e, QR_EPROTO, "[UIDNEXT 0]");
        if (e->cur.uidnext < c->number)
            e->cur.uidnext = (uint32_t)c->number;
        return 0;
    case QR_CODE_HIGHESTMODSEQ:
        e->cur.highestmodseq = c->number > e->max_modseq ? c->number : e->max_modseq;
        if (c->number < e->base.highestmodseq)
            e->cflags |= QR_CHANGES_MODSEQ_BACKWARDS;
        return 0;
    case QR_CODE_NOMODSEQ:
        e->cur.nomodseq = 1;
        e->cflags |= QR_CHANGES_NOMODSEQ;
        return 0;
    case QR_CODE_CLOSED:
        e->phase = QR_MBOX_CLOSED;
        return 0;
    default:
        return 0;
    }
}

static void on_exists(qr_mbox_engine *e, uint32_t n)
{
    if (e->cur.exists_known && n > e->cur.exists)
        e->cflags |= QR_CHANGES_EXISTS_GREW;
    e->cur.exists = n;
    e->cur.exists_known = 1;
}

static void on_expunge(qr_mbox_engine *e)
{
    if (e->cur.exists_known && e->cur.exists > 0)
        e->cur.exists--;
    e->cflags |= QR_CHANGES_RESCAN;
}

static int on_vanished(qr_mbox_engine *e, const qr_resp_vanished *v)
{
    const qr_range *r;
    size_t n = 0;
    uint64_t count;
    int rc;

    r = qr_uidset_ranges(v->set, &n);
    if (n == 0)
        return 0;
    saw_uid(e, r[n - 1].hi);
    if (!v->earlier && e->cur.exists_known) {
        count = qr_uidset_count(v->set);
        e->cur.exists = count >= e->cur.exists ? 0 : e->cur.exists - (uint32_t)count;
    }
    rc = qr_uidset_union(e->gone, v->set);
    if (rc == 0)
        rc = qr_uidset_difference(e->newuids, v->set);
    if (rc < 0)
        return fail(e, rc, "VANISHED");
    qr_updtable_kill_set(&e->upd, v->set);
    return check_ranges(e, e->gone, "VANISHED");
}

/* Parse FETCH FLAGS into e->scratch. */
static int parse_flags(qr_mbox_engine *e, const qr_resp_strlist *l)
{
    size_t i;
    int rc;

    qr_flagset_clear(&e->scratch);
    for (i = 0; i < l->count; i++) {
        rc = qr_flagset_add_name(&e->scratch, e->kw, l->items[i].ptr, l->items[i].len);
        if (rc == QR_EINVAL)
            return fail(e, QR_EPROTO, "FETCH with an invalid flag name");
        if (rc < 0)
            return fail(e, rc, "FETCH FLAGS");
    }
    return 0;
}

/* Record (modseq, flags) of a known UID, keeping the newest per UID. */
static int record_update(qr_mbox_engine *e, uint32_t uid, uint64_t modseq, int known)
{
    qr_flag_update *u;
    qr_flagset tmp;
    size_t pos = qr_updtable_find(&e->upd, uid);
    int rc;

    if (pos == SIZE_MAX) {
        rc = qr_updtable_add(&e->upd, uid, &pos);
        if (rc < 0)
            return fail(e, rc, "FETCH");
    } else {
        u = &e->upd.v[pos];
        if (!(modseq > u->modseq || (modseq == u->modseq && (known || !u->flags_known))))
            return 0;
    }
    u = &e->upd.v[pos];
    u->modseq = modseq;
    u->flags_known = known;
    if (known) {
        tmp = u->flags;
        u->flags = e->scratch;
        e->scratch = tmp;
    } else {
        qr_flagset_clear(&u->flags);
    }
    return 0;
}

static int on_fetch(qr_mbox_engine *e, const qr_resp_fetch *f)
{
    int has_modseq = (f->present & QR_FETCH_MODSEQ) != 0;
    int known = (f->present & QR_FETCH_FLAGS) != 0;
    int rc;

    if (e->cur.exists_known && f->seq > e->cur.exists)
        e->cur.exists = f->seq;
    if (!(f->present & QR_FETCH_UID))
        return 0; /* RFC 7162 §3.2.4: nothing to attribute it to */
    saw_uid(e, f->uid);
    if (has_modseq && f->modseq > e->max_modseq)
        e->max_modseq = f->modseq;
    if (has_modseq && f->modseq > e->cur.highestmodseq)
        e->cur.highestmodseq = f->modseq;
    if (qr_uidset_contains(e->gone, f->uid))
        return 0; /* expunge wins */
    if (f->uid >= base_uidnext(e)) {
        rc = qr_uidset_add(e->newuids, f->uid);
        if (rc < 0)
            return fail(e, rc, "FETCH");
        return check_ranges(e, e->newuids, "FETCH");
    }
    if (!known && !has_modseq)
        return 0;
    if (known) {
        rc = parse_flags(e, &f->flags);
        if (rc < 0)
            return rc;
    }
    return record_update(e, f->uid, has_modseq ? f->modseq : 0, known);
}

/* Phases AWAIT_CLOSED and CLOSED: only count the [CLOSED] codes. */
static int is_closed(const qr_resp *resp)
{
    return (resp->kind == QR_RESP_COND || resp->kind == QR_RESP_TAGGED) &&
           resp->cond == QR_COND_OK && resp->text.code.kind == QR_CODE_CLOSED;
}

int qr_mbox_engine_feed(qr_mbox_engine *e, const qr_resp *resp)
{
    if (e == NULL || resp == NULL)
        return QR_EINVAL;
    if (e->failed)
        return e->failed;
    if (e->phase == QR_MBOX_CLOSED)
        return 0;
    if (e->phase == QR_MBOX_AWAIT_CLOSED) {
        if (is_closed(resp) && --e->closed_wait == 0)
            e->phase = QR_MBOX_ACTIVE;
        return 0;
    }
    switch (resp->kind) {
    case QR_RESP_COND:
    case QR_RESP_TAGGED:
        return on_code(e, resp);
    case QR_RESP_EXISTS:
        on_exists(e, resp->u.number);
        return 0;
    case QR_RESP_EXPUNGE:
        on_expunge(e);
        return 0;
    case QR_RESP_VANISHED:
        return on_vanished(e, &resp->u.vanished);
    case QR_RESP_FETCH:
        return on_fetch(e, &resp->u.fetch);
    default:
        return 0;
    }
}

int qr_mbox_engine_take(qr_mbox_engine *e, unsigned int flags, qr_changes **out)
{
    int rc;

    if (out)
        *out = NULL;
    if (e == NULL || out == NULL || (flags & ~QR_MBOX_TAKE_ALL))
        return QR_EINVAL;
    if (e->failed)
        return e->failed;
    rc = qr_changes_build(out, &e->upd, e->gone, e->newuids, &e->base, &e->cur, e->cflags,
                          (flags & QR_MBOX_TAKE_ALL) != 0);
    if (rc < 0)
        return rc; /* not sticky: nothing changed */
    qr_updtable_free(&e->upd);
    qr_uidset_clear(e->gone);
    qr_uidset_clear(e->newuids);
    e->base = e->cur;
    e->cflags = 0;
    return 0;
}

const qr_mbox_state *qr_mbox_engine_state(const qr_mbox_engine *e)
{
    return e ? &e->cur : NULL;
}

qr_mbox_phase qr_mbox_engine_phase(const qr_mbox_engine *e)
{
    return e ? e->phase : QR_MBOX_CLOSED;
}

const qr_error *qr_mbox_engine_last_error(const qr_mbox_engine *e)
{
    return e ? qr_errslot_get(&e->err) : NULL;
}
