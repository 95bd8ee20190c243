/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mailbox listing (interimap.md §7) and reconciliation (§8).
 *
 * Both servers are listed at the same time when there are no patterns;
 * with patterns the remote's wait for the local delimiter (§7.3). The
 * mailboxes to synchronise come out sorted by internal name, so runs and
 * logs are reproducible (the reference used Perl hash order).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

/* Text of a tagged reply as the reference prints it: `NO [CODE args] text`. */
void sy_reply_text(const qr_session_result *res, char *buf, size_t cap)
{
    const char *st = res->status == QR_ENO ? "NO" : res->status == QR_EBAD ? "BAD" : "OK";

    if (res->status != 0 && res->status != QR_ENO && res->status != QR_EBAD) {
        snprintf(buf, cap, "%s", qr_strerror(res->status));
        return;
    }
    if (res->code != NULL && res->code->kind != QR_CODE_NONE && res->code->name.ptr != NULL)
        snprintf(buf, cap, "%s [%s%s%s] %s", st, res->code->name.ptr,
                 res->code->args.len ? " " : "", res->code->args.ptr ? res->code->args.ptr : "",
                 res->text);
    else
        snprintf(buf, cap, "%s %s", st, res->text);
}

/* --- LIST ---------------------------------------------------------------- */

static int add_listed(sy_side *sd, const qr_resp_list *l)
{
    const char *name = l->mailbox.ptr;
    size_t len = l->mailbox.len, i;
    sy_listed *e;

    if (name == NULL)
        return 0;
    if (len == 5 && strncasecmp(name, "INBOX", 5) == 0)
        name = "INBOX";
    if (sd->nlisted == sd->alisted) {
        size_t na = sd->alisted ? sd->alisted * 2 : 32;
        sy_listed *nv = qr_reallocarray(sd->listed, na, sizeof(*nv));

        if (nv == NULL)
            return QR_ENOMEM;
        sd->listed = nv;
        sd->alisted = na;
    }
    e = &sd->listed[sd->nlisted];
    e->name = qr_memdup0(name, len);
    if (e->name == NULL)
        return QR_ENOMEM;
    e->len = len;
    e->delim = l->delimiter;
    e->exists = 1;
    e->subscribed = 0;
    for (i = 0; i < l->flags.count; i++) {
        const qr_resp_str *f = &l->flags.items[i];

        if (f->ptr == NULL)
            continue;
        if (strcasecmp(f->ptr, "\\NonExistent") == 0 || strcasecmp(f->ptr, "\\NoSelect") == 0)
            e->exists = 0;
        else if (strcasecmp(f->ptr, "\\Subscribed") == 0)
            e->subscribed = 1;
    }
    sd->nlisted++;
    return 0;
}

static int on_list(qr_session *ss, const qr_resp *r, void *payload)
{
    sy_side *sd = payload;

    (void)ss;
    if (r->kind == QR_RESP_LIST && add_listed(sd, &r->u.list) != 0)
        sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    return 0;
}

static int on_list_delim(qr_session *ss, const qr_resp *r, void *payload)
{
    sy_side *sd = payload;

    (void)ss;
    if (r->kind == QR_RESP_LIST) {
        sd->list_extra++;
        sd->list_extra_delim = r->u.list.delimiter;
    }
    return 0;
}

static int ask_delimiter(sy_side *sd);

static void learned(sy_side *sd, int delim)
{
    char d[8];

    sd->delim = delim;
    if (delim < 0)
        snprintf(d, sizeof(d), "NIL");
    else
        snprintf(d, sizeof(d), "\"%c\"", delim);
    sy_log(sd->sync, QR_LOG_DEBUG, sy_comp(sd), NULL, 0, "Using %s as hierarchy delimiter", d);
}

/* The patterns for a side: NUL replaced by its delimiter. */
static int build_list(sy_side *sd, qr_cmd **out)
{
    struct qr_sync *s = sd->sync;
    qr_cmd *cmd = NULL;
    size_t i;
    int rc;

    rc = qr_cmd_new(&cmd, "LIST", 0);
    if (rc == 0 && s->select_opts != NULL && s->list_mode == SY_LIST_STATUS) {
        qr_dynbuf b;

        qr_dynbuf_init(&b, 4096);
        rc = qr_dynbuf_addf(&b, "(%s)", s->select_opts);
        if (rc == 0)
            rc = qr_cmd_add_raw(cmd, qr_dynbuf_str(&b));
        qr_dynbuf_free(&b);
    }
    if (rc == 0)
        rc = qr_cmd_add_astring(cmd, sd->ref, sd->reflen);
    if (rc == 0 && s->npatterns == 0)
        rc = qr_cmd_add_raw(cmd, "*");
    if (rc == 0 && s->npatterns > 1)
        rc = qr_cmd_list_open(cmd);
    for (i = 0; rc == 0 && i < s->npatterns; i++) {
        char *p = qr_memdup0(s->patterns[i], s->plens[i]);
        size_t k;

        if (p == NULL) {
            rc = QR_ENOMEM;
            break;
        }
        for (k = 0; k < s->plens[i]; k++)
            if (p[k] == '\0')
                p[k] = (char)sd->delim;
        rc = qr_cmd_add_astring(cmd, p, s->plens[i]);
        qr_free(p);
    }
    if (rc == 0 && s->npatterns > 1)
        rc = qr_cmd_list_close(cmd);
    if (rc == 0 && s->list_mode == SY_LIST_STATUS)
        rc = qr_cmd_add_raw(cmd, "RETURN (SUBSCRIBED STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ))");
    else if (rc == 0 && s->list_mode == SY_LIST_SUBSCRIBED)
        rc = qr_cmd_add_raw(cmd, "RETURN (SUBSCRIBED)");
    if (rc != 0) {
        qr_cmd_free(cmd);
        return sy_fail(s, rc, sy_comp(sd), NULL, "LIST: %s", qr_strerror(rc));
    }
    *out = cmd;
    return 0;
}

static int patterns_have_nul(const struct qr_sync *s)
{
    size_t i;

    for (i = 0; i < s->npatterns; i++)
        if (memchr(s->patterns[i], '\0', s->plens[i]) != NULL)
            return 1;
    return 0;
}

static int cmp_listed(const void *a, const void *b)
{
    const sy_listed *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);

    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* After the LIST: learn and check the delimiter (§7.2). */
static int after_list(sy_side *sd)
{
    size_t i;
    int rc;

    qsort(sd->listed, sd->nlisted, sizeof(*sd->listed), cmp_listed);
    if (sd->delim == -2) {
        for (i = 0; i < sd->nlisted; i++)
            if (strcmp(sd->listed[i].name, "INBOX") != 0)
                break;
        if (i < sd->nlisted) {
            learned(sd, sd->listed[i].delim);
        } else {
            if (!sd->list_queued && (rc = ask_delimiter(sd)) != 0)
                return rc;
            if (sd->list_extra != 1)
                return sy_fail(sd->sync, QR_EPROTO, sy_comp(sd), NULL,
                               "Missing or unexpected (unsolicited) LIST response.");
            learned(sd, sd->list_extra_delim);
        }
    }
    for (i = 0; i < sd->nlisted; i++) {
        const sy_listed *e = &sd->listed[i];
        char a[8], b[8];

        if (strcmp(e->name, "INBOX") == 0 || e->delim == sd->delim)
            continue;
        sy_delim_text(e->delim, a, sizeof(a));
        sy_delim_text(sd->delim, b, sizeof(b));
        return sy_fail(sd->sync, QR_EPROTO, sy_comp(sd), NULL,
                       "Mailbox %s has hierarchy delimiter %s, while %s was expected.", e->name, a,
                       b);
    }
    return 0;
}

/* Queue `LIST REF ""` right behind the main LIST (pipelined: the answer
 * is there if the main LIST shows no mailbox with a delimiter). */
static int queue_delimiter(sy_side *sd)
{
    qr_cmd *cmd = NULL;
    int rc;

    sd->list_extra = 0;
    if ((rc = qr_cmd_new(&cmd, "LIST", 0)) != 0 ||
        (rc = qr_cmd_add_astring(cmd, sd->ref, sd->reflen)) != 0 ||
        (rc = qr_cmd_add_astring(cmd, "", 0)) != 0) {
        qr_cmd_free(cmd);
        return sy_fail(sd->sync, rc, sy_comp(sd), NULL, "%s", qr_strerror(rc));
    }
    rc = sy_submit(sd, cmd, QR_CLAIM(QR_RESP_LIST), sy_done_fatal, on_list_delim, sd);
    if (rc == 0)
        sd->list_queued = 1;
    return rc;
}

/* `LIST REF ""` alone, answered before going on (§7.2). */
static int ask_delimiter(sy_side *sd)
{
    int rc = queue_delimiter(sd);

    if (rc == 0)
        rc = sy_wait(sd->sync);
    if (rc == 0 && sd->list_extra != 1)
        rc = sy_fail(sd->sync, QR_EPROTO, sy_comp(sd), NULL,
                     "Missing or unexpected (unsolicited) LIST response.");
    return rc;
}

static int list_side(sy_side *sd, int wait)
{
    qr_cmd *cmd = NULL;
    int rc;

    if (patterns_have_nul(sd->sync) && sd->delim == -2) {
        rc = ask_delimiter(sd);
        if (rc != 0)
            return rc;
        if (sd->list_extra_delim < 0)
            return sy_fail(sd->sync, QR_ERROR, sy_comp(sd), NULL,
                           "Mailbox name contains null characters but the namespace is flat!");
        learned(sd, sd->list_extra_delim);
    }
    rc = build_list(sd, &cmd);
    if (rc == 0)
        rc = sy_submit(sd, cmd, QR_CLAIM(QR_RESP_LIST), sy_done_fatal, on_list, sd);
    if (rc == 0 && sd->delim == -2)
        rc = queue_delimiter(sd);
    if (rc == 0 && wait)
        rc = sy_wait(sd->sync);
    return rc;
}

void sy_list_reset(struct qr_sync *s)
{
    size_t i;
    int k;

    for (k = 0; k < 2; k++) {
        sy_side *sd = &s->side[k];

        for (i = 0; i < sd->nlisted; i++)
            qr_free(sd->listed[i].name);
        sd->nlisted = 0;
        sd->list_queued = 0;
        sd->list_extra = 0;
    }
    for (i = 0; i < s->nmbx; i++)
        qr_free(s->mbx[i]);
    s->nmbx = 0;
}

int sy_list_both(struct qr_sync *s)
{
    sy_side *l = &s->side[QR_SYNC_LOCAL], *r = &s->side[QR_SYNC_REMOTE];
    size_t i, k;
    int rc;

    if (s->npatterns == 0) {
        /* nothing to translate: both at once */
        if ((rc = list_side(l, 0)) != 0 || (rc = list_side(r, 0)) != 0 || (rc = sy_wait(s)) != 0 ||
            (rc = after_list(l)) != 0 || (rc = after_list(r)) != 0)
            return rc;
        return 0;
    }
    if ((rc = list_side(l, 1)) != 0 || (rc = after_list(l)) != 0)
        return rc;
    /* §7.3: the local delimiter in the patterns becomes NUL */
    if (l->delim >= 0)
        for (i = 0; i < s->npatterns; i++)
            for (k = 0; k < s->plens[i]; k++)
                if ((unsigned char)s->patterns[i][k] == (unsigned)l->delim)
                    s->patterns[i][k] = '\0';
    if ((rc = list_side(r, 1)) != 0 || (rc = after_list(r)) != 0)
        return rc;
    return 0;
}

/* --- reconciliation ------------------------------------------------------ */

const sy_listed *sy_find_listed(const sy_side *sd, const char *name, size_t len)
{
    sy_listed key;

    key.name = (char *)name;
    key.len = len;
    return bsearch(&key, sd->listed, sd->nlisted, sizeof(*sd->listed), cmp_listed);
}

typedef struct iname {
    char *p;
    size_t len;
} iname;

static int cmp_iname(const void *a, const void *b)
{
    const iname *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);

    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int add_mbx(struct qr_sync *s, char *name, size_t len, int64_t idx)
{
    if (s->nmbx == s->ambx) {
        size_t na = s->ambx ? s->ambx * 2 : 32;
        char **a = qr_reallocarray(s->mbx, na, sizeof(*a));
        size_t *b;
        int64_t *c;
        int *d;

        if (a == NULL)
            return QR_ENOMEM;
        s->mbx = a;
        if ((b = qr_reallocarray(s->mbx_len, na, sizeof(*b))) == NULL)
            return QR_ENOMEM;
        s->mbx_len = b;
        if ((c = qr_reallocarray(s->mbx_idx, na, sizeof(*c))) == NULL)
            return QR_ENOMEM;
        s->mbx_idx = c;
        if ((d = qr_reallocarray(s->mbx_known, na, sizeof(*d))) == NULL)
            return QR_ENOMEM;
        s->mbx_known = d;
        s->ambx = na;
    }
    s->mbx[s->nmbx] = name;
    s->mbx_len[s->nmbx] = len;
    s->mbx_idx[s->nmbx] = idx;
    s->mbx_known[s->nmbx] = 0;
    s->nmbx++;
    return 0;
}

/* What a mailbox-management command reports (imap-client.md §10.2). */
typedef struct mgmt {
    sy_side *sd;
    char *name; /* server name, owned */
    int kind;   /* 0 CREATE (warning), 1 SUBSCRIBE, 2 UNSUBSCRIBE (fatal) */
} mgmt;

static int mgmt_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    mgmt *m = payload;
    sy_side *sd = m->sd;
    char text[1200];

    (void)ss;
    if (sd->outstanding > 0)
        sd->outstanding--;
    if (res->status == 0) {
        static const char *const ok[] = {"Created mailbox", "Subscribe to", "Unsubscribe to"};

        sy_log(sd->sync, QR_LOG_INFO, sy_comp(sd), NULL, QR_SYNC_LOG_QUIET, "%s %s", ok[m->kind],
               m->name);
    } else if (res->status == QR_ENO || res->status == QR_EBAD) {
        sy_reply_text(res, text, sizeof(text));
        if (m->kind == 0)
            sy_log(sd->sync, QR_LOG_WARNING, sy_comp(sd), NULL, 0,
                   "WARNING: Couldn't create mailbox %s: %s", m->name, text);
        else
            sy_fail(sd->sync, res->status, sy_comp(sd), NULL, "Couldn't %s to %s: %s",
                    m->kind == 1 ? "subscribe" : "unsubscribe", m->name, text);
    } else {
        sy_cmd_failed(sd, res, NULL);
    }
    qr_free(m->name);
    qr_free(m);
    return 0;
}

static int mgmt_send(sy_side *sd, int kind, const char *name, size_t len)
{
    static const char *const cmds[] = {"CREATE", "SUBSCRIBE", "UNSUBSCRIBE"};
    qr_cmd *cmd = NULL;
    mgmt *m;
    int rc;

    m = qr_calloc(1, sizeof(*m));
    if (m == NULL || (m->name = qr_memdup0(name, len)) == NULL) {
        qr_free(m);
        return sy_fail(sd->sync, QR_ENOMEM, sy_comp(sd), NULL, "out of memory");
    }
    m->sd = sd;
    m->kind = kind;
    if ((rc = qr_cmd_new(&cmd, cmds[kind], 0)) != 0 || (rc = sy_cmd_mailbox(cmd, name, len)) != 0) {
        qr_cmd_free(cmd);
        qr_free(m->name);
        qr_free(m);
        return sy_fail(sd->sync, rc, sy_comp(sd), NULL, "%s %s: %s", cmds[kind], name,
                       qr_strerror(rc));
    }
    rc = sy_submit(sd, cmd, 0, mgmt_done, NULL, m);
    if (rc != 0) {
        qr_free(m->name);
        qr_free(m);
    }
    return rc;
}

/* One internal name (§8 step 2). */
static int reconcile_one(struct qr_sync *s, char *in, size_t ilen)
{
    sy_side *sd[2] = {&s->side[0], &s->side[1]};
    const sy_listed *e[2];
    char *sn[2] = {NULL, NULL};
    size_t sl[2];
    int ex[2], sub[2], dbsub = 0, i, rc = 0;
    int64_t idx = -1;
    char *pretty = NULL;

    for (i = 0; i < 2; i++) {
        sn[i] = sy_server_name(sd[i], in, ilen, &sl[i]);
        if (sn[i] == NULL) {
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            goto out;
        }
        e[i] = sy_find_listed(sd[i], sn[i], sl[i]);
        ex[i] = e[i] != NULL && e[i]->exists;
        sub[i] = e[i] != NULL && e[i]->subscribed;
    }
    if (!ex[0] && !ex[1])
        goto out;
    pretty = sy_pretty(s, in, ilen);
    if (pretty == NULL) {
        rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        goto out;
    }
    rc = qr_store_mailbox_get(s->st, in, ilen, &idx, &dbsub);
    if (rc < 0) {
        rc = sy_store_fail(s, rc);
        goto out;
    }
    if (rc == 1)
        idx = -1;
    rc = 0;
    if (ex[0] && ex[1]) {
        if (idx >= 0) {
            if (sub[0] != sub[1]) {
                int j = sub[0] ? 0 : 1; /* the subscribed side */

                if (dbsub)
                    rc = mgmt_send(sd[j], 2, sn[j], sl[j]);
                else
                    rc = mgmt_send(sd[1 - j], 1, sn[1 - j], sl[1 - j]);
                if (rc == 0 && (rc = qr_store_mailbox_set_subscribed(s->st, idx, !dbsub)) != 0)
                    rc = sy_store_fail(s, rc);
            } else if (sub[0] != dbsub) {
                if ((rc = qr_store_mailbox_set_subscribed(s->st, idx, sub[0])) != 0)
                    rc = sy_store_fail(s, rc);
            }
        } else {
            int v = sub[0] || sub[1];

            if ((rc = qr_store_mailbox_add(s->st, in, ilen, v, &idx)) != 0) {
                rc = sy_store_fail(s, rc);
                goto out;
            }
            sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_DATABASE, NULL, 0, "Created mailbox %s", pretty);
            for (i = 0; i < 2 && rc == 0; i++)
                if (v && !sub[i])
                    rc = mgmt_send(sd[i], 1, sn[i], sl[i]);
        }
    } else {
        int have = ex[0] ? 0 : 1;

        if (idx >= 0) {
            rc = sy_fail(s, QR_ERROR, QR_SYNC_COMP_DATABASE, NULL,
                         "Mailbox %s exists. Run `interimap --target=database --delete %s` to "
                         "delete.",
                         pretty, pretty);
            goto out;
        }
        if ((rc = qr_store_mailbox_add(s->st, in, ilen, sub[have], &idx)) != 0) {
            rc = sy_store_fail(s, rc);
            goto out;
        }
        sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_DATABASE, NULL, 0, "Created mailbox %s", pretty);
        rc = mgmt_send(sd[1 - have], 0, sn[1 - have], sl[1 - have]);
        if (rc == 0 && sub[have])
            rc = mgmt_send(sd[1 - have], 1, sn[1 - have], sl[1 - have]);
    }
    if (rc == 0) {
        char *copy = qr_memdup0(in, ilen);

        if (copy == NULL || add_mbx(s, copy, ilen, idx) != 0) {
            qr_free(copy);
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        }
    }
out:
    qr_free(sn[0]);
    qr_free(sn[1]);
    qr_free(pretty);
    return rc;
}

int sy_reconcile(struct qr_sync *s)
{
    iname *names = NULL;
    size_t n = 0, alloc = 0, i, k;
    int rc = 0, side;

    for (side = 0; side < 2; side++) {
        sy_side *sd = &s->side[side];

        for (i = 0; i < sd->nlisted; i++) {
            size_t len;
            char *in = sy_internal_name(sd, sd->listed[i].name, sd->listed[i].len, &len);

            if (in == NULL) {
                if (sd->listed[i].len >= sd->reflen &&
                    memcmp(sd->listed[i].name, sd->ref, sd->reflen) == 0) {
                    rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
                    goto out;
                }
                continue;
            }
            if (len == 0) {
                qr_free(in);
                continue;
            }
            if (s->o.ignore != NULL && !(s->o.flags & QR_SYNC_CLI_MAILBOXES)) {
                int ig = s->o.ignore(in, len, s->o.ignore_payload);

                if (ig != 0) {
                    qr_free(in);
                    if (ig < 0) {
                        rc = sy_fail(s, ig, QR_SYNC_COMP_NONE, NULL, "ignore-mailbox: %s",
                                     qr_strerror(ig));
                        goto out;
                    }
                    continue;
                }
            }
            if (n == alloc) {
                size_t na = alloc ? alloc * 2 : 64;
                iname *nv = qr_reallocarray(names, na, sizeof(*nv));

                if (nv == NULL) {
                    qr_free(in);
                    rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
                    goto out;
                }
                names = nv;
                alloc = na;
            }
            names[n].p = in;
            names[n].len = len;
            n++;
        }
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_iname);
    for (i = 0; i < n && rc == 0; i++) {
        if (i > 0 && cmp_iname(&names[i], &names[i - 1]) == 0)
            continue;
        rc = reconcile_one(s, names[i].p, names[i].len);
    }
    if (rc == 0)
        rc = sy_wait(s);
    if (rc == 0 && (rc = qr_store_commit(s->st)) != 0)
        rc = sy_store_fail(s, rc);
out:
    for (k = 0; k < n; k++)
        qr_free(names[k].p);
    qr_free(names);
    return rc;
}
