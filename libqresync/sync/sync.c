/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The qr_sync object: options, logging, waiting for commands, and the
 * start-up sequence of a pass (interimap.md §6).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session/session_p.h"
#include "sync/sync_p.h"
#include "util/alloc.h"

QR_EXTERN int qr_sync_options_init(qr_sync_options *opts, unsigned int version)
{
    if (opts == NULL || version != QR_SYNC_OPTIONS_VERSION)
        return QR_EINVAL;
    memset(opts, 0, sizeof(*opts));
    opts->version = QR_SYNC_OPTIONS_VERSION;
    opts->log_level = QR_LOG_INFO;
    return 0;
}

QR_EXTERN int qr_sync_new(qr_sync **out, const qr_sync_options *opts)
{
    qr_sync *s;
    size_t i;
    int rc = QR_ENOMEM;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL || opts->version != QR_SYNC_OPTIONS_VERSION ||
        (opts->flags & ~(QR_SYNC_WATCH | QR_SYNC_CLI_MAILBOXES | QR_SYNC_NOTIFY)) != 0 ||
        (opts->conn[0] == NULL) != (opts->conn[1] == NULL) ||
        (opts->conn[0] != NULL && opts->conn[0] == opts->conn[1]) || opts->database == NULL ||
        (opts->npatterns > 0 && opts->patterns == NULL))
        return QR_EINVAL;
    s = qr_calloc(1, sizeof(*s));
    if (s == NULL)
        return QR_ENOMEM;
    s->o = *opts;
    s->err_comp = QR_SYNC_COMP_NONE;
    qr_errslot_clear(&s->err);
    s->database = qr_strdup(opts->database);
    if (s->database == NULL)
        goto fail;
    s->o.database = s->database;
    if (opts->list_select_opts != NULL && opts->list_select_opts[0] != '\0' &&
        (s->select_opts = qr_strdup(opts->list_select_opts)) == NULL)
        goto fail;
    s->o.list_select_opts = s->select_opts;
    if (opts->npatterns > 0) {
        s->patterns = qr_calloc(opts->npatterns, sizeof(*s->patterns));
        s->plens = qr_calloc(opts->npatterns, sizeof(*s->plens));
        if (s->patterns == NULL || s->plens == NULL)
            goto fail;
        for (i = 0; i < opts->npatterns; i++) {
            size_t len =
                opts->pattern_lens != NULL ? opts->pattern_lens[i] : strlen(opts->patterns[i]);

            s->patterns[i] = qr_memdup0(opts->patterns[i], len);
            if (s->patterns[i] == NULL)
                goto fail;
            s->plens[i] = len;
        }
        s->npatterns = opts->npatterns;
    }
    s->o.patterns = NULL;
    s->o.pattern_lens = NULL;
    for (i = 0; i < 2; i++) {
        rc = sy_side_init(&s->side[i], s, (int)i, opts->conn[i]);
        if (rc != 0)
            goto fail;
    }
    s->o.list_reference[0] = s->o.list_reference[1] = NULL;
    if (qr_loop_new(&s->loop) != 0) {
        rc = QR_ENOMEM;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    qr_sync_free(s);
    return rc == 0 ? QR_ENOMEM : rc;
}

QR_EXTERN void qr_sync_free(qr_sync *s)
{
    size_t i;

    if (s == NULL)
        return;
    if (s->loop != NULL)
        sy_drain(s);
    for (i = 0; i < 2; i++) {
        if (s->loop != NULL && s->side[i].conn != NULL)
            qr_loop_remove(s->loop, s->side[i].conn);
        sy_side_dispose(&s->side[i]);
    }
    qr_loop_free(s->loop);
    qr_store_close(s->st);
    for (i = 0; i < s->npatterns; i++)
        qr_free(s->patterns[i]);
    qr_free(s->patterns);
    qr_free(s->plens);
    for (i = 0; i < s->nmbx; i++)
        qr_free(s->mbx[i]);
    qr_free(s->mbx);
    qr_free(s->mbx_len);
    qr_free(s->mbx_idx);
    qr_free(s->mbx_known);
    qr_free(s->database);
    qr_free(s->select_opts);
    qr_free(s);
}

QR_EXTERN const qr_sync_stats *qr_sync_stats_get(const qr_sync *s)
{
    return s != NULL ? &s->stats : NULL;
}

QR_EXTERN const char *qr_sync_selected(const qr_sync *s, qr_sync_side side)
{
    const sy_side *sd;

    if (s == NULL || (side != QR_SYNC_LOCAL && side != QR_SYNC_REMOTE))
        return NULL;
    sd = &s->side[side];
    if (sd->sel == NULL || sd->s == NULL || qr_session_state_get(sd->s) != QR_SESSION_SELECTED)
        return NULL;
    return sd->sel;
}

QR_EXTERN const qr_error *qr_sync_last_error(const qr_sync *s)
{
    return s != NULL ? qr_errslot_get(&s->err) : NULL;
}

QR_EXTERN qr_sync_component qr_sync_error_component(const qr_sync *s)
{
    return s != NULL ? s->err_comp : QR_SYNC_COMP_NONE;
}

/* --- logging ------------------------------------------------------------- */

void sy_log(struct qr_sync *s, qr_log_level level, qr_sync_component comp, const char *mailbox,
            unsigned flags, const char *fmt, ...)
{
    qr_sync_log_line line;
    qr_dynbuf b;
    va_list ap;

    if (s->o.log_fn == NULL || level > s->o.log_level)
        return;
    qr_dynbuf_init(&b, 1u << 20);
    va_start(ap, fmt);
    (void)qr_dynbuf_vaddf(&b, fmt, ap);
    va_end(ap);
    line.level = level;
    line.component = comp;
    line.mailbox = mailbox;
    line.text = qr_dynbuf_str(&b);
    line.len = b.len;
    line.flags = flags;
    s->o.log_fn(&line, s->o.log_payload);
    qr_dynbuf_free(&b);
}

int sy_fail(struct qr_sync *s, int code, qr_sync_component comp, const char *mailbox,
            const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (s->failed)
        return s->failed;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->failed = code;
    s->err_comp = comp;
    qr_err_set(&s->err, code, "%s", msg);
    sy_log(s, QR_LOG_ERROR, comp, mailbox, 0, "ERROR: %s", msg);
    return code;
}

int sy_store_fail(struct qr_sync *s, int code)
{
    const qr_error *e = qr_store_last_error(s->st);

    return sy_fail(s, code, QR_SYNC_COMP_DATABASE, NULL, "%s",
                   e != NULL && e->message[0] ? e->message : qr_strerror(code));
}

qr_sync_component sy_comp(const sy_side *sd)
{
    return sd->which == QR_SYNC_LOCAL ? QR_SYNC_COMP_LOCAL : QR_SYNC_COMP_REMOTE;
}

/* The failure of a session (connection lost, protocol error). */
static int session_failed(sy_side *sd, int status)
{
    const qr_error *e = qr_conn_last_error(sd->conn);
    const char *m = e != NULL && e->message[0] ? e->message : qr_strerror(status);

    /* the reference's words for a connection the server closed */
    if ((e != NULL && e->code == QR_EOF) || status == QR_EOF)
        m = "0 bytes read (got EOF)";

    return sy_fail(sd->sync, status, sy_comp(sd), NULL, "%s", m);
}

int sy_cmd_failed(sy_side *sd, const qr_session_result *res, const char *what)
{
    (void)what;
    if (res->status == QR_ENO || res->status == QR_EBAD)
        return sy_fail(sd->sync, res->status, sy_comp(sd), sd->sel, "%s %.*s",
                       res->status == QR_ENO ? "NO" : "BAD", (int)res->text_len, res->text);
    return session_failed(sd, res->status);
}

int sy_done_fatal(qr_session *ss, const qr_session_result *res, void *payload)
{
    sy_side *sd = payload;

    (void)ss;
    if (sd->outstanding > 0)
        sd->outstanding--;
    if (res->status != 0)
        sy_cmd_failed(sd, res, NULL);
    return 0;
}

int sy_submit(sy_side *sd, qr_cmd *cmd, uint32_t claims, qr_session_done_fn done,
              qr_session_untagged_fn on_untagged, void *payload)
{
    qr_session_cmd_opts co = QR_SESSION_CMD_OPTS_INIT;
    int rc;

    co.claims = claims;
    rc = qr_session_submit(sd->s, cmd, &co, done, on_untagged, payload);
    if (rc != 0) {
        qr_cmd_free(cmd);
        return session_failed(sd, rc);
    }
    sd->outstanding++;
    return 0;
}

static int idle_pred(void *payload)
{
    struct qr_sync *s = payload;

    return s->side[0].outstanding == 0 && s->side[1].outstanding == 0;
}

static int no_append_pred(void *payload)
{
    struct qr_sync *s = payload;

    return s->appends == 0;
}

static int wait_pred(void *payload)
{
    struct qr_sync *s = payload;

    /* a cancel interrupts a copy at once; anything else runs to the end of
     * the mailbox (sy_loop() checks between mailboxes) */
    return s->failed || (s->cancelled && s->copying) || idle_pred(s);
}

void sy_drain(struct qr_sync *s)
{
    int k;

    for (k = 0; k < 2; k++)
        if (s->side[k].outstanding > 0 && s->side[k].s != NULL)
            qr_session_cancel_all(s->side[k].s);
    /* a cancel lets the APPENDs in flight finish (their copies get their
     * mapping rows), briefly; a FETCH still streaming is not waited for */
    if (!s->failed && s->appends > 0)
        (void)qr_loop_run_until(s->loop, no_append_pred, s, 5000);
    for (k = 0; k < 2; k++)
        if (s->side[k].outstanding > 0 && s->side[k].s != NULL)
            qr_session_abort(s->side[k].s, QR_ECANCELED, "synchronisation stopped");
    for (k = 0; k < 2; k++)
        s->side[k].outstanding = 0;
}

int sy_wait(struct qr_sync *s)
{
    int rc;

    if (s->failed)
        return s->failed;
    rc = qr_loop_run_until(s->loop, wait_pred, s, -1);
    if (s->cancelled && s->copying && !s->failed) {
        sy_drain(s);
        s->failed = QR_ECANCELED;
        s->err_comp = QR_SYNC_COMP_NONE;
        qr_err_set(&s->err, QR_ECANCELED, "stopped");
        return QR_ECANCELED;
    }
    if (s->failed) {
        sy_drain(s);
        return s->failed;
    }
    if (rc != 0) {
        int i;

        for (i = 0; i < 2; i++)
            if (qr_conn_state_get(s->side[i].conn) == QR_CONN_FAILED)
                return session_failed(&s->side[i], qr_conn_last_error(s->side[i].conn)->code);
        return sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "%s", qr_strerror(rc));
    }
    return 0;
}

void sy_progress(struct qr_sync *s)
{
    if (s->o.progress_fn != NULL)
        s->o.progress_fn(&s->stats, s->progress_mailbox, s->o.progress_payload);
}

/* --- the pass ------------------------------------------------------------ */

QR_EXTERN int qr_sync_open(qr_sync *s)
{
    qr_errslot es;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    if (s->st != NULL)
        return 0;
    qr_errslot_clear(&es);
    rc = qr_store_open(&s->st, s->database, (s->o.flags & QR_SYNC_WATCH) ? QR_STORE_WATCH : 0, &es);
    if (rc != 0) {
        const qr_error *e = qr_errslot_get(&es);

        qr_err_set(&s->err, rc, "%s", e->message);
        qr_errslot_set_lib_code(&s->err, e->lib_code);
        s->failed = rc;
        s->err_comp = QR_SYNC_COMP_DATABASE;
        return rc;
    }
    return 0;
}

static int connected_pred(void *payload)
{
    struct qr_sync *s = payload;
    int i, ready = 0;

    if (s->cancelled)
        return 1;
    for (i = 0; i < 2; i++) {
        qr_conn_state st = qr_conn_state_get(s->side[i].conn);

        if (st == QR_CONN_FAILED || st == QR_CONN_CLOSED)
            return 1;
        ready += st == QR_CONN_READY;
    }
    return ready == 2;
}

static int check_caps(sy_side *sd)
{
    static const struct {
        qr_cap cap;
        const char *msg;
    } need[] = {
        {QR_CAP_LIST_EXTENDED, "Non LIST-EXTENDED-capable IMAP server."},
        {QR_CAP_UIDPLUS, "Non UIDPLUS-capable IMAP server."},
        {QR_CAP_LIST_STATUS, "Non LIST-STATUS-capable IMAP server."},
        {QR_CAP_QRESYNC, "Non QRESYNC-capable IMAP server."},
    };
    size_t i;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!qr_session_has_cap(sd->s, need[i].cap) &&
            !(need[i].cap == QR_CAP_LIST_STATUS && (sd->sync->o.flags & QR_SYNC_NOTIFY))) {
            /* a `die` of the reference: the text alone, no "ERROR: " */
            struct qr_sync *s = sd->sync;

            s->failed = QR_ECAPABILITY;
            s->err_comp = QR_SYNC_COMP_NONE;
            qr_err_set(&s->err, QR_ECAPABILITY, "%s", need[i].msg);
            sy_log(s, QR_LOG_ERROR, QR_SYNC_COMP_NONE, NULL, 0, "%s", need[i].msg);
            return QR_ECAPABILITY;
        }
    return 0;
}

static int connect_both(struct qr_sync *s)
{
    int i, rc;

    if (s->connected)
        return 0;

    for (i = 0; i < 2; i++) {
        rc = qr_loop_add(s->loop, s->side[i].conn);
        if (rc != 0 && rc != QR_EINVAL)
            return sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "%s", qr_strerror(rc));
    }
    rc = qr_loop_run_until(s->loop, connected_pred, s,
                           s->o.connect_timeout_ms > 0 ? s->o.connect_timeout_ms : -1);
    if (sy_cancelled(s) != 0)
        return s->failed;
    /* the side that failed first; otherwise local first, as the reference reports */
    for (int pass = 0; pass < 2; pass++)
        for (i = 0; i < 2; i++) {
            qr_conn_state st = qr_conn_state_get(s->side[i].conn);
            const qr_error *e = qr_conn_last_error(s->side[i].conn);
            int code;

            if (st == QR_CONN_READY || (pass == 0 && st != QR_CONN_FAILED))
                continue;
            code = e != NULL && e->code != 0 ? e->code : rc != 0 ? rc : QR_ECANCELED;
            if (st == QR_CONN_CONNECTING && rc == QR_EAGAIN)
                return sy_fail(s, QR_EAGAIN, sy_comp(&s->side[i]), NULL, "connection timed out");
            if (code == QR_EOF)
                return sy_fail(s, code, sy_comp(&s->side[i]), NULL, "0 bytes read (got EOF)");
            return sy_fail(s, code, sy_comp(&s->side[i]), NULL, "%s",
                           e != NULL && e->message[0] ? e->message : qr_strerror(code));
        }
    for (i = 0; i < 2; i++) {
        s->side[i].s = qr_conn_session(s->side[i].conn);
        qr_session_set_tap(s->side[i].s, sy_tap, &s->side[i]);
    }
    for (i = 0; i < 2; i++) {
        rc = check_caps(&s->side[i]);
        if (rc != 0)
            return rc;
    }
    s->connected = 1;
    return 0;
}

static int schema(struct qr_sync *s)
{
    qr_store_schema_action act = QR_STORE_SCHEMA_CURRENT;
    int ld = s->side[0].delim, rd = s->side[1].delim;
    char a[8], b[8];
    int rc;

    if ((ld < 0) != (rd < 0)) {
        sy_delim_text(ld, a, sizeof(a));
        sy_delim_text(rd, b, sizeof(b));
        return sy_fail(s, QR_ERROR, QR_SYNC_COMP_NONE, NULL,
                       "Local and remote namespaces are neither both flat nor both hierarchical "
                       "(local %s, remote %s).",
                       a, b);
    }
    rc = qr_store_schema(s->st, ld < 0 ? 0 : (char)ld, rd < 0 ? 0 : (char)rd, &act);
    if (act == QR_STORE_SCHEMA_CREATED)
        sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_NONE, NULL, 0,
               "Creating new schema in database file %s", s->database);
    else if (act == QR_STORE_SCHEMA_UPGRADED)
        sy_log(s, QR_LOG_INFO, QR_SYNC_COMP_NONE, NULL, 0, "Upgrading database version from 0");
    if (rc != 0)
        return sy_store_fail(s, rc);
    return 0;
}

QR_EXTERN int qr_sync_attach(qr_sync *s, qr_conn *local, qr_conn *remote)
{
    if (s == NULL || local == NULL || remote == NULL || local == remote ||
        s->side[0].conn != NULL || s->side[1].conn != NULL)
        return QR_EINVAL;
    s->side[0].conn = local;
    s->side[1].conn = remote;
    return 0;
}

QR_EXTERN void qr_sync_cancel(qr_sync *s)
{
    if (s != NULL)
        s->cancelled = 1;
}

int sy_cancelled(struct qr_sync *s)
{
    if (!s->cancelled)
        return 0;
    if (!s->failed) {
        s->failed = QR_ECANCELED;
        s->err_comp = QR_SYNC_COMP_NONE;
        qr_err_set(&s->err, QR_ECANCELED, "stopped");
    }
    return s->failed;
}

int sy_prepare(struct qr_sync *s)
{
    int rc;

    if (s->failed)
        return s->failed;
    if (s->cancelled)
        return QR_ECANCELED;
    rc = qr_sync_open(s);
    if (rc != 0) {
        sy_log(s, QR_LOG_ERROR, QR_SYNC_COMP_NONE, NULL, 0, "%s", qr_errslot_get(&s->err)->message);
        return rc;
    }
    sy_list_reset(s);
    if ((rc = connect_both(s)) != 0 || (rc = sy_list_both(s)) != 0 ||
        (!s->schema_done && (rc = schema(s)) != 0))
        return s->failed ? s->failed : rc;
    s->schema_done = 1;
    return 0;
}

QR_EXTERN int qr_sync_run(qr_sync *s)
{
    size_t current = SIZE_MAX;
    int notify, rc;

    if (s == NULL || s->side[0].conn == NULL)
        return QR_EINVAL;
    if (s->failed)
        return s->failed;
    memset(&s->stats, 0, sizeof(s->stats));
    notify = (s->o.flags & QR_SYNC_NOTIFY) != 0;
    s->list_mode = notify ? SY_LIST_SUBSCRIBED : SY_LIST_STATUS;
    /* notify mode lists once, then again only when notifications say so */
    if (!notify || s->passes == 0 || s->relist) {
        s->relist = 0;
        s->notified = 0;
        if ((rc = sy_prepare(s)) != 0 || (rc = sy_reconcile(s)) != 0 ||
            (rc = sy_recover(s, &current)) != 0 || (rc = sy_load_state(s)) != 0 ||
            (notify && (rc = sy_notify_set(s)) != 0))
            return s->failed ? s->failed : rc;
    }
    s->passes++;
    rc = sy_loop(s, current);
    s->all_dirty = 0;
    if (rc != 0)
        return s->failed ? s->failed : rc;
    /* end the (read) transaction: nothing is held across the wait */
    if ((rc = qr_store_commit(s->st)) != 0)
        return sy_store_fail(s, rc);
    return 0;
}
