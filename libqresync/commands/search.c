/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * search.c: UID SEARCH, answered as SEARCH or ESEARCH.
 *
 * The criteria are ANDed: `UID set`, `SINCE date`, `BEFORE date`,
 * `MODSEQ n`; none gives `ALL`. With `esearch` set and ESEARCH advertised
 * the command asks `RETURN (ALL)`, and the `* ESEARCH (TAG ..) UID ALL
 * set [MODSEQ n]` answer is taken; otherwise each `* SEARCH n... [(MODSEQ
 * n)]` adds its numbers. Either way the completion gets one UID set.
 */
#include "config.h"

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_uid_search() call. */
typedef struct search_ctx {
    qr_uidset *uids;        /* the UIDs found */
    int has_modseq;         /* a MODSEQ came */
    uint64_t modseq;        /* its value */
    int esearch;            /* the answer was ESEARCH */
    int nomem;              /* an allocation failed */
    qr_imap_search_fn done; /* user completion */
    void *payload;          /* user payload */
} search_ctx;

static int search_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    search_ctx *sc = payload;
    size_t i;

    (void)s;
    if (r->kind == QR_RESP_SEARCH) {
        for (i = 0; i < r->u.search.count; i++)
            if (qr_uidset_add(sc->uids, r->u.search.numbers[i]) != 0)
                sc->nomem = 1;
        if (r->u.search.has_modseq) {
            sc->has_modseq = 1;
            sc->modseq = r->u.search.modseq;
        }
    } else if (r->kind == QR_RESP_ESEARCH) {
        sc->esearch = 1;
        if (r->u.esearch.all != NULL && qr_uidset_union(sc->uids, r->u.esearch.all) != 0)
            sc->nomem = 1;
        if (r->u.esearch.present & QR_ESEARCH_MODSEQ) {
            sc->has_modseq = 1;
            sc->modseq = r->u.esearch.modseq;
        }
    }
    return 0;
}

static int search_done(qr_session *s, const qr_session_result *res, void *payload)
{
    search_ctx *sc = payload;
    qr_session_result oom = {QR_ENOMEM, NULL, NULL, "out of memory", 13};
    int rc = 0;

    if (sc->nomem && res->status == 0) {
        oom.tag = res->tag;
        res = &oom;
    }
    if (sc->done != NULL)
        rc = sc->done(s, res, sc->uids, sc->has_modseq, sc->modseq, sc->esearch, sc->payload);
    qr_uidset_free(sc->uids);
    qr_free(sc);
    return rc;
}

static int add_criteria(qr_cmd *cmd, const qr_imap_search_options *o)
{
    int any = 0;

    if (o->uids != NULL) {
        qr_cmd_add_atom(cmd, "UID");
        qr_cmd_add_uidset(cmd, o->uids);
        any = 1;
    }
    if (o->since[0] != 0) {
        qr_cmd_add_atom(cmd, "SINCE");
        qr_cmd_add_date(cmd, o->since[0], o->since[1], o->since[2]);
        any = 1;
    }
    if (o->before[0] != 0) {
        qr_cmd_add_atom(cmd, "BEFORE");
        qr_cmd_add_date(cmd, o->before[0], o->before[1], o->before[2]);
        any = 1;
    }
    if (o->modseq != 0) {
        qr_cmd_add_atom(cmd, "MODSEQ");
        qr_cmd_add_number64(cmd, o->modseq);
        any = 1;
    }
    if (!any)
        qr_cmd_add_atom(cmd, "ALL");
    return qr_cmd_error(cmd);
}

int qr_imap_uid_search(qr_session *s, const qr_imap_search_options *opts, qr_imap_search_fn done,
                       void *payload)
{
    search_ctx *sc;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || opts == NULL || opts->version != QR_IMAP_SEARCH_OPTIONS_VERSION)
        return QR_EINVAL;
    sc = qr_calloc(1, sizeof(*sc));
    if (sc == NULL)
        return QR_ENOMEM;
    rc = qr_uidset_new(&sc->uids);
    if (rc != 0) {
        qr_free(sc);
        return rc;
    }
    sc->done = done;
    sc->payload = payload;
    rc = qr_cmd_new(&cmd, "UID SEARCH", 0);
    if (rc == 0) {
        if (opts->esearch && qr_session_has_cap(s, QR_CAP_ESEARCH))
            qr_cmd_add_raw(cmd, "RETURN (ALL)");
        rc = add_criteria(cmd, opts);
        if (rc != 0)
            qr_cmd_free(cmd);
        else
            rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_SEARCH) | QR_CLAIM(QR_RESP_ESEARCH), NULL,
                                search_done, search_untagged, sc);
    }
    if (rc != 0) {
        qr_uidset_free(sc->uids);
        qr_free(sc);
    }
    return rc;
}
