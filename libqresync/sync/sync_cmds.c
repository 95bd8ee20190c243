/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `--delete` and `--rename` (interimap.md §9): after the LIST (the
 * command's arguments as patterns, no RETURN options) and the schema
 * check, on each target, with the reference's checks, messages and commit
 * points.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

/* A command-line name (local delimiter) as an internal name. */
static char *cli_internal(struct qr_sync *s, size_t k, size_t *len)
{
    int d = s->side[QR_SYNC_LOCAL].delim;
    char *r = qr_memdup0(s->patterns[k], s->plens[k]);
    size_t i;

    if (r == NULL)
        return NULL;
    /* sy_list_both() turned the local delimiter into NUL already; be safe */
    if (d >= 0)
        for (i = 0; i < s->plens[k]; i++)
            if ((unsigned char)r[i] == (unsigned)d)
                r[i] = '\0';
    *len = s->plens[k];
    return r;
}

typedef struct mb_cmd {
    sy_side *sd;
    char *name;
    char *to;
    int rename;
} mb_cmd;

static int mb_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    mb_cmd *m = payload;
    sy_side *sd = m->sd;
    char text[1200];

    (void)ss;
    if (sd->outstanding > 0)
        sd->outstanding--;
    if (res->status == 0) {
        if (m->rename)
            sy_log(sd->sync, QR_LOG_INFO, sy_comp(sd), NULL, QR_SYNC_LOG_QUIET,
                   "Renamed mailbox %s to %s", m->name, m->to);
        else
            sy_log(sd->sync, QR_LOG_INFO, sy_comp(sd), NULL, QR_SYNC_LOG_QUIET,
                   "Deleted mailbox %s", m->name);
    } else if (res->status == QR_ENO || res->status == QR_EBAD) {
        sy_reply_text(res, text, sizeof(text));
        sy_fail(sd->sync, res->status, sy_comp(sd), NULL, "Couldn't %s mailbox %s: %s",
                m->rename ? "rename" : "delete", m->name, text);
    } else {
        sy_cmd_failed(sd, res, NULL);
    }
    qr_free(m->name);
    qr_free(m->to);
    qr_free(m);
    return 0;
}

static int mb_send(sy_side *sd, const char *name, size_t len, const char *to, size_t tolen)
{
    mb_cmd *m = qr_calloc(1, sizeof(*m));
    qr_cmd *cmd = NULL;
    int rc;

    if (m == NULL || (m->name = qr_memdup0(name, len)) == NULL ||
        (to != NULL && (m->to = qr_memdup0(to, tolen)) == NULL)) {
        if (m != NULL)
            qr_free(m->name);
        qr_free(m);
        return sy_fail(sd->sync, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    m->sd = sd;
    m->rename = to != NULL;
    if ((rc = qr_cmd_new(&cmd, to != NULL ? "RENAME" : "DELETE", 0)) != 0 ||
        (rc = sy_cmd_mailbox(cmd, name, len)) != 0 ||
        (to != NULL && (rc = sy_cmd_mailbox(cmd, to, tolen)) != 0)) {
        qr_cmd_free(cmd);
        qr_free(m->name);
        qr_free(m->to);
        qr_free(m);
        return sy_fail(sd->sync, rc, sy_comp(sd), NULL, "%s: %s", name, qr_strerror(rc));
    }
    rc = sy_submit(sd, cmd, 0, mb_done, NULL, m);
    if (rc != 0) {
        qr_free(m->name);
        qr_free(m->to);
        qr_free(m);
    }
    return rc;
}

static int start(qr_sync *s)
{
    if (s == NULL || s->side[0].conn == NULL)
        return QR_EINVAL;
    if (s->failed)
        return s->failed;
    s->list_mode = SY_LIST_PLAIN;
    return sy_prepare(s);
}

static unsigned target_bit(int k)
{
    return k == QR_SYNC_LOCAL ? QR_SYNC_TARGET_LOCAL : QR_SYNC_TARGET_REMOTE;
}

QR_EXTERN int qr_sync_delete(qr_sync *s, unsigned int targets)
{
    size_t a;
    int rc, k;

    if (s != NULL && s->npatterns == 0)
        return QR_EINVAL;
    rc = start(s);
    for (a = 0; rc == 0 && a < s->npatterns; a++) {
        size_t ilen;
        char *in, *pretty;
        int64_t idx = -1;
        int sub;

        /* in order, as the reference: the names before INBOX are deleted */
        if (s->plens[a] == 5 && strncasecmp(s->patterns[a], "INBOX", 5) == 0)
            return sy_fail(s, QR_EINVAL, QR_SYNC_COMP_NONE, NULL, "INBOX can't be deleted");
        in = cli_internal(s, a, &ilen);
        if (in == NULL)
            return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        rc = qr_store_mailbox_get(s->st, in, ilen, &idx, &sub);
        if (rc < 0) {
            qr_free(in);
            return sy_store_fail(s, rc);
        }
        if (rc == 1)
            idx = -1;
        rc = 0;
        for (k = 0; rc == 0 && k < 2; k++) {
            sy_side *sd = &s->side[k];
            size_t sl;
            char *sn;
            const sy_listed *e;

            if (!(targets & target_bit(k)))
                continue;
            sn = sy_server_name(sd, in, ilen, &sl);
            if (sn == NULL) {
                rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
                break;
            }
            e = sy_find_listed(sd, sn, sl);
            if (e != NULL && e->exists)
                rc = mb_send(sd, sn, sl, NULL, 0);
            qr_free(sn);
        }
        if (rc == 0)
            rc = sy_wait(s);
        if (rc == 0 && (targets & QR_SYNC_TARGET_DATABASE) && idx >= 0) {
            rc = qr_store_mailbox_delete(s->st, idx);
            if (rc == 0)
                rc = qr_store_commit(s->st); /* C2 */
            if (rc != 0) {
                qr_free(in);
                return sy_store_fail(s, rc);
            }
            pretty = sy_pretty(s, in, ilen);
            sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_DATABASE, NULL, 0, "Removed mailbox %s",
                   pretty ? pretty : "");
            qr_free(pretty);
        }
        qr_free(in);
    }
    return rc;
}

QR_EXTERN int qr_sync_rename(qr_sync *s, unsigned int targets)
{
    char *src = NULL, *dst = NULL, *sn[2][2] = {{NULL, NULL}, {NULL, NULL}};
    char *psrc = NULL, *pdst = NULL;
    size_t slen = 0, dlen = 0, sl[2][2];
    int64_t sidx = -1, didx = -1;
    uint64_t changed = 0;
    int rc, k, sub;

    if (s != NULL && s->npatterns != 2)
        return QR_EINVAL;
    rc = start(s);
    if (rc != 0)
        return rc;
    src = cli_internal(s, 0, &slen);
    dst = cli_internal(s, 1, &dlen);
    psrc = src ? sy_pretty(s, src, slen) : NULL;
    pdst = dst ? sy_pretty(s, dst, dlen) : NULL;
    for (k = 0; k < 2 && src != NULL && dst != NULL; k++) {
        sn[k][0] = sy_server_name(&s->side[k], src, slen, &sl[k][0]);
        sn[k][1] = sy_server_name(&s->side[k], dst, dlen, &sl[k][1]);
    }
    if (psrc == NULL || pdst == NULL || sn[0][0] == NULL || sn[0][1] == NULL || sn[1][0] == NULL ||
        sn[1][1] == NULL) {
        rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        goto out;
    }
    if ((rc = qr_store_mailbox_get(s->st, src, slen, &sidx, &sub)) < 0 ||
        (rc == 1 && (sidx = -1, 0)) ||
        (rc = qr_store_mailbox_get(s->st, dst, dlen, &didx, &sub)) < 0) {
        rc = sy_store_fail(s, rc);
        goto out;
    }
    if (rc == 1)
        didx = -1;
    rc = 0;
    /* 2. DEST must not exist on a target server */
    for (k = 0; k < 2; k++) {
        const sy_listed *e;

        if (!(targets & target_bit(k)))
            continue;
        e = sy_find_listed(&s->side[k], sn[k][1], sl[k][1]);
        if (e != NULL && e->exists) {
            rc = sy_fail(s, QR_ERROR, sy_comp(&s->side[k]), NULL,
                         "Mailbox %s exists. Run `interimap --target=%s --delete %s` to delete.",
                         sn[k][1], s->side[k].name, pdst);
            goto out;
        }
    }
    /* 3. nor in the database */
    if ((targets & QR_SYNC_TARGET_DATABASE) && didx >= 0) {
        rc = sy_fail(s, QR_ERROR, QR_SYNC_COMP_DATABASE, NULL,
                     "Mailbox %s exists. Run `interimap --target=database --delete %s` to "
                     "delete.",
                     pdst, pdst);
        goto out;
    }
    /* 4. RENAME where SOURCE was listed at all */
    for (k = 0; rc == 0 && k < 2; k++)
        if ((targets & target_bit(k)) && sy_find_listed(&s->side[k], sn[k][0], sl[k][0]))
            rc = mb_send(&s->side[k], sn[k][0], sl[k][0], sn[k][1], sl[k][1]);
    if (rc == 0)
        rc = sy_wait(s);
    /* 5. the database, descendants included */
    if (rc == 0 && (targets & QR_SYNC_TARGET_DATABASE)) {
        rc = qr_store_mailbox_rename(s->st, sidx, src, slen, dst, dlen, &changed);
        if (rc == 0)
            rc = qr_store_commit(s->st); /* C3 */
        if (rc != 0) {
            rc = sy_store_fail(s, rc);
            goto out;
        }
        if (changed > 0)
            sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_DATABASE, NULL, 0, "Renamed mailbox %s to %s", psrc,
                   pdst);
    }
out:
    for (k = 0; k < 2; k++) {
        qr_free(sn[k][0]);
        qr_free(sn[k][1]);
    }
    qr_free(src);
    qr_free(dst);
    qr_free(psrc);
    qr_free(pdst);
    return rc;
}
