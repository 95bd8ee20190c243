/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-server state of the sync engine and the session tap feeding it
 * (imap-client.md §8.3, §8.4, §9): CACHE/PCACHE per mailbox, the selected
 * mailbox with its pending VANISHED UIDs, modified table and new-messages
 * counter.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "session/session_p.h"
#include "sync/sync_p.h"
#include "util/alloc.h"

int sy_side_init(sy_side *sd, struct qr_sync *s, int which, qr_conn *conn)
{
    const char *ref = s->o.list_reference[which];

    memset(sd, 0, sizeof(*sd));
    sd->sync = s;
    sd->which = which;
    sd->name = which == QR_SYNC_LOCAL ? "local" : "remote";
    sd->conn = conn;
    sd->delim = -2;
    sd->sel_idx = SIZE_MAX;
    sd->ref = qr_strdup(ref != NULL ? ref : "");
    if (sd->ref == NULL || qr_uidset_new(&sd->vanished) != 0)
        return QR_ENOMEM;
    sd->reflen = strlen(sd->ref);
    return 0;
}

void sy_side_dispose(sy_side *sd)
{
    size_t i;

    if (sd->s != NULL)
        qr_session_set_tap(sd->s, NULL, NULL);
    for (i = 0; i < sd->nlisted; i++)
        qr_free(sd->listed[i].name);
    qr_free(sd->listed);
    for (i = 0; i < sd->ncache; i++)
        qr_free(sd->cache[i].name);
    qr_free(sd->cache);
    qr_free(sd->chash);
    qr_free(sd->ref);
    qr_free(sd->sel);
    qr_free(sd->sel_next);
    qr_uidset_free(sd->vanished);
    qr_uidset_free(sd->store_seen);
    qr_uidset_free(sd->expunge_seen);
    sy_flagmap_dispose(&sd->mods);
    memset(sd, 0, sizeof(*sd));
}

static size_t name_hash(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211u;
    return (size_t)h;
}

/* The slot of name in chash: its entry, or the empty slot to take. */
static size_t *hash_slot(sy_side *sd, const char *name, size_t len)
{
    size_t mask = sd->chash_cap - 1, i = name_hash(name, len) & mask;

    for (;; i = (i + 1) & mask) {
        size_t e = sd->chash[i];

        if (e == 0 ||
            (sd->cache[e - 1].len == len && memcmp(sd->cache[e - 1].name, name, len) == 0))
            return &sd->chash[i];
    }
}

/* Room for one more entry in chash (rebuilt at twice the size). */
static int hash_grow(sy_side *sd)
{
    size_t cap = sd->chash_cap ? sd->chash_cap : 32, i;
    size_t *old = sd->chash;

    if (sd->chash != NULL && (sd->ncache + 1) * 2 <= sd->chash_cap)
        return 0;
    while ((sd->ncache + 1) * 2 > cap)
        cap *= 2;
    sd->chash = qr_calloc(cap, sizeof(*sd->chash));
    if (sd->chash == NULL) {
        sd->chash = old;
        return QR_ENOMEM;
    }
    qr_free(old);
    sd->chash_cap = cap;
    for (i = 0; i < sd->ncache; i++)
        *hash_slot(sd, sd->cache[i].name, sd->cache[i].len) = i + 1;
    return 0;
}

/* CACHE/PCACHE entries by server name, through a hash: the tap looks one
 * up for nearly every response, and there may be thousands of mailboxes. */
sy_cache *sy_cache_get(sy_side *sd, const char *name, size_t len, int create)
{
    size_t *slot;
    sy_cache *c;

    if (sd->chash != NULL) {
        slot = hash_slot(sd, name, len);
        if (*slot != 0)
            return &sd->cache[*slot - 1];
    }
    if (!create || hash_grow(sd) != 0)
        return NULL;
    if (sd->ncache == sd->acache) {
        size_t na = sd->acache ? sd->acache * 2 : 16;
        sy_cache *nv = qr_reallocarray(sd->cache, na, sizeof(*nv));

        if (nv == NULL)
            return NULL;
        sd->cache = nv;
        sd->acache = na;
    }
    c = &sd->cache[sd->ncache];
    memset(c, 0, sizeof(*c));
    c->name = qr_memdup0(name, len);
    if (c->name == NULL)
        return NULL;
    c->len = len;
    sd->ncache++;
    *hash_slot(sd, name, len) = sd->ncache;
    return c;
}

static int uidvalidity_changed(sy_side *sd, const sy_cache *c, uint32_t old, uint32_t nw)
{
    return sy_fail(sd->sync, QR_EUIDVALIDITY, sy_comp(sd), NULL,
                   "UIDVALIDITY changed! (%" PRIu32 " != %" PRIu32
                   ")  Need to invalidate the UID cache for %s.",
                   old, nw, c->name);
}

int sy_cache_uidvalidity(sy_side *sd, sy_cache *c, uint32_t v)
{
    if ((c->has & SY_UIDVALIDITY) && c->uidvalidity != v)
        return uidvalidity_changed(sd, c, c->uidvalidity, v);
    c->uidvalidity = v;
    c->has |= SY_UIDVALIDITY;
    if (!(c->phas & SY_UIDVALIDITY)) {
        c->puidvalidity = v;
        c->phas |= SY_UIDVALIDITY;
    }
    return 0;
}

void sy_log_pcache(sy_side *sd, const sy_cache *c)
{
    char buf[160];
    int n = 0;

    if (sd->sync->o.log_level < QR_LOG_DEBUG)
        return;
    buf[0] = '\0';
    if (c->phas & SY_UIDNEXT)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%sUIDNEXT %" PRIu32, n ? " " : "",
                      c->puidnext);
    if (c->phas & SY_HMS)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%sHIGHESTMODSEQ %" PRIu64, n ? " " : "",
                      c->phms);
    if (c->phas & SY_UIDVALIDITY)
        snprintf(buf + n, sizeof(buf) - (size_t)n, "%sUIDVALIDITY %" PRIu32, n ? " " : "",
                 c->puidvalidity);
    sy_log(sd->sync, QR_LOG_DEBUG, sy_comp(sd), sd->sel, 0, "Update last clean state for %s: (%s)",
           c->name, buf);
}

int sy_pcache_set(sy_side *sd, sy_cache *c, unsigned has, uint32_t uidvalidity, uint32_t uidnext,
                  uint64_t hms)
{
    if (has & SY_UIDVALIDITY) {
        if ((c->phas & SY_UIDVALIDITY) && c->puidvalidity != uidvalidity)
            return uidvalidity_changed(sd, c, c->puidvalidity, uidvalidity);
        c->puidvalidity = uidvalidity;
        c->phas |= SY_UIDVALIDITY;
    }
    if (has & SY_UIDNEXT) {
        c->puidnext = uidnext;
        c->phas |= SY_UIDNEXT;
    }
    if (has & SY_HMS) {
        c->phms = hms;
        c->phas |= SY_HMS;
    }
    sy_log_pcache(sd, c);
    return 0;
}

int sy_is_dirty(sy_side *sd, const char *name, size_t len)
{
    sy_cache *c = sy_cache_get(sd, name, len, 0);

    /* the selected mailbox: new messages announced, or changes pending
     * (a VANISHED or FETCH that moved no counter, e.g. from NOTIFY) */
    if (sd->sel != NULL && strlen(sd->sel) == len && memcmp(sd->sel, name, len) == 0 &&
        (sd->new_mails > 0 || qr_uidset_count(sd->vanished) > 0 || sd->mods.n > 0))
        return 1;
    if (c == NULL || c->phas == 0)
        return 1;
    if (!(c->phas & SY_UIDNEXT) || c->puidnext == 0 || !(c->has & SY_UIDNEXT) ||
        c->uidnext != c->puidnext)
        return 1;
    if (!(c->phas & SY_HMS) || c->phms == 0 || !(c->has & SY_HMS) || c->hms != c->phms)
        return 1;
    return 0;
}

sy_cache *sy_selected(sy_side *sd)
{
    sy_cache *c;

    if (sd->sel == NULL)
        return NULL;
    /* every response of the selected mailbox comes here: look it up once */
    if (sd->sel_idx < sd->ncache)
        return &sd->cache[sd->sel_idx];
    c = sy_cache_get(sd, sd->sel, strlen(sd->sel), 1);
    if (c != NULL)
        sd->sel_idx = (size_t)(c - sd->cache);
    return c;
}

void sy_clear_pending(sy_side *sd)
{
    qr_uidset_clear(sd->vanished);
    sy_flagmap_dispose(&sd->mods);
    sd->new_mails = 0;
    sd->nomodseq = 0;
    sd->uidnotsticky = 0;
}

int sy_mods_record(sy_side *sd, uint32_t uid, uint64_t modseq, const char *flags, size_t flen)
{
    sy_mod *e = sy_flagmap_find(&sd->mods, uid);
    char *f = NULL;

    if (e != NULL && !(e->modseq < modseq || (e->modseq == modseq && e->flags == NULL)))
        return 0;
    if (flags != NULL && (f = qr_memdup0(flags, flen)) == NULL)
        return QR_ENOMEM;
    if (sy_flagmap_put(&sd->mods, uid, modseq, f) != 0) {
        qr_free(f);
        return QR_ENOMEM;
    }
    return 0;
}

int sy_check_selected(sy_side *sd)
{
    if (sd->nomodseq && sd->sel != NULL)
        return sy_fail(sd->sync, QR_ERROR, sy_comp(sd), sd->sel,
                       "Mailbox %s doesn't support MODSEQ.", sd->sel);
    if (sd->uidnotsticky && sd->sel != NULL)
        return sy_fail(sd->sync, QR_ERROR, sy_comp(sd), sd->sel,
                       "Mailbox %s does not support persistent UIDs.", sd->sel);
    return 0;
}

/* Switch to the mailbox a SELECT announced (at [CLOSED] or at once). */
void sy_switch(sy_side *sd)
{
    qr_free(sd->sel);
    sd->sel = sd->sel_next;
    sd->sel_next = NULL;
    sd->sel_idx = SIZE_MAX;
    sy_clear_pending(sd);
    if (sd->sel != NULL) {
        sy_cache *c = sy_selected(sd);

        if (c != NULL)
            c->has &= ~SY_EXISTS;
    }
}

static int tap_code(sy_side *sd, const qr_resp_code *code)
{
    sy_cache *c;

    if (code->kind == QR_CODE_NOTIFICATIONOVERFLOW) {
        /* ours: a full pass instead of the reference's exit */
        sd->sync->all_dirty = 1;
        sd->sync->relist = 1;
        return 0;
    }
    if (code->kind == QR_CODE_OTHER && code->name.ptr != NULL &&
        strcasecmp(code->name.ptr, "BADEVENT") == 0)
        return sy_fail(sd->sync, QR_EPROTO, sy_comp(sd), NULL, "[BADEVENT %s]",
                       code->args.ptr ? code->args.ptr : "");

    if (code->kind == QR_CODE_CLOSED) {
        if (sd->closed_wait > 0 && --sd->closed_wait == 0)
            sy_switch(sd);
        return 0;
    }
    c = sy_selected(sd);
    if (c == NULL)
        return 0;
    switch (code->kind) {
    case QR_CODE_UIDVALIDITY:
        return sy_cache_uidvalidity(sd, c, (uint32_t)code->number);
    case QR_CODE_UIDNEXT:
        c->uidnext = (uint32_t)code->number;
        c->has |= SY_UIDNEXT;
        break;
    case QR_CODE_HIGHESTMODSEQ:
        c->hms = code->number;
        c->has |= SY_HMS;
        break;
    case QR_CODE_NOMODSEQ:
        sd->nomodseq = 1;
        break;
    case QR_CODE_UIDNOTSTICKY:
        sd->uidnotsticky = 1;
        break;
    default:
        break;
    }
    return 0;
}

static int tap_fetch(sy_side *sd, const qr_resp_fetch *f)
{
    sy_cache *c = sy_selected(sd);
    char *flags;
    int rc;

    if (c == NULL)
        return 0;
    if (!(c->has & SY_EXISTS) || f->seq > c->exists) {
        c->exists = f->seq;
        c->has |= SY_EXISTS;
    }
    if (f->present & QR_FETCH_UID) {
        if (!(c->has & SY_UIDNEXT) || c->uidnext < f->uid + (uint64_t)1) {
            c->uidnext = f->uid == UINT32_MAX ? UINT32_MAX : f->uid + 1;
            c->has |= SY_UIDNEXT;
        }
        if (sd->store_seen != NULL && qr_uidset_add(sd->store_seen, f->uid) != 0)
            return QR_ENOMEM;
    }
    if (f->present & QR_FETCH_MODSEQ) {
        if (!(c->has & SY_HMS) || c->hms < f->modseq) {
            c->hms = f->modseq;
            c->has |= SY_HMS;
        }
    }
    if (f->nbodies > 0 || f->envelope != NULL || !(f->present & QR_FETCH_UID))
        return 0;
    if (!(f->present & QR_FETCH_FLAGS))
        return sy_mods_record(sd, f->uid, f->present & QR_FETCH_MODSEQ ? f->modseq : 0, NULL, 0);
    flags = sy_flags_normalise(f->flags.items, f->flags.count);
    if (flags == NULL)
        return QR_ENOMEM;
    rc = sy_mods_record(sd, f->uid, f->present & QR_FETCH_MODSEQ ? f->modseq : 0, flags,
                        strlen(flags));
    qr_free(flags);
    return rc;
}

static int tap_status(sy_side *sd, const qr_resp_status *st)
{
    const char *name = st->mailbox.ptr;
    size_t len = st->mailbox.len;
    sy_cache *c;

    if (name == NULL)
        return 0;
    if (len == 5 && strncasecmp(name, "INBOX", 5) == 0)
        name = "INBOX";
    c = sy_cache_get(sd, name, len, 1);
    if (c == NULL)
        return QR_ENOMEM;
    if (st->present & QR_STATUS_UIDVALIDITY) {
        int rc = sy_cache_uidvalidity(sd, c, st->uidvalidity);

        if (rc != 0)
            return rc;
    }
    if (st->present & QR_STATUS_UIDNEXT) {
        c->uidnext = st->uidnext;
        c->has |= SY_UIDNEXT;
    }
    if (st->present & QR_STATUS_HIGHESTMODSEQ) {
        c->hms = st->highestmodseq;
        c->has |= SY_HMS;
    }
    return 0;
}

int sy_tap(qr_session *ss, const qr_resp *r, void *payload)
{
    sy_side *sd = payload;
    sy_cache *c;
    int rc = 0;

    (void)ss;
    switch (r->kind) {
    case QR_RESP_COND:
    case QR_RESP_TAGGED:
        if (r->text.code.kind != QR_CODE_NONE)
            rc = tap_code(sd, &r->text.code);
        break;
    case QR_RESP_EXISTS:
        c = sy_selected(sd);
        if (c != NULL) {
            if ((c->has & SY_EXISTS) && r->u.number > c->exists)
                sd->new_mails += r->u.number - c->exists;
            c->exists = r->u.number;
            c->has |= SY_EXISTS;
        }
        break;
    case QR_RESP_EXPUNGE:
        c = sy_selected(sd);
        if (c != NULL && (c->has & SY_EXISTS) && c->exists > 0)
            c->exists--;
        break;
    case QR_RESP_VANISHED:
        if (sd->sel == NULL)
            break;
        if (qr_uidset_union(sd->vanished, r->u.vanished.set) != 0)
            return QR_ENOMEM;
        if (sd->expunge_seen != NULL && qr_uidset_union(sd->expunge_seen, r->u.vanished.set) != 0)
            return QR_ENOMEM;
        if (!r->u.vanished.earlier) {
            uint64_t n = qr_uidset_count(r->u.vanished.set);

            c = sy_selected(sd);
            if (c != NULL && (c->has & SY_EXISTS))
                c->exists = c->exists > n ? c->exists - (uint32_t)n : 0;
        }
        break;
    case QR_RESP_FETCH:
        rc = tap_fetch(sd, &r->u.fetch);
        break;
    case QR_RESP_STATUS:
        rc = tap_status(sd, &r->u.status);
        break;
    case QR_RESP_LIST:
        /* NOTIFY (MailboxName SubscriptionChange): list again next pass */
        if (sd->sync->idling)
            sd->sync->relist = 1;
        break;
    default:
        break;
    }
    if (rc == QR_ENOMEM)
        sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    /* failures are recorded in the sync; the session goes on */
    return 0;
}
