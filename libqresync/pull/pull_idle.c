/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Idle mode (spec/pullimap.md §7, imap-client.md §10.9): one cycle is
 *
 *   IDLE, for at most SECS seconds or until new mail is announced (EXISTS
 *   growth or a UIDNEXT change, seen by the session tap);
 *   DONE, and the tagged reply;
 *   pull when new mail was announced (also between DONE and the reply),
 *   or when a delivery was deferred (beyond the reference: the retry);
 *   purge.
 *
 * qr_pull_cancel() during the IDLE ends it cleanly (DONE and its reply),
 * so the connection stays usable for a LOGOUT.
 */
#include "config.h"

#include "pull/pull_p.h"

#define PL_IDLE_DEFAULT 1740 /* seconds (29 minutes) */

static int idle_pred(void *payload)
{
    qr_pull *p = payload;

    return p->failed || p->cancelled || p->outstanding == 0 || pl_has_new_mails(p);
}

QR_EXTERN int qr_pull_idle(qr_pull *p, int seconds)
{
    int ms, rc;

    if (p == NULL || !p->started)
        return QR_EINVAL;
    if (p->failed)
        return p->failed;
    if (p->cancelled)
        return pl_cancelled(p);
    if (!qr_session_has_cap(p->s, QR_CAP_IDLE))
        return pl_fail(p, QR_ECAPABILITY, "Server did not advertise IDLE (RFC 2177) capability.");
    if (seconds <= 0)
        seconds = PL_IDLE_DEFAULT;
    ms = seconds > 2000000 ? 2000000000 : seconds * 1000;
    rc = qr_imap_idle(p->s, NULL, pl_done, p);
    if (rc != 0)
        return pl_fail(p, rc, "IDLE: %s", qr_strerror(rc));
    p->outstanding++;
    (void)qr_loop_run_until(p->loop, idle_pred, p, ms);
    if (!p->failed && p->outstanding > 0 && (rc = qr_imap_idle_done(p->s)) != 0)
        return pl_fail(p, rc, "DONE: %s", qr_strerror(rc));
    if ((rc = pl_wait(p, 1)) != 0)
        return rc;
    if (p->cancelled)
        return pl_cancelled(p);
    if (pl_has_new_mails(p) || p->stored_next != p->p_uidnext)
        rc = pl_pull(p);
    return rc == 0 ? pl_purge(p) : rc;
}
