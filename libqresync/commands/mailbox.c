/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mailbox.c: CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE.
 *
 * These collect nothing: the outcome, with any response code such as
 * `[TRYCREATE]`, `[ALREADYEXISTS]` or `[NONEXISTENT]` (QR_CODE_OTHER with
 * its name), is the session's result given to the plain completion.
 * Names are UTF-8, converted to modified UTF-7 by the builder.
 */
#include "config.h"

#include "commands/commands_p.h"

/* Submit `NAME M1 [M2]`. */
static int simple(qr_session *s, const char *name, const char *m1, const char *m2,
                  qr_session_done_fn done, void *payload)
{
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || m1 == NULL)
        return QR_EINVAL;
    rc = qr_cmd_new(&cmd, name, 0);
    if (rc != 0)
        return rc;
    qr_cmd_add_mailbox(cmd, m1);
    if (m2 != NULL)
        qr_cmd_add_mailbox(cmd, m2);
    return qr_cmds_submit(s, cmd, 0, NULL, done, NULL, payload);
}

int qr_imap_create(qr_session *s, const char *mailbox, qr_session_done_fn done, void *payload)
{
    return simple(s, "CREATE", mailbox, NULL, done, payload);
}

int qr_imap_delete(qr_session *s, const char *mailbox, qr_session_done_fn done, void *payload)
{
    return simple(s, "DELETE", mailbox, NULL, done, payload);
}

int qr_imap_rename(qr_session *s, const char *from, const char *to, qr_session_done_fn done,
                   void *payload)
{
    if (to == NULL)
        return QR_EINVAL;
    return simple(s, "RENAME", from, to, done, payload);
}

int qr_imap_subscribe(qr_session *s, const char *mailbox, int subscribe, qr_session_done_fn done,
                      void *payload)
{
    return simple(s, subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", mailbox, NULL, done, payload);
}
