/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.c: UID STORE (with UNCHANGEDSINCE) and UID EXPUNGE.
 *
 * UID STORE claims FETCH (the flags the server echoes unless .SILENT, and
 * with CONDSTORE the FETCH of messages whose modseq moved) and hands each
 * to on_fetch. Its typed completion reports the `[MODIFIED set]` code of
 * the tagged response (RFC 7162 §3.1.3): the UIDs whose UNCHANGEDSINCE
 * test failed. The set is the parser's, borrowed for the call.
 *
 * UID EXPUNGE (UIDPLUS) claims EXPUNGE and VANISHED and passes them on.
 */
#include "config.h"

#include <string.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_uid_store() call. */
typedef struct store_ctx {
    int (*on_fetch)(qr_session *s, const qr_resp_fetch *fetch, void *payload); /* user hook */
    qr_imap_store_fn done;                                                     /* user completion */
    void *payload;                                                             /* user payload */
} store_ctx;

static int store_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    store_ctx *sc = payload;

    if (r->kind == QR_RESP_FETCH && sc->on_fetch != NULL)
        return sc->on_fetch(s, &r->u.fetch, sc->payload);
    return 0;
}

static int store_done(qr_session *s, const qr_session_result *res, void *payload)
{
    store_ctx *sc = payload;
    const qr_uidset *modified = NULL;
    int rc = 0;

    if (res->code != NULL && res->code->kind == QR_CODE_MODIFIED)
        modified = res->code->set;
    if (sc->done != NULL)
        rc = sc->done(s, res, modified, sc->payload);
    qr_free(sc);
    return rc;
}

static void add_store_args(qr_cmd *cmd, const qr_imap_store_options *o)
{
    static const char *const names[2][3] = {
        {"FLAGS", "+FLAGS", "-FLAGS"},
        {"FLAGS.SILENT", "+FLAGS.SILENT", "-FLAGS.SILENT"},
    };

    if (o->use_unchangedsince) {
        qr_cmd_list_open(cmd);
        qr_cmd_add_atom(cmd, "UNCHANGEDSINCE");
        qr_cmd_add_number64(cmd, o->unchangedsince);
        qr_cmd_list_close(cmd);
    }
    qr_cmd_add_atom(cmd, names[o->silent ? 1 : 0][o->mode]);
    qr_cmd_add_flags(cmd, o->flags, o->nflags);
}

int qr_imap_uid_store(qr_session *s, const qr_uidset *set, const qr_imap_store_options *opts,
                      qr_imap_store_fn done, void *payload)
{
    store_ctx *sc;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || set == NULL || opts == NULL || qr_uidset_count(set) == 0 ||
        opts->version != QR_IMAP_STORE_OPTIONS_VERSION || (unsigned int)opts->mode > 2 ||
        (opts->nflags > 0 && opts->flags == NULL))
        return QR_EINVAL;
    sc = qr_calloc(1, sizeof(*sc));
    if (sc == NULL)
        return QR_ENOMEM;
    sc->on_fetch = opts->on_fetch;
    sc->done = done;
    sc->payload = payload;
    rc = qr_cmd_new(&cmd, "UID STORE", 0);
    if (rc == 0) {
        qr_cmd_add_uidset(cmd, set);
        add_store_args(cmd, opts);
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_FETCH), NULL, store_done, store_untagged, sc);
    }
    if (rc != 0)
        qr_free(sc);
    return rc;
}

int qr_imap_uid_expunge(qr_session *s, const qr_uidset *set, qr_session_untagged_fn on_untagged,
                        qr_session_done_fn done, void *payload)
{
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || set == NULL || qr_uidset_count(set) == 0)
        return QR_EINVAL;
    if (!qr_session_has_cap(s, QR_CAP_UIDPLUS))
        return QR_ECAPABILITY;
    rc = qr_cmd_new(&cmd, "UID EXPUNGE", 0);
    if (rc != 0)
        return rc;
    qr_cmd_add_uidset(cmd, set);
    return qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_EXPUNGE) | QR_CLAIM(QR_RESP_VANISHED), NULL,
                          done, on_untagged, payload);
}
