/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Watch and notify modes between two passes (interimap.md §14): polling
 * (UNSELECT or NOOP, then a wait while both connections stay served) and
 * RFC 5465 NOTIFY (the commands, then a wait on both servers at once until
 * a mailbox is dirty). Beyond the reference, mailbox-list notifications
 * make the next pass list again, and [NOTIFICATIONOVERFLOW] makes it a
 * full pass instead of an exit.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

#define EVENTS "(MessageNew MessageExpunge FlagChange)"

static int notify_cmd(struct qr_sync *s, sy_side *sd, int status)
{
    qr_cmd *cmd = NULL;
    size_t i;
    int rc;

    rc = qr_cmd_new(&cmd, "NOTIFY", 0);
    if (rc == 0)
        rc = qr_cmd_add_raw(cmd, status ? "SET STATUS" : "SET");
    if (rc == 0)
        rc = qr_cmd_add_raw(cmd, "(SELECTED " EVENTS ")");
    if (rc == 0 && s->nmbx > 0) {
        rc = qr_cmd_list_open(cmd);
        if (rc == 0)
            rc = qr_cmd_add_raw(cmd, "MAILBOXES");
        if (rc == 0)
            rc = qr_cmd_list_open(cmd);
        for (i = 0; rc == 0 && i < s->nmbx; i++) {
            size_t sl;
            char *sn = sy_server_name(sd, s->mbx[i], s->mbx_len[i], &sl);

            rc = sn == NULL ? QR_ENOMEM : sy_cmd_mailbox(cmd, sn, sl);
            qr_free(sn);
        }
        if (rc == 0)
            rc = qr_cmd_list_close(cmd);
        if (rc == 0)
            rc = qr_cmd_add_raw(cmd, EVENTS);
        if (rc == 0)
            rc = qr_cmd_list_close(cmd);
    }
    if (rc == 0 && !status)
        rc = qr_cmd_add_raw(cmd, "(personal (MailboxName SubscriptionChange))");
    if (rc != 0) {
        qr_cmd_free(cmd);
        return sy_fail(s, rc, sy_comp(sd), NULL, "NOTIFY: %s", qr_strerror(rc));
    }
    return sy_submit(sd, cmd, 0, sy_done_fatal, NULL, sd);
}

static int notify_none(sy_side *sd)
{
    qr_cmd *cmd = NULL;
    int rc;

    if ((rc = qr_cmd_new(&cmd, "NOTIFY", 0)) != 0 || (rc = qr_cmd_add_raw(cmd, "NONE")) != 0) {
        qr_cmd_free(cmd);
        return sy_fail(sd->sync, rc, sy_comp(sd), NULL, "NOTIFY: %s", qr_strerror(rc));
    }
    return sy_submit(sd, cmd, 0, sy_done_fatal, NULL, sd);
}

int sy_notify_set(struct qr_sync *s)
{
    int k, rc = 0;

    for (k = 0; k < 2; k++)
        if (!qr_session_has_cap(s->side[k].s, QR_CAP_NOTIFY))
            return sy_fail(s, QR_ECAPABILITY, sy_comp(&s->side[k]), NULL,
                           "Server did not advertise NOTIFY (RFC 5465) capability.");
    /* the first only gets the initial STATUS responses; the second replaces
     * it. NOTIFY NONE in between: Dovecot 2.3 otherwise reports events only
     * at its 30-second mailbox check. */
    for (k = 0; rc == 0 && k < 2; k++)
        if ((rc = notify_cmd(s, &s->side[k], 1)) == 0 && (rc = notify_none(&s->side[k])) == 0)
            rc = notify_cmd(s, &s->side[k], 0);
    if (rc == 0)
        rc = sy_wait(s);
    if (rc == 0)
        s->notified = 1;
    return rc;
}

/* --- waiting ------------------------------------------------------------- */

static int cancel_pred(void *payload)
{
    struct qr_sync *s = payload;

    return s->cancelled || s->failed;
}

static int notify_pred(void *payload)
{
    struct qr_sync *s = payload;
    size_t i;

    if (s->cancelled || s->failed || s->relist || s->all_dirty)
        return 1;
    for (i = 0; i < s->nmbx; i++)
        if (sy_mbx_dirty(s, i))
            return 1;
    return 0;
}

static int never_pred(void *payload)
{
    (void)payload;
    return 0;
}

/* §14.1: when a mailbox is selected, UNSELECT on both servers if both have
 * it, else NOOP; notify mode (unselect 0): NOOP after a quiet wait. */
static int between_passes(struct qr_sync *s, int unselect)
{
    int k, rc = 0, use = unselect;

    if (unselect && s->side[0].sel == NULL && s->side[1].sel == NULL)
        return 0;
    for (k = 0; k < 2; k++)
        if (s->side[k].sel == NULL || !qr_session_has_cap(s->side[k].s, QR_CAP_UNSELECT))
            use = 0;
    for (k = 0; rc == 0 && k < 2; k++) {
        qr_cmd *cmd = NULL;

        rc = qr_cmd_new(&cmd, use ? "UNSELECT" : "NOOP", 0);
        if (rc != 0)
            return sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "%s", qr_strerror(rc));
        rc = sy_submit(&s->side[k], cmd, 0, sy_done_fatal, NULL, &s->side[k]);
    }
    if (rc == 0)
        rc = sy_wait(s);
    if (rc == 0 && use)
        for (k = 0; k < 2; k++) {
            qr_free(s->side[k].sel);
            s->side[k].sel = NULL;
            sy_clear_pending(&s->side[k]);
        }
    return rc;
}

/* A loop failure while nothing was in flight: a connection died. */
static int loop_failed(struct qr_sync *s, int rc)
{
    int k;

    if (s->failed)
        return s->failed;
    for (k = 0; k < 2; k++)
        if (qr_conn_state_get(s->side[k].conn) == QR_CONN_FAILED) {
            const qr_error *e = qr_conn_last_error(s->side[k].conn);

            return sy_fail(s, e->code ? e->code : QR_ECANCELED, sy_comp(&s->side[k]), NULL, "%s",
                           e->message[0] ? e->message : qr_strerror(e->code));
        }
    return sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "%s", qr_strerror(rc));
}

QR_EXTERN int qr_sync_idle(qr_sync *s, int seconds)
{
    int ms, rc;

    if (s == NULL || !s->connected || seconds < 0)
        return QR_EINVAL;
    if (s->failed)
        return s->failed;
    if (s->cancelled)
        return QR_ECANCELED;
    ms = seconds > 2000000 ? 2000000000 : seconds * 1000;
    if (!(s->o.flags & QR_SYNC_NOTIFY)) {
        rc = between_passes(s, 1);
        if (rc != 0)
            return rc;
        rc = qr_loop_run_until(s->loop, cancel_pred, s, ms);
    } else {
        if (!s->notified && (rc = sy_notify_set(s)) != 0)
            return rc;
        /* ours: UNSELECT first (when both servers have it): Dovecot sends no
         * prompt event for a mailbox left selected, while the MAILBOXES
         * filter covers it once it is not */
        if ((rc = between_passes(s, 1)) != 0)
            return rc;
        s->idling = 1;
        rc = qr_loop_run_until(s->loop, notify_pred, s, ms);
        if (rc == 0 && !s->cancelled && !s->failed)
            /* read what is there already, then go */
            (void)qr_loop_run_until(s->loop, never_pred, s, 20);
        s->idling = 0;
        if (rc == QR_EAGAIN && !s->cancelled && (rc = between_passes(s, 0)) != 0)
            return rc;
        if (rc == QR_EAGAIN)
            rc = 0;
    }
    if (s->cancelled) {
        s->failed = QR_ECANCELED;
        qr_err_set(&s->err, QR_ECANCELED, "stopped");
        return QR_ECANCELED;
    }
    if (s->failed)
        return s->failed;
    if (rc == QR_EAGAIN || rc == 0)
        return 0;
    return loop_failed(s, rc);
}
