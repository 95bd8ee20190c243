/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * purge-after (spec/pullimap.md §6), after every pull:
 *
 *   nothing without purge-after, or when the file's UIDNEXT <= 1;
 *   SET = 1:UIDNEXT-1;
 *   with N > 0 days, at most every 12 hours (the first always runs):
 *       DATE = today (UTC) minus N days, `DD-Mon-YYYY`
 *       ESEARCH:  UID SEARCH RETURN (COUNT ALL) UID SET BEFORE DATE
 *       else:     UID SEARCH UID SET BEFORE DATE
 *       `Removing COUNT UID(s) SET'` when COUNT > 0; SET = the matches
 *   UID STORE SET +FLAGS.SILENT (\Deleted), then (UIDPLUS) UID EXPUNGE
 *   SET, both chunked;
 *   pull again when new messages were announced meanwhile.
 *
 * UIDNEXT is the file's: with a deferred delivery it is the deferred UID,
 * so nothing undelivered is ever purged. As in the reference, UIDPLUS is
 * checked only before the first UID EXPUNGE, after the STORE.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "pull/pull_p.h"
#include "util/alloc.h"

#define PL_PURGE_EVERY 43200 /* seconds between two purge searches */

/* What a purge search answered. */
typedef struct purge_search {
    qr_pull *p;
    qr_uidset *found; /* ESEARCH ALL or the SEARCH numbers */
    uint64_t count;   /* ESEARCH COUNT or the number of SEARCH numbers */
    int has_count;    /* the ESEARCH had COUNT */
    int nomem;
} purge_search;

static int on_search(qr_session *s, const qr_resp *r, void *payload)
{
    qr_pull *p = payload;
    purge_search *ps = p->purge_ctx;
    size_t i;

    (void)s;
    if (ps == NULL)
        return 0;
    if (r->kind == QR_RESP_SEARCH) {
        for (i = 0; i < r->u.search.count; i++)
            ps->nomem |= qr_uidset_add(ps->found, r->u.search.numbers[i]) != 0;
        ps->count += r->u.search.count;
    } else if (r->kind == QR_RESP_ESEARCH) {
        if (r->u.esearch.present & QR_ESEARCH_COUNT) {
            ps->count = r->u.esearch.count;
            ps->has_count = 1;
        }
        if (r->u.esearch.all != NULL)
            ps->nomem |= qr_uidset_union(ps->found, r->u.esearch.all) != 0;
    }
    return 0;
}

/* DATE of the search: today (UTC) minus days, as `DD-Mon-YYYY`. */
static void search_date(unsigned long days, char *buf, size_t cap)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    if (days > (unsigned long)(now / 86400))
        now = 0; /* before 1970: every message */
    else
        now -= (time_t)days * 86400;
    gmtime_r(&now, &tm);
    snprintf(buf, cap, "%02d-%s-%04d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
}

/* The search of §6 step 3 over `set`; on return `set` holds the matches. */
static int search(qr_pull *p, qr_uidset *set)
{
    int esearch = qr_session_has_cap(p->s, QR_CAP_ESEARCH);
    purge_search ps = {p, set, 0, 0, 0};
    qr_buf text = QR_BUF_INIT;
    char date[32];
    qr_cmd *cmd = NULL;
    int rc;

    search_date(p->o.purge_after, date, sizeof(date));
    if ((rc = qr_uidset_format(set, &text)) != 0 || (rc = qr_cmd_new(&cmd, "UID SEARCH", 0)) != 0 ||
        (esearch && (rc = qr_cmd_add_raw(cmd, "RETURN (COUNT ALL)")) != 0) ||
        (rc = qr_cmd_add_raw(cmd, "UID")) != 0 || (rc = qr_cmd_add_raw(cmd, text.ptr)) != 0 ||
        (rc = qr_cmd_add_raw(cmd, "BEFORE")) != 0 || (rc = qr_cmd_add_raw(cmd, date)) != 0) {
        qr_cmd_free(cmd);
        qr_buf_dispose(&text);
        return pl_fail(p, rc, "UID SEARCH: %s", qr_strerror(rc));
    }
    qr_buf_dispose(&text);
    qr_uidset_clear(set);
    p->purge_ctx = &ps;
    rc = pl_submit(p, cmd, NULL, on_search);
    if (rc == 0)
        rc = pl_wait(p, 0);
    p->purge_ctx = NULL;
    if (rc == 0 && ps.nomem)
        rc = pl_fail(p, QR_ENOMEM, "out of memory");
    if (rc == 0 && esearch && !ps.has_count)
        rc = pl_fail(p, QR_EPROTO, "ESEARCH response without COUNT");
    if (rc == 0 && ps.count > 0 && qr_uidset_count(set) > 0) {
        if ((rc = qr_uidset_format(set, &text)) != 0)
            return pl_fail(p, rc, "out of memory");
        pl_log(p, QR_LOG_INFO, "Removing %" PRIu64 " UID(s) %s", ps.count, text.ptr);
        qr_buf_dispose(&text);
    }
    return rc;
}

static int on_expunge(qr_session *s, const qr_resp *r, void *payload)
{
    qr_pull *p = payload;

    (void)s;
    if (r->kind == QR_RESP_EXPUNGE)
        p->stats.purged++;
    else if (r->kind == QR_RESP_VANISHED && !r->u.vanished.earlier)
        p->stats.purged += qr_uidset_count(r->u.vanished.set);
    return 0;
}

/* §6 step 4. */
static int remove_set(qr_pull *p, const qr_uidset *set)
{
    qr_session_cmd_opts co = QR_SESSION_CMD_OPTS_INIT;
    int rc = pl_submit_pieces(p, "UID STORE", set, "+FLAGS.SILENT (\\Deleted)", NULL, NULL);

    if (rc == 0)
        rc = pl_wait(p, 0);
    if (rc != 0)
        return rc;
    if (!qr_session_has_cap(p->s, QR_CAP_UIDPLUS))
        return pl_fail(p, QR_ECAPABILITY,
                       "Server did not advertise UIDPLUS (RFC 4315) capability.");
    co.claims = QR_CLAIM(QR_RESP_EXPUNGE) | QR_CLAIM(QR_RESP_VANISHED);
    rc = pl_submit_pieces(p, "UID EXPUNGE", set, NULL, &co, on_expunge);
    return rc == 0 ? pl_wait(p, 0) : rc;
}

int pl_purge(qr_pull *p)
{
    qr_uidset *set = NULL;
    int64_t now = (int64_t)time(NULL);
    int rc = 0;

    if (!p->o.purge || p->stored_next <= 1)
        return 0;
    if (p->o.purge_after != 0 && p->purged_once && now - p->last_purge < PL_PURGE_EVERY)
        return 0;
    if (qr_uidset_new(&set) != 0 || qr_uidset_add_range(set, 1, p->stored_next - 1) != 0) {
        qr_uidset_free(set);
        return pl_fail(p, QR_ENOMEM, "out of memory");
    }
    if (p->o.purge_after != 0) {
        p->purged_once = 1;
        p->last_purge = now;
        rc = search(p, set);
    }
    if (rc == 0 && qr_uidset_count(set) > 0)
        rc = remove_set(p, set);
    qr_uidset_free(set);
    if (rc == 0 && pl_has_new_mails(p))
        rc = pl_pull(p);
    return rc;
}
