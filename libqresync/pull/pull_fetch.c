/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One pull (spec/pullimap.md §4.2, imap-client.md §10.6):
 *
 *   ignore = the file's list; PCACHE.UIDNEXT = the file's UIDNEXT
 *   repeat:
 *       fetch new messages: UID FETCH [since:4294967295 minus ignore]
 *           (ENVELOPE INTERNALDATE BODY.PEEK[]), each handled in turn;
 *           PCACHE.UIDNEXT = max(CACHE.UIDNEXT, last UID + 1), again while
 *           CACHE.UIDNEXT moved meanwhile
 *       UID STORE (ignore + delivered) +FLAGS.SILENT (\Seen), chunked
 *   until no new message was announced
 *   the end-of-pull callback (pullimap's QUIT)
 *   the file: UIDNEXT at byte 4, cut to 8 bytes
 *
 * Bodies stream into memory (up to 1 MiB) or an unnamed spill file, so
 * memory stays flat whatever their size. When a FETCH response is complete
 * its message is parked and the session's input held; pl_wait() then
 * returns to the engine, which logs `UID U from <SENDER> (DATE)`, calls the
 * deliver callback, appends the UID to the file (4 bytes, O_DSYNC) and
 * releases the input. A crash after the delivery but before the append
 * delivers the message again; after the append it does not (the UID is in
 * the next run's ignore list).
 *
 * Temporary failures (the callback's QR_EAGAIN, beyond the reference): the
 * message is neither recorded nor marked \Seen, and the file's UIDNEXT
 * becomes the lowest deferred UID, with the UIDs delivered above it kept in
 * the file's list, so the next pull (or the next run, or the Perl tool)
 * fetches from there, skips those and retries the deferred ones.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "pull/pull_p.h"
#include "relay/relay_p.h"
#include "session/session_p.h"
#include "util/alloc.h"

#define PL_SPILL_MIN 1048576u /* bodies above this go to a temporary file */

int pl_rec_add(qr_pull *p, uint32_t uid)
{
    if (p->nrec == p->arec) {
        size_t na = p->arec ? p->arec * 2 : 64;
        uint32_t *nv = qr_reallocarray(p->rec, na, sizeof(*nv));

        if (nv == NULL)
            return QR_ENOMEM;
        p->rec = nv;
        p->arec = na;
    }
    p->rec[p->nrec++] = uid;
    return 0;
}

static void body_dispose(pl_body *b)
{
    qr_free(b->mem);
    if (b->fd >= 0)
        close(b->fd);
    memset(b, 0, sizeof(*b));
    b->fd = -1;
}

static void release_input(qr_pull *p)
{
    if (p->held && p->s != NULL)
        qr_session_hold_input(p->s, 0);
    p->held = 0;
}

void pl_fetch_reset(qr_pull *p)
{
    body_dispose(&p->body);
    body_dispose(&p->ready.body);
    qr_free(p->ready.date);
    qr_free(p->ready.sender);
    p->ready.date = p->ready.sender = NULL;
    p->ready.set = 0;
    release_input(p);
}

/* --- bodies ---------------------------------------------------------------- */

static int body_begin(qr_session *s, const qr_body_info *info, void *payload)
{
    qr_pull *p = payload;
    pl_body *b = &p->body;

    (void)s;
    body_dispose(b);
    if (p->failed)
        return 0;
    b->active = 1;
    b->size = info->nil ? 0 : info->size;
    if (b->size > PL_SPILL_MIN) {
        b->fd = qr_spill_open(NULL);
        if (b->fd < 0)
            pl_fail(p, QR_EIO, "cannot create a temporary file for a %" PRIu64 "-byte message",
                    b->size);
    } else if (b->size > 0 && (b->mem = qr_malloc((size_t)b->size)) == NULL) {
        pl_fail(p, QR_ENOMEM, "out of memory");
    }
    return 0; /* a failure is recorded: pl_wait() stops on it */
}

static int body_data(qr_session *s, const char *data, size_t len, void *payload)
{
    qr_pull *p = payload;
    pl_body *b = &p->body;
    size_t i;

    (void)s;
    if (!b->active || p->failed)
        return 0;
    if (b->have + len > b->size) {
        pl_fail(p, QR_EPROTO, "message body longer than announced");
        return 0;
    }
    if (b->fd < 0)
        memcpy(b->mem + b->have, data, len);
    else if (qr_spill_write(b->fd, data, len) != 0) {
        pl_fail(p, QR_EIO, "writing a temporary file failed");
        return 0;
    }
    for (i = 0; i < len && !b->eightbit; i++)
        b->eightbit = (unsigned char)data[i] > 0x7f;
    b->have += len;
    return 0;
}

static int body_end(qr_session *s, void *payload)
{
    qr_pull *p = payload;

    (void)s;
    p->body.complete = p->body.active;
    return 0;
}

static int body_read(void *buf, size_t cap, size_t *got, void *payload)
{
    pl_body *b = payload;

    *got = 0;
    if (b->read_off >= b->size)
        return 0;
    if (cap > b->size - b->read_off)
        cap = (size_t)(b->size - b->read_off);
    if (b->fd >= 0) {
        if (qr_spill_read(b->fd, buf, cap, got) != 0 || *got == 0)
            return QR_EIO;
    } else {
        memcpy(buf, b->mem + b->read_off, cap);
        *got = cap;
    }
    b->read_off += *got;
    return 0;
}

/* --- FETCH responses ------------------------------------------------------- */

/* Whether a FETCH response is one of ours (§4.3: a body, or with
 * --no-delivery an ENVELOPE), for a UID of the range not handled yet. */
static int wanted(const qr_pull *p, const qr_resp_fetch *f)
{
    if (!(f->present & QR_FETCH_UID) || !qr_uidset_contains(p->fetch_set, f->uid) ||
        qr_uidset_contains(p->handled, f->uid))
        return 0;
    if (p->o.flags & QR_PULL_NO_DELIVERY)
        return (f->present & QR_FETCH_ENVELOPE) != 0;
    return f->nbodies > 0 && p->body.complete;
}

static int on_fetch(qr_session *s, const qr_resp *r, void *payload)
{
    qr_pull *p = payload;
    const qr_resp_fetch *f = &r->u.fetch;
    pl_ready *m = &p->ready;

    if (r->kind != QR_RESP_FETCH || p->failed)
        return 0;
    if ((f->present & QR_FETCH_UID) && qr_uidset_contains(p->fetch_set, f->uid) &&
        f->uid > p->maxuid)
        p->maxuid = f->uid;
    if (!wanted(p, f)) {
        body_dispose(&p->body);
        return 0;
    }
    if (p->body.have != p->body.size) {
        pl_fail(p, QR_EPROTO, "incomplete body for UID %" PRIu32, f->uid);
        return 0;
    }
    m->uid = f->uid;
    m->date = f->internaldate.ptr != NULL ? qr_memdup0(f->internaldate.ptr, f->internaldate.len)
                                          : qr_strdup("");
    m->sender = pl_envelope_sender(f->envelope);
    m->body = p->body;
    memset(&p->body, 0, sizeof(p->body));
    p->body.fd = -1;
    m->set = 1;
    if (m->date == NULL || m->sender == NULL) {
        pl_fail(p, QR_ENOMEM, "out of memory");
        return 0;
    }
    qr_session_hold_input(s, 1); /* the parser stops after this response */
    p->held = 1;
    return 0;
}

/* Record a delivered UID: the file first (durable), then the sets. */
static int record(qr_pull *p, uint32_t uid, uint64_t size)
{
    qr_errslot es;

    qr_errslot_clear(&es);
    if (pl_state_write(&p->st, 8 + 4 * (uint64_t)p->nrec, &uid, 1, &es) != 0)
        return pl_fail_quiet(p, qr_errslot_get(&es)->code, "%s", qr_errslot_get(&es)->message);
    if (pl_rec_add(p, uid) != 0 || qr_uidset_add(p->delivered, uid) != 0)
        return pl_fail(p, QR_ENOMEM, "out of memory");
    p->stats.delivered++;
    p->stats.delivered_bytes += size;
    return 0;
}

static int deliver(qr_pull *p, pl_ready *m)
{
    qr_pull_message msg;

    if (p->o.flags & QR_PULL_NO_DELIVERY)
        return 0;
    memset(&msg, 0, sizeof(msg));
    msg.uid = m->uid;
    msg.internaldate = m->date;
    msg.sender = m->sender;
    msg.size = m->body.size;
    msg.eightbit = m->body.eightbit;
    msg.read = body_read;
    msg.read_payload = &m->body;
    if (m->body.fd >= 0 && qr_spill_rewind(m->body.fd) != 0)
        return pl_fail(p, QR_EIO, "reading a temporary file failed");
    return p->o.deliver(&msg, p->o.payload);
}

int pl_handle_ready(qr_pull *p)
{
    pl_ready *m = &p->ready;
    uint32_t uid = m->uid;
    int rc;

    pl_log(p, QR_LOG_INFO, "UID %" PRIu32 " from <%s> (%s)", uid, m->sender, m->date);
    rc = deliver(p, m);
    if (!p->failed && qr_uidset_add(p->handled, uid) != 0)
        rc = pl_fail(p, QR_ENOMEM, "out of memory");
    if (p->failed) {
        /* nothing more */
    } else if (rc == 0) {
        record(p, uid, m->body.size);
    } else if (rc == QR_EAGAIN) {
        if (p->deferred_min == 0 || uid < p->deferred_min)
            p->deferred_min = uid;
        p->stats.deferred++;
    } else {
        pl_fail_quiet(p, rc < 0 ? rc : QR_EUSER, "delivery of UID %" PRIu32 " failed (%s)", uid,
                      qr_strerror(rc < 0 ? rc : QR_EUSER));
    }
    pl_fetch_reset(p);
    return p->failed;
}

/* --- the pull --------------------------------------------------------------- */

static int fetch_range(qr_pull *p)
{
    qr_session_cmd_opts co = QR_SESSION_CMD_OPTS_INIT;
    const char *attrs = (p->o.flags & QR_PULL_NO_DELIVERY) ? "(ENVELOPE INTERNALDATE)"
                                                           : "(ENVELOPE INTERNALDATE BODY.PEEK[])";
    int rc;

    co.claims = QR_CLAIM(QR_RESP_FETCH);
    co.on_body_begin = body_begin;
    co.on_body_data = body_data;
    co.on_body_end = body_end;
    p->maxuid = 0;
    rc = pl_submit_pieces(p, "UID FETCH", p->fetch_set, attrs, &co, on_fetch);
    if (rc == 0)
        rc = pl_wait(p, 0);
    body_dispose(&p->body);
    return rc;
}

/* imap-client.md §10.6, interimap.md §12.7 "fetching new messages". */
static int fetch_new(qr_pull *p)
{
    const qr_range *r;
    size_t n;
    int rc;

    for (;;) {
        uint32_t since = p->p_uidnext != 0 ? p->p_uidnext : 1, unext;

        if (!p->c_has_uidnext)
            return pl_fail(p, QR_EPROTO, "Unknown UIDNEXT value - non-compliant server?");
        unext = p->c_uidnext;
        qr_uidset_clear(p->fetch_set);
        if (qr_uidset_add_range(p->fetch_set, since, UINT32_MAX) != 0 ||
            qr_uidset_difference(p->fetch_set, p->ignore) != 0)
            return pl_fail(p, QR_ENOMEM, "out of memory");
        r = qr_uidset_ranges(p->fetch_set, &n);
        if (n > 0 && (r[0].lo < unext || p->new_mails > 0)) {
            if ((rc = fetch_range(p)) != 0)
                return rc;
            if (p->maxuid >= unext)
                unext = p->maxuid == UINT32_MAX ? UINT32_MAX : p->maxuid + 1;
        }
        p->p_uidnext = unext;
        p->new_mails = 0;
        pl_log_pcache(p, 1);
        if (unext >= p->c_uidnext)
            return 0;
    }
}

/* UID STORE (ignore + delivered) +FLAGS.SILENT (\Seen), chunked. */
static int mark_seen(qr_pull *p)
{
    qr_uidset *seen = NULL;
    int rc;

    if (qr_uidset_copy(&seen, p->ignore) != 0 || qr_uidset_union(seen, p->delivered) != 0) {
        qr_uidset_free(seen);
        return pl_fail(p, QR_ENOMEM, "out of memory");
    }
    rc = 0;
    if (qr_uidset_count(seen) > 0) {
        rc = pl_submit_pieces(p, "UID STORE", seen, "+FLAGS.SILENT (\\Seen)", NULL, NULL);
        if (rc == 0)
            rc = pl_wait(p, 0);
    }
    qr_uidset_free(seen);
    return rc;
}

/* The file at the end of a pull: UIDNEXT, and the list above a deferred UID. */
static int finish(qr_pull *p)
{
    uint32_t next = p->p_uidnext;
    size_t i, k = 0;
    qr_errslot es;

    if (p->deferred_min != 0 && p->deferred_min < next)
        next = p->deferred_min;
    if (p->deferred_min != 0)
        for (i = 0; i < p->nrec; i++)
            if (p->rec[i] > next)
                p->rec[k++] = p->rec[i];
    qr_errslot_clear(&es);
    if (pl_state_finish(&p->st, next, p->rec, k, &es) != 0)
        return pl_fail_quiet(p, qr_errslot_get(&es)->code, "%s", qr_errslot_get(&es)->message);
    p->nrec = k;
    p->stored_next = next;
    return 0;
}

int pl_pull(qr_pull *p)
{
    size_t i;
    int rc;

    qr_uidset_clear(p->ignore);
    qr_uidset_clear(p->delivered);
    qr_uidset_clear(p->handled);
    for (i = 0; i < p->nrec; i++)
        if (qr_uidset_add(p->ignore, p->rec[i]) != 0)
            return pl_fail(p, QR_ENOMEM, "out of memory");
    p->deferred_min = 0;
    p->p_uidnext = p->stored_next; /* from a deferred UID on, if any */
    do {
        if ((rc = fetch_new(p)) != 0 || (rc = mark_seen(p)) != 0)
            return rc;
    } while (pl_has_new_mails(p));
    if (p->o.end != NULL && (rc = p->o.end(p->o.payload)) != 0)
        return pl_fail_quiet(p, rc < 0 ? rc : QR_EUSER, "end-of-pull callback failed (%s)",
                             qr_strerror(rc < 0 ? rc : QR_EUSER));
    return finish(p);
}
