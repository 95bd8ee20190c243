/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * misc.c: ENABLE, NOTIFY SET/NONE and the raw escape hatch.
 *
 * ENABLE collects the names of every `* ENABLED` response into an array
 * given to its completion. NOTIFY builds the RFC 5465 request interimap's
 * `--notify` sends (`NOTIFY SET [STATUS] (SELECTED (events)) (MAILBOXES
 * (names) (events)) (personal (events))`) or `NOTIFY NONE`; its STATUS
 * responses go to the caller's on_untagged, later events to the session's
 * on_unsolicited. qr_imap_raw() is qr_session_submit() with a claim mask.
 */
#include "config.h"

#include <string.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_enable() call. */
typedef struct enable_ctx {
    char **names;           /* owned names */
    size_t n;               /* their number */
    int nomem;              /* an allocation failed */
    qr_imap_enable_fn done; /* user completion */
    void *payload;          /* user payload */
} enable_ctx;

static int enable_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    enable_ctx *ec = payload;
    const qr_resp_strlist *l = &r->u.strlist;
    char **v;
    size_t i;

    (void)s;
    if (r->kind != QR_RESP_ENABLED)
        return 0;
    v = qr_reallocarray(ec->names, ec->n + l->count + 1, sizeof(*v));
    if (v == NULL) {
        ec->nomem = 1;
        return 0;
    }
    ec->names = v;
    for (i = 0; i < l->count; i++) {
        v[ec->n] = qr_memdup0(l->items[i].ptr != NULL ? l->items[i].ptr : "", l->items[i].len);
        if (v[ec->n] == NULL) {
            ec->nomem = 1;
            break;
        }
        ec->n++;
    }
    v[ec->n] = NULL;
    return 0;
}

static int enable_done(qr_session *s, const qr_session_result *res, void *payload)
{
    enable_ctx *ec = payload;
    qr_session_result oom = {QR_ENOMEM, NULL, NULL, "out of memory", 13};
    int rc = 0;

    if (ec->nomem && res->status == 0) {
        oom.tag = res->tag;
        res = &oom;
    }
    if (ec->done != NULL)
        rc = ec->done(s, res, (const char *const *)ec->names, ec->n, ec->payload);
    qr_cmds_strv_free(ec->names, ec->n);
    qr_free(ec);
    return rc;
}

int qr_imap_enable(qr_session *s, const char *const *caps, size_t n, qr_imap_enable_fn done,
                   void *payload)
{
    enable_ctx *ec;
    qr_cmd *cmd = NULL;
    size_t i;
    int rc;

    if (s == NULL || caps == NULL || n == 0)
        return QR_EINVAL;
    ec = qr_calloc(1, sizeof(*ec));
    if (ec == NULL)
        return QR_ENOMEM;
    ec->done = done;
    ec->payload = payload;
    rc = qr_cmd_new(&cmd, "ENABLE", 0);
    if (rc == 0) {
        for (i = 0; i < n; i++)
            qr_cmd_add_atom(cmd, caps[i]);
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_ENABLED), NULL, enable_done, enable_untagged,
                            ec);
    }
    if (rc != 0)
        qr_free(ec);
    return rc;
}

/* Append `(E1 E2 ...)` for QR_NOTIFY_* bits. */
static void add_events(qr_cmd *cmd, unsigned int ev)
{
    static const char *const names[] = {"MessageNew", "MessageExpunge", "FlagChange", "MailboxName",
                                        "SubscriptionChange"};
    size_t i;

    qr_cmd_list_open(cmd);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ev & (1u << i))
            qr_cmd_add_atom(cmd, names[i]);
    qr_cmd_list_close(cmd);
}

static void add_notify_set(qr_cmd *cmd, const qr_imap_notify_spec *sp)
{
    size_t i;

    qr_cmd_add_atom(cmd, "SET");
    if (sp->status)
        qr_cmd_add_atom(cmd, "STATUS");
    if (sp->selected != 0) {
        qr_cmd_list_open(cmd);
        qr_cmd_add_atom(cmd, "SELECTED");
        add_events(cmd, sp->selected);
        qr_cmd_list_close(cmd);
    }
    if (sp->mailbox_events != 0) {
        qr_cmd_list_open(cmd);
        qr_cmd_add_atom(cmd, "MAILBOXES");
        qr_cmd_list_open(cmd);
        for (i = 0; i < sp->nmailboxes; i++)
            qr_cmd_add_mailbox(cmd, sp->mailboxes[i]);
        qr_cmd_list_close(cmd);
        add_events(cmd, sp->mailbox_events);
        qr_cmd_list_close(cmd);
    }
    if (sp->personal != 0) {
        qr_cmd_list_open(cmd);
        qr_cmd_add_atom(cmd, "personal");
        add_events(cmd, sp->personal);
        qr_cmd_list_close(cmd);
    }
}

int qr_imap_notify(qr_session *s, const qr_imap_notify_spec *spec,
                   qr_session_untagged_fn on_untagged, qr_session_done_fn done, void *payload)
{
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    if (spec != NULL &&
        (spec->version != QR_IMAP_NOTIFY_SPEC_VERSION ||
         ((spec->selected | spec->mailbox_events | spec->personal) & ~0x1fu) != 0 ||
         (spec->selected | spec->mailbox_events | spec->personal) == 0 ||
         (spec->mailbox_events != 0 && (spec->nmailboxes == 0 || spec->mailboxes == NULL))))
        return QR_EINVAL;
    if (!qr_session_has_cap(s, QR_CAP_NOTIFY))
        return QR_ECAPABILITY;
    rc = qr_cmd_new(&cmd, "NOTIFY", 0);
    if (rc != 0)
        return rc;
    if (spec == NULL)
        qr_cmd_add_atom(cmd, "NONE");
    else
        add_notify_set(cmd, spec);
    return qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_STATUS), NULL, done, on_untagged, payload);
}

int qr_imap_raw(qr_session *s, qr_cmd *cmd, uint32_t claims, qr_session_untagged_fn on_untagged,
                qr_session_done_fn done, void *payload)
{
    qr_session_cmd_opts o = QR_SESSION_CMD_OPTS_INIT;

    o.claims = claims;
    return qr_session_submit(s, cmd, &o, done, on_untagged, payload);
}
