/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dc-util: the blocking plumbing of test-mbox-dovecot.
 *
 * The test drives real Dovecot through the library's own connection
 * stack: each dc_conn is a qr_conn over the rig's PREAUTH tunnel
 * (QR_RIG_STORE0_COMMAND) with QRESYNC enabled, plus a private qr_loop.
 * Commands are built with the typed builder and submitted with
 * qr_session_submit(); dc_run() then spins the loop until the command's
 * completion fired. When a dc_conn has an engine attached (d->eng), every
 * unsolicited response and every tagged response of dc_run() goes to it,
 * so that an engine sees the whole response stream of its connection, as
 * a synchronizer would route it.
 *
 * dc_scan_take() is the reference side of the comparison: a plain SELECT
 * (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and EXISTS from its untagged data)
 * followed by UID FETCH 1:* (UID FLAGS MODSEQ), collected into a sorted
 * array of (UID, MODSEQ, flags) with flags interned in the test's table.
 */
#include "config.h"

#include "dc-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DC_WAIT_MS 20000

static const char *dc_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "";
}

/* on_unsolicited of every dc_conn: to the attached engine, if any. */
static int dc_unsolicited(qr_session *s, const qr_resp *resp, void *payload)
{
    dc_conn *d = payload;
    int rc;

    (void)s;
    if (d->eng == NULL)
        return 0;
    rc = qr_mbox_engine_feed(d->eng, resp);
    if (rc != 0 && d->feed_rc == 0)
        d->feed_rc = rc;
    return 0;
}

int dc_feed_engine(qr_session *s, const qr_resp *resp, void *payload)
{
    return dc_unsolicited(s, resp, payload);
}

/* Wire log on stdout as TAP diagnostics (QR_MBOX_DOVECOT_DEBUG=1). */
static void dc_log(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    (void)level;
    (void)cat;
    printf("# [%s] %.*s\n", (const char *)payload, (int)len, text);
}

int dc_open(dc_conn *d, qr_kwtable *kw)
{
    qr_conn_options o;
    int rc;

    (void)kw;
    memset(d, 0, sizeof(*d));
    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.type = QR_CONN_TUNNEL;
    o.command = dc_env("QR_RIG_STORE0_COMMAND");
    o.null_stderr = 1;
    o.compress = 0;
    o.enable = "QRESYNC";
    o.io_timeout_ms = 15000;
    o.on_unsolicited = dc_unsolicited;
    o.payload = d;
    if (getenv("QR_MBOX_DOVECOT_DEBUG") != NULL) {
        static char names[2][4] = {"d1", "d2"};
        static int count;

        o.log_fn = dc_log;
        o.log_payload = names[count++ & 1];
        o.log_level = QR_LOG_DEBUG;
    }
    rc = qr_conn_new(&d->c, &o);
    if (rc == 0)
        rc = qr_conn_connect_wait(d->c, DC_WAIT_MS);
    if (rc == 0)
        rc = qr_loop_new(&d->loop);
    if (rc == 0)
        rc = qr_loop_add(d->loop, d->c);
    if (rc != 0 && d->c != NULL)
        printf("# connect: %s\n", qr_conn_last_error(d->c)->message);
    return rc;
}

void dc_close(dc_conn *d)
{
    if (d->c != NULL) {
        if (d->loop != NULL)
            qr_loop_remove(d->loop, d->c);
        qr_conn_close_wait(d->c, DC_WAIT_MS);
        qr_conn_free(d->c);
    }
    qr_loop_free(d->loop);
    memset(d, 0, sizeof(*d));
}

/* What one dc_run() waits for. */
typedef struct dc_wait {
    dc_conn *d;
    dc_result *res;
    qr_session_untagged_fn fn;
    void *payload;
    size_t done;
} dc_wait;

static int dc_untagged(qr_session *s, const qr_resp *resp, void *payload)
{
    dc_wait *w = payload;

    /* without a handler, the responses go where unsolicited ones go */
    return w->fn != NULL ? w->fn(s, resp, w->payload) : dc_unsolicited(s, resp, w->d);
}

/* The tagged response rebuilt as an event, for the attached engine. */
static void dc_feed_tagged(dc_conn *d, const qr_session_result *r)
{
    qr_resp resp;

    if (d->eng == NULL || r->code == NULL)
        return;
    memset(&resp, 0, sizeof(resp));
    resp.kind = QR_RESP_TAGGED;
    resp.tag.ptr = r->tag;
    resp.tag.len = r->tag != NULL ? strlen(r->tag) : 0;
    resp.cond = r->status == 0 ? QR_COND_OK : r->status == QR_ENO ? QR_COND_NO : QR_COND_BAD;
    resp.text.code = *r->code;
    resp.text.text.ptr = r->text;
    resp.text.text.len = r->text_len;
    dc_unsolicited(NULL, &resp, d);
}

static int dc_done(qr_session *s, const qr_session_result *r, void *payload)
{
    dc_wait *w = payload;

    (void)s;
    w->res->status = r->status;
    w->res->code = r->code != NULL ? r->code->kind : QR_CODE_NONE;
    w->res->appenduid = 0;
    if (r->code != NULL && r->code->kind == QR_CODE_APPENDUID && r->code->set != NULL) {
        size_t n = 0;
        const qr_range *rg = qr_uidset_ranges(r->code->set, &n);

        if (n > 0)
            w->res->appenduid = rg[0].lo;
    }
    snprintf(w->res->text, sizeof(w->res->text), "%s", r->text != NULL ? r->text : "");
    dc_feed_tagged(w->d, r);
    w->done++;
    return 0;
}

int dc_run(dc_conn *d, qr_cmd *cmd, uint32_t claims, qr_session_untagged_fn on_untagged,
           void *payload, dc_result *res)
{
    qr_session_cmd_opts o = QR_SESSION_CMD_OPTS_INIT;
    dc_wait w;
    int rc;

    memset(res, 0, sizeof(*res));
    if (d->c == NULL) {
        qr_cmd_free(cmd);
        return QR_ECANCELED;
    }
    w.d = d;
    w.res = res;
    w.fn = on_untagged;
    w.payload = payload;
    w.done = 0;
    o.claims = claims;
    rc = qr_session_submit(qr_conn_session(d->c), cmd, &o, dc_done, dc_untagged, &w);
    if (rc != 0) {
        qr_cmd_free(cmd);
        return rc;
    }
    rc = qr_loop_run_count(d->loop, &w.done, 1, DC_WAIT_MS);
    if (rc != 0) {
        /* w must not outlive this call: drop the connection now (its
         * commands complete here) and fail every later dc_run() */
        printf("# connection lost (%d): %s\n", rc, qr_conn_last_error(d->c)->message);
        qr_loop_remove(d->loop, d->c);
        qr_conn_free(d->c);
        d->c = NULL;
        return rc;
    }
    if (res->status != 0)
        printf("# command failed (%d): %s [%s]\n", res->status, res->text,
               qr_conn_last_error(d->c)->message);
    return res->status;
}

int dc_simple(dc_conn *d, const char *name, const char *raw_args)
{
    qr_cmd *cmd = NULL;
    dc_result res;
    int rc = qr_cmd_new(&cmd, name, 0);

    if (rc != 0)
        return rc;
    if (raw_args != NULL)
        qr_cmd_add_raw(cmd, raw_args);
    return dc_run(d, cmd, DC_CLAIM_ALL, NULL, NULL, &res);
}

int dc_select(dc_conn *d, const char *mbox)
{
    return dc_mailbox_cmd(d, "SELECT", mbox);
}

int dc_mailbox_cmd(dc_conn *d, const char *name, const char *mbox)
{
    qr_cmd *cmd = NULL;
    dc_result res;
    int rc = qr_cmd_new(&cmd, name, 0);

    if (rc != 0)
        return rc;
    qr_cmd_add_mailbox(cmd, mbox);
    return dc_run(d, cmd, DC_CLAIM_ALL, NULL, NULL, &res);
}

int dc_append(dc_conn *d, const char *mbox, const char *const *flags, size_t nflags,
              uint32_t *uid_out)
{
    static unsigned long counter;
    char body[256];
    qr_cmd *cmd = NULL;
    dc_result res;
    int rc = qr_cmd_new(&cmd, "APPEND", 0);

    if (rc != 0)
        return rc;
    snprintf(body, sizeof(body),
             "From: a@example.org\r\nSubject: m%lu\r\nMessage-ID: <m%lu@qr>\r\n\r\nbody %lu\r\n",
             counter, counter, counter);
    counter++;
    qr_cmd_add_mailbox(cmd, mbox);
    qr_cmd_add_flags(cmd, flags, nflags);
    qr_cmd_add_literal(cmd, body, strlen(body), 0);
    rc = dc_run(d, cmd, DC_CLAIM_ALL, NULL, NULL, &res);
    if (rc == 0 && uid_out != NULL)
        *uid_out = res.appenduid;
    return rc;
}

int dc_store(dc_conn *d, uint32_t uid, const char *op, const char *const *flags, size_t nflags)
{
    qr_cmd *cmd = NULL;
    dc_result res;
    int rc = qr_cmd_new(&cmd, "UID STORE", 0);

    if (rc != 0)
        return rc;
    qr_cmd_add_number(cmd, uid);
    qr_cmd_add_atom(cmd, op);
    qr_cmd_add_flags(cmd, flags, nflags);
    return dc_run(d, cmd, DC_CLAIM_ALL, NULL, NULL, &res);
}

/* Collector of dc_scan_take(). */
typedef struct dc_collect {
    dc_scan *s;
    qr_kwtable *kw;
    int rc;
} dc_collect;

static void dc_on_code(dc_scan *s, const qr_resp_code *code)
{
    if (code->kind == QR_CODE_UIDVALIDITY)
        s->uidvalidity = (uint32_t)code->number;
    else if (code->kind == QR_CODE_UIDNEXT)
        s->uidnext = (uint32_t)code->number;
    else if (code->kind == QR_CODE_HIGHESTMODSEQ)
        s->hms = code->number;
    else if (code->kind == QR_CODE_CLOSED)
        s->uidvalidity = s->uidnext = 0, s->hms = 0;
}

static int dc_add_msg(dc_collect *k, const qr_resp_fetch *f)
{
    dc_scan *s = k->s;
    dc_msg *m;
    size_t i;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        dc_msg *p = realloc(s->m, cap * sizeof(*p));

        if (p == NULL)
            return QR_ENOMEM;
        s->m = p;
        s->cap = cap;
    }
    m = &s->m[s->n++];
    m->uid = f->uid;
    m->modseq = f->modseq;
    memset(&m->flags, 0, sizeof(m->flags));
    for (i = 0; i < f->flags.count; i++) {
        int rc =
            qr_flagset_add_name(&m->flags, k->kw, f->flags.items[i].ptr, f->flags.items[i].len);
        if (rc != 0)
            return rc;
    }
    m->flags.sys &= ~QR_FLAG_RECENT;
    return 0;
}

static int dc_collect_fn(qr_session *s, const qr_resp *resp, void *payload)
{
    dc_collect *k = payload;

    (void)s;
    if (resp->kind == QR_RESP_COND)
        dc_on_code(k->s, &resp->text.code);
    else if (resp->kind == QR_RESP_EXISTS)
        k->s->exists = resp->u.number;
    else if (resp->kind == QR_RESP_FETCH && (resp->u.fetch.present & QR_FETCH_UID) != 0 &&
             k->rc == 0)
        k->rc = dc_add_msg(k, &resp->u.fetch);
    return 0;
}

static int dc_cmp_msg(const void *a, const void *b)
{
    uint32_t x = ((const dc_msg *)a)->uid, y = ((const dc_msg *)b)->uid;

    return x < y ? -1 : x > y;
}

int dc_scan_take(dc_conn *d, const char *mbox, qr_kwtable *kw, dc_scan *out)
{
    dc_collect k;
    dc_result res;
    qr_cmd *cmd = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    k.s = out;
    k.kw = kw;
    k.rc = 0;
    rc = qr_cmd_new(&cmd, "SELECT", 0);
    if (rc != 0)
        return rc;
    qr_cmd_add_mailbox(cmd, mbox);
    rc = dc_run(d, cmd, DC_CLAIM_ALL, dc_collect_fn, &k, &res);
    if (rc == 0 && out->exists > 0) {
        rc = qr_cmd_new(&cmd, "UID FETCH", 0);
        if (rc == 0) {
            qr_cmd_add_raw(cmd, "1:* (UID FLAGS MODSEQ)");
            rc = dc_run(d, cmd, DC_CLAIM_ALL, dc_collect_fn, &k, &res);
        }
    }
    if (rc == 0)
        rc = k.rc;
    if (out->n > 1)
        qsort(out->m, out->n, sizeof(*out->m), dc_cmp_msg);
    return rc;
}

void dc_scan_dispose(dc_scan *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        qr_flagset_dispose(&s->m[i].flags);
    free(s->m);
    memset(s, 0, sizeof(*s));
}

const dc_msg *dc_scan_find(const dc_scan *s, uint32_t uid)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->m[mid].uid == uid)
            return &s->m[mid];
        if (s->m[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
