/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch.c: UID FETCH with typed items, CHANGEDSINCE and VANISHED.
 *
 * The command is `UID FETCH SET (UID ITEMS...) [(CHANGEDSINCE n
 * [VANISHED])]`. It claims FETCH and VANISHED; each parsed FETCH goes to
 * the caller's on_fetch and each VANISHED to on_vanished. Message bodies
 * never pass through here as a whole: the session streams them to the
 * command's body sink, which forwards to the caller's body callbacks with
 * the caller's payload (the session would otherwise give them our
 * context). The context lives until the completion has run.
 */
#include "config.h"

#include <string.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_uid_fetch() call. */
typedef struct fetch_ctx {
    qr_imap_fetch_options o; /* the caller's callbacks (strings not kept) */
    qr_session_done_fn done; /* user completion */
    void *payload;           /* user payload */
} fetch_ctx;

static int fetch_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    fetch_ctx *fc = payload;

    if (r->kind == QR_RESP_FETCH && fc->o.on_fetch != NULL)
        return fc->o.on_fetch(s, &r->u.fetch, fc->payload);
    if (r->kind == QR_RESP_VANISHED && fc->o.on_vanished != NULL)
        return fc->o.on_vanished(s, &r->u.vanished, fc->payload);
    return 0;
}

static int fetch_body_begin(qr_session *s, const qr_body_info *info, void *payload)
{
    fetch_ctx *fc = payload;

    return fc->o.on_body_begin != NULL ? fc->o.on_body_begin(s, info, fc->payload) : 0;
}

static int fetch_body_data(qr_session *s, const char *data, size_t len, void *payload)
{
    fetch_ctx *fc = payload;

    return fc->o.on_body_data != NULL ? fc->o.on_body_data(s, data, len, fc->payload) : 0;
}

static int fetch_body_end(qr_session *s, void *payload)
{
    fetch_ctx *fc = payload;

    return fc->o.on_body_end != NULL ? fc->o.on_body_end(s, fc->payload) : 0;
}

static int fetch_done(qr_session *s, const qr_session_result *res, void *payload)
{
    fetch_ctx *fc = payload;
    int rc = fc->done != NULL ? fc->done(s, res, fc->payload) : 0;

    qr_free(fc);
    return rc;
}

/* Append `BODY.PEEK[section]`; QR_EINVAL for a section with bad bytes. */
static int add_section(qr_cmd *cmd, const char *section)
{
    char buf[512];
    size_t i, n = strlen(section);

    if (n + 12 > sizeof(buf))
        return QR_EINVAL;
    for (i = 0; i < n; i++)
        if (section[i] < 0x20 || section[i] > 0x7e || section[i] == ']')
            return QR_EINVAL;
    memcpy(buf, "BODY.PEEK[", 10);
    memcpy(buf + 10, section, n);
    buf[10 + n] = ']';
    buf[11 + n] = '\0';
    return qr_cmd_add_raw(cmd, buf);
}

static int add_items(qr_cmd *cmd, const qr_imap_fetch_options *o)
{
    size_t i;
    int rc = 0;

    qr_cmd_list_open(cmd);
    qr_cmd_add_atom(cmd, "UID");
    if (o->items & QR_FETCH_ITEM_FLAGS)
        qr_cmd_add_atom(cmd, "FLAGS");
    if (o->items & QR_FETCH_ITEM_MODSEQ)
        qr_cmd_add_atom(cmd, "MODSEQ");
    if (o->items & QR_FETCH_ITEM_INTERNALDATE)
        qr_cmd_add_atom(cmd, "INTERNALDATE");
    if (o->items & QR_FETCH_ITEM_RFC822_SIZE)
        qr_cmd_add_atom(cmd, "RFC822.SIZE");
    if (o->items & QR_FETCH_ITEM_ENVELOPE)
        qr_cmd_add_atom(cmd, "ENVELOPE");
    if (o->items & QR_FETCH_ITEM_BODY)
        qr_cmd_add_raw(cmd, "BODY.PEEK[]");
    for (i = 0; i < o->nsections && rc == 0; i++)
        rc = add_section(cmd, o->sections[i]);
    qr_cmd_list_close(cmd);
    if (rc == 0 && o->changedsince != 0) {
        qr_cmd_list_open(cmd);
        qr_cmd_add_atom(cmd, "CHANGEDSINCE");
        qr_cmd_add_number64(cmd, o->changedsince);
        if (o->vanished)
            qr_cmd_add_atom(cmd, "VANISHED");
        qr_cmd_list_close(cmd);
    }
    return rc != 0 ? rc : qr_cmd_error(cmd);
}

int qr_imap_uid_fetch(qr_session *s, const qr_uidset *set, const qr_imap_fetch_options *opts,
                      qr_session_done_fn done, void *payload)
{
    qr_session_cmd_opts so = QR_SESSION_CMD_OPTS_INIT;
    fetch_ctx *fc;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || set == NULL || opts == NULL || qr_uidset_count(set) == 0 ||
        opts->version != QR_IMAP_FETCH_OPTIONS_VERSION || (opts->items & ~0x3fu) != 0 ||
        (opts->nsections > 0 && opts->sections == NULL) ||
        (opts->vanished && opts->changedsince == 0))
        return QR_EINVAL;
    fc = qr_calloc(1, sizeof(*fc));
    if (fc == NULL)
        return QR_ENOMEM;
    fc->o = *opts;
    fc->done = done;
    fc->payload = payload;
    rc = qr_cmd_new(&cmd, "UID FETCH", 0);
    if (rc == 0) {
        qr_cmd_add_uidset(cmd, set);
        rc = add_items(cmd, opts);
        if (rc != 0)
            qr_cmd_free(cmd);
    }
    if (rc == 0) {
        so.on_body_begin = fetch_body_begin;
        so.on_body_data = fetch_body_data;
        so.on_body_end = fetch_body_end;
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_FETCH) | QR_CLAIM(QR_RESP_VANISHED), &so,
                            fetch_done, fetch_untagged, fc);
    }
    if (rc != 0)
        qr_free(fc);
    return rc;
}
