/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * select.c: SELECT and EXAMINE (plain, CONDSTORE, QRESYNC), UNSELECT and
 * CLOSE.
 *
 * qr_imap_select() claims every untagged kind a SELECT brings (FLAGS,
 * EXISTS, RECENT, untagged OK with codes, VANISHED, FETCH) and collects
 * UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ or NOMODSEQ, EXISTS, RECENT, FLAGS
 * and PERMANENTFLAGS; READ-ONLY/READ-WRITE come from the tagged code. An
 * untagged `OK [CLOSED]` (RFC 7162 §3.2.11) ends the previous mailbox:
 * what was collected before it is dropped. Every untagged response is
 * also passed, unchanged, to the caller's on_untagged (so a
 * qr_mbox_engine can fold the VANISHED (EARLIER) and FETCH of a QRESYNC
 * SELECT). The typed completion follows the tagged response.
 */
#include "config.h"

#include <string.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_select() call. */
typedef struct select_ctx {
    qr_imap_select_result r;         /* the public view */
    char **flags;                    /* owned FLAGS */
    size_t nflags;                   /* their number */
    char **perm;                     /* owned PERMANENTFLAGS */
    size_t nperm;                    /* their number */
    int nomem;                       /* an allocation failed */
    qr_session_untagged_fn untagged; /* user hook */
    qr_imap_select_fn done;          /* user completion */
    void *payload;                   /* user payload */
} select_ctx;

static void select_reset(select_ctx *sc)
{
    qr_cmds_strv_free(sc->flags, sc->nflags);
    qr_cmds_strv_free(sc->perm, sc->nperm);
    sc->flags = sc->perm = NULL;
    sc->nflags = sc->nperm = 0;
    memset(&sc->r, 0, sizeof(sc->r));
}

static void select_code(select_ctx *sc, const qr_resp_code *c)
{
    switch (c->kind) {
    case QR_CODE_UIDVALIDITY:
        sc->r.uidvalidity = (uint32_t)c->number;
        sc->r.present |= QR_SELECT_HAS_UIDVALIDITY;
        break;
    case QR_CODE_UIDNEXT:
        sc->r.uidnext = (uint32_t)c->number;
        sc->r.present |= QR_SELECT_HAS_UIDNEXT;
        break;
    case QR_CODE_HIGHESTMODSEQ:
        sc->r.highestmodseq = c->number;
        sc->r.present |= QR_SELECT_HAS_HIGHESTMODSEQ;
        break;
    case QR_CODE_NOMODSEQ:
        sc->r.nomodseq = 1;
        break;
    case QR_CODE_PERMANENTFLAGS:
        qr_cmds_strv_free(sc->perm, sc->nperm);
        if (qr_cmds_strv(&c->list, &sc->perm, &sc->nperm) != 0)
            sc->nomem = 1;
        else
            sc->r.present |= QR_SELECT_HAS_PERMFLAGS;
        break;
    case QR_CODE_CLOSED:
        select_reset(sc);
        break;
    default:
        break;
    }
}

static int select_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    select_ctx *sc = payload;

    switch (r->kind) {
    case QR_RESP_COND:
        if (r->cond == QR_COND_OK)
            select_code(sc, &r->text.code);
        break;
    case QR_RESP_FLAGS:
        qr_cmds_strv_free(sc->flags, sc->nflags);
        if (qr_cmds_strv(&r->u.strlist, &sc->flags, &sc->nflags) != 0)
            sc->nomem = 1;
        else
            sc->r.present |= QR_SELECT_HAS_FLAGS;
        break;
    case QR_RESP_EXISTS:
        sc->r.exists = r->u.number;
        sc->r.present |= QR_SELECT_HAS_EXISTS;
        break;
    case QR_RESP_RECENT:
        sc->r.recent = r->u.number;
        sc->r.present |= QR_SELECT_HAS_RECENT;
        break;
    default:
        break;
    }
    return sc->untagged != NULL ? sc->untagged(s, r, sc->payload) : 0;
}

static int select_done(qr_session *s, const qr_session_result *res, void *payload)
{
    select_ctx *sc = payload;
    qr_session_result oom = {QR_ENOMEM, NULL, NULL, "out of memory", 13};
    int rc = 0;

    if (res->code != NULL && res->code->kind == QR_CODE_READ_ONLY)
        sc->r.read_only = 1;
    sc->r.flags = (const char *const *)sc->flags;
    sc->r.nflags = sc->nflags;
    sc->r.permanentflags = (const char *const *)sc->perm;
    sc->r.npermanentflags = sc->nperm;
    if (sc->nomem && res->status == 0) {
        oom.tag = res->tag;
        res = &oom;
    }
    if (sc->done != NULL)
        rc = sc->done(s, res, &sc->r, sc->payload);
    select_reset(sc);
    qr_free(sc);
    return rc;
}

int qr_imap_select(qr_session *s, const char *mailbox, unsigned int flags,
                   const qr_qresync_params *qr, qr_session_untagged_fn on_untagged,
                   qr_imap_select_fn done, void *payload)
{
    const uint32_t claims = QR_CLAIM(QR_RESP_COND) | QR_CLAIM(QR_RESP_FLAGS) |
                            QR_CLAIM(QR_RESP_EXISTS) | QR_CLAIM(QR_RESP_RECENT) |
                            QR_CLAIM(QR_RESP_VANISHED) | QR_CLAIM(QR_RESP_FETCH);
    int use_qr = qr != NULL && qr->use_qresync;
    select_ctx *sc;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || mailbox == NULL || (flags & ~3u) != 0 ||
        (use_qr && (flags & QR_SELECT_CONDSTORE)))
        return QR_EINVAL;
    sc = qr_calloc(1, sizeof(*sc));
    if (sc == NULL)
        return QR_ENOMEM;
    sc->untagged = on_untagged;
    sc->done = done;
    sc->payload = payload;
    rc = qr_cmd_new(&cmd, (flags & QR_SELECT_EXAMINE) ? "EXAMINE" : "SELECT", 0);
    if (rc == 0) {
        qr_cmd_add_mailbox(cmd, mailbox);
        if (flags & QR_SELECT_CONDSTORE)
            qr_cmd_add_raw(cmd, "(CONDSTORE)");
        if (use_qr && qr_cmd_error(cmd) == 0)
            qr_mbox_qresync_append(cmd, qr);
        rc = qr_cmds_submit(s, cmd, claims, NULL, select_done, select_untagged, sc);
    }
    if (rc != 0)
        qr_free(sc);
    return rc;
}

int qr_imap_unselect(qr_session *s, int close, qr_session_done_fn done, void *payload)
{
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    rc = qr_cmd_new(&cmd, close ? "CLOSE" : "UNSELECT", 0);
    if (rc != 0)
        return rc;
    return qr_cmds_submit(s, cmd, 0, NULL, done, NULL, payload);
}
