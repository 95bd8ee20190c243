/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idle.c: IDLE (RFC 2177) and its DONE.
 *
 * IDLE does not fit the public submit: the server answers `+ idling` on
 * its own, which the session would treat as a continuation nobody waits
 * for. So this file uses the session's internal continuation hook (the
 * one AUTHENTICATE uses, session/session_p.h): the IDLE record gets an
 * `on_cont` handler that marks it idling, and qr_imap_idle_done() queues
 * the `DONE` line as that command's output with qr_queue_push_line().
 * IDLE is a barrier, so it is alone in flight, which the hook requires;
 * commands submitted meanwhile wait until its tagged OK.
 *
 * DONE asked for before the `+` arrives (even before IDLE was sent) is
 * remembered and sent as soon as the `+` comes. Between the `+` and DONE
 * the session's `idling` flag is set: the server owes nothing then, so a
 * driver's inactivity timeout does not run (qr_session_idling()).
 * Untagged responses while
 * idling (EXISTS, EXPUNGE, RECENT, FETCH, VANISHED, STATUS, untagged OK/NO
 * /BAD) go to the caller's on_untagged; the completion follows the tagged
 * response.
 */
#include "config.h"

#include "commands/commands_p.h"
#include "session/session_p.h"
#include "util/alloc.h"

/* State of one qr_imap_idle() call. */
typedef struct idle_ctx {
    int idling;                      /* the server's "+" arrived */
    int done_wanted;                 /* DONE asked for before the "+" */
    int done_sent;                   /* DONE queued */
    qr_session_untagged_fn untagged; /* user hook */
    qr_session_done_fn done;         /* user completion */
    void *payload;                   /* user payload */
} idle_ctx;

static int push_done(qr_session *s, qr_scmd *c, idle_ctx *ic)
{
    ic->done_sent = 1;
    s->idling = 0; /* the tagged reply is owed from now on */
    return qr_queue_push_line(s, c, "DONE", 4, 0);
}

static int idle_cont(qr_session *s, qr_scmd *c, const qr_resp *cont)
{
    idle_ctx *ic = c->payload;

    (void)cont;
    if (ic->idling)
        return QR_EPROTO; /* a second "+" */
    ic->idling = 1;
    s->idling = 1;
    return ic->done_wanted ? push_done(s, c, ic) : 0;
}

static int idle_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    idle_ctx *ic = payload;

    return ic->untagged != NULL ? ic->untagged(s, r, ic->payload) : 0;
}

static int idle_done_cb(qr_session *s, const qr_session_result *res, void *payload)
{
    idle_ctx *ic = payload;
    int rc;

    s->idling = 0;
    rc = ic->done != NULL ? ic->done(s, res, ic->payload) : 0;

    qr_free(ic);
    return rc;
}

/* Give the record just submitted (found by its payload) the "+" handler. */
static void mark_idle(qr_session *s, idle_ctx *ic)
{
    qr_scmd *c;

    for (c = s->pending; c != NULL; c = c->next)
        if (c->payload == ic && c->on_done == idle_done_cb)
            c->on_cont = idle_cont;
    for (c = s->inflight; c != NULL; c = c->next)
        if (c->payload == ic && c->on_done == idle_done_cb)
            c->on_cont = idle_cont;
}

int qr_imap_idle(qr_session *s, qr_session_untagged_fn on_untagged, qr_session_done_fn done,
                 void *payload)
{
    const uint32_t claims = QR_CLAIM(QR_RESP_EXISTS) | QR_CLAIM(QR_RESP_EXPUNGE) |
                            QR_CLAIM(QR_RESP_RECENT) | QR_CLAIM(QR_RESP_FETCH) |
                            QR_CLAIM(QR_RESP_VANISHED) | QR_CLAIM(QR_RESP_STATUS) |
                            QR_CLAIM(QR_RESP_FLAGS) | QR_CLAIM(QR_RESP_COND);
    qr_session_cmd_opts o = QR_SESSION_CMD_OPTS_INIT;
    idle_ctx *ic;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    if (!qr_session_has_cap(s, QR_CAP_IDLE))
        return QR_ECAPABILITY;
    ic = qr_calloc(1, sizeof(*ic));
    if (ic == NULL)
        return QR_ENOMEM;
    ic->untagged = on_untagged;
    ic->done = done;
    ic->payload = payload;
    rc = qr_cmd_new(&cmd, "IDLE", 0);
    if (rc == 0) {
        o.flags = QR_SESSION_CMD_BARRIER;
        rc = qr_cmds_submit(s, cmd, claims, &o, idle_done_cb, idle_untagged, ic);
    }
    if (rc != 0) {
        qr_free(ic);
        return rc;
    }
    mark_idle(s, ic);
    return 0;
}

/* The IDLE record of the session, in flight or pending, or NULL. */
static qr_scmd *find_idle(qr_session *s)
{
    qr_scmd *c;

    for (c = s->inflight; c != NULL; c = c->next)
        if (c->on_cont == idle_cont)
            return c;
    for (c = s->pending; c != NULL; c = c->next)
        if (c->on_cont == idle_cont)
            return c;
    return NULL;
}

int qr_imap_idle_done(qr_session *s)
{
    qr_scmd *c;
    idle_ctx *ic;

    if (s == NULL || (c = find_idle(s)) == NULL)
        return QR_EINVAL;
    ic = c->payload;
    if (ic->done_sent || ic->done_wanted)
        return 0;
    if (!ic->idling) {
        ic->done_wanted = 1;
        return 0;
    }
    return push_done(s, c, ic);
}
