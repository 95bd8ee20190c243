/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The qr_pull object: options, logging, failures, waiting for commands, the
 * session tap, and the start-up of spec/pullimap.md §4.1 (connection,
 * state file, PCACHE, SELECT and the UIDVALIDITY check, the first pull and
 * purge).
 *
 * Failures are sticky: the first code is kept in `failed` with its text in
 * `err`; IMAP and connection failures are logged as `ERROR: TEXT`, while
 * those of the state file and of the host's callbacks are not (the
 * reference prints the former without any prefix, the host reports the
 * latter itself); all are in qr_pull_last_error().
 *
 * The tap keeps the CACHE of imap-client.md §8.2-§8.4 that matters here:
 * UIDVALIDITY and UIDNEXT from response codes, UIDNEXT raised by FETCH
 * UIDs, EXISTS and its growth (the new-messages counter), EXPUNGE (and
 * VANISHED, should the host have enabled QRESYNC).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pull/pull_p.h"
#include "session/session_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"
#include "util/text.h"

QR_EXTERN int qr_pull_options_init(qr_pull_options *opts, unsigned int version)
{
    if (opts == NULL || version != QR_PULL_OPTIONS_VERSION)
        return QR_EINVAL;
    memset(opts, 0, sizeof(*opts));
    opts->version = QR_PULL_OPTIONS_VERSION;
    opts->mailbox = "INBOX";
    opts->log_level = QR_LOG_INFO;
    return 0;
}

QR_EXTERN int qr_pull_new(qr_pull **out, const qr_pull_options *opts)
{
    qr_pull *p;
    const char *mbox;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL || opts->version != QR_PULL_OPTIONS_VERSION ||
        (opts->flags & ~(QR_PULL_IDLE | QR_PULL_NO_DELIVERY)) != 0 || opts->statefile == NULL ||
        opts->statefile[0] == '\0' ||
        (opts->deliver == NULL && !(opts->flags & QR_PULL_NO_DELIVERY)) ||
        (opts->mailbox != NULL && opts->mailbox[0] == '\0'))
        return QR_EINVAL;
    p = qr_calloc(1, sizeof(*p));
    if (p == NULL)
        return QR_ENOMEM;
    p->o = *opts;
    p->body.fd = -1;
    p->ready.body.fd = -1;
    pl_state_init(&p->st);
    qr_errslot_clear(&p->err);
    qr_logger_init(&p->log, opts->log_fn, opts->log_payload, opts->log_level);
    mbox =
        opts->mailbox == NULL || strcasecmp(opts->mailbox, "INBOX") == 0 ? "INBOX" : opts->mailbox;
    p->statefile = qr_strdup(opts->statefile);
    p->mailbox = qr_strdup(mbox);
    if (p->statefile == NULL || p->mailbox == NULL || qr_loop_new(&p->loop) != 0 ||
        qr_uidset_new(&p->ignore) != 0 || qr_uidset_new(&p->delivered) != 0 ||
        qr_uidset_new(&p->handled) != 0 || qr_uidset_new(&p->fetch_set) != 0) {
        qr_pull_free(p);
        return QR_ENOMEM;
    }
    p->o.statefile = p->statefile;
    p->o.mailbox = p->mailbox;
    *out = p;
    return 0;
}

/* Abort what is still in flight (every completion then runs). */
static void drain(qr_pull *p)
{
    if (p->s != NULL && p->outstanding > 0)
        qr_session_abort(p->s, QR_ECANCELED, "pull stopped");
    p->outstanding = 0;
    pl_fetch_reset(p);
}

QR_EXTERN void qr_pull_free(qr_pull *p)
{
    if (p == NULL)
        return;
    drain(p);
    if (p->s != NULL)
        qr_session_set_tap(p->s, NULL, NULL);
    if (p->loop != NULL && p->conn != NULL)
        qr_loop_remove(p->loop, p->conn);
    qr_loop_free(p->loop);
    pl_state_close(&p->st);
    qr_uidset_free(p->ignore);
    qr_uidset_free(p->delivered);
    qr_uidset_free(p->handled);
    qr_uidset_free(p->fetch_set);
    qr_free(p->rec);
    qr_free(p->statefile);
    qr_free(p->mailbox);
    qr_free(p);
}

QR_EXTERN const qr_pull_stats *qr_pull_stats_get(const qr_pull *p)
{
    return p != NULL ? &p->stats : NULL;
}

QR_EXTERN const qr_error *qr_pull_last_error(const qr_pull *p)
{
    return p != NULL ? qr_errslot_get(&p->err) : NULL;
}

QR_EXTERN const char *qr_pull_selected(const qr_pull *p)
{
    if (p == NULL || !p->selected || p->s == NULL ||
        qr_session_state_get(p->s) != QR_SESSION_SELECTED)
        return NULL;
    return p->mailbox;
}

QR_EXTERN void qr_pull_cancel(qr_pull *p)
{
    if (p != NULL)
        p->cancelled = 1;
}

/* --- logging and failures ------------------------------------------------- */

static void vlog_line(qr_pull *p, qr_log_level level, const char *fmt, va_list ap) QR_PRINTF(3, 0);
static int vfail(qr_pull *p, int code, int logged, const char *fmt, va_list ap) QR_PRINTF(4, 0);

static void vlog_line(qr_pull *p, qr_log_level level, const char *fmt, va_list ap)
{
    qr_dynbuf b;
    char *esc;
    size_t cap, len;

    if (!qr_logger_enabled(&p->log, level))
        return;
    qr_dynbuf_init(&b, (size_t)1 << 20);
    if (qr_dynbuf_vaddf(&b, fmt, ap) == 0) {
        cap = b.len * 4 + 4;
        esc = qr_malloc(cap);
        if (esc != NULL) {
            len = qr_text_escape(esc, cap, qr_dynbuf_str(&b), b.len);
            p->log.fn(level, QR_LOG_EVENT, esc, len, p->log.payload);
            qr_free(esc);
        }
    }
    qr_dynbuf_free(&b);
}

void pl_log(qr_pull *p, qr_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog_line(p, level, fmt, ap);
    va_end(ap);
}

static int vfail(qr_pull *p, int code, int logged, const char *fmt, va_list ap)
{
    char msg[QR_ERR_MESSAGE_MAX];

    if (p->failed)
        return p->failed;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    p->failed = code;
    qr_err_set(&p->err, code, "%s", msg);
    if (logged)
        pl_log(p, QR_LOG_ERROR, "ERROR: %s", msg);
    return code;
}

int pl_fail(qr_pull *p, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(p, code, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int pl_fail_quiet(qr_pull *p, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(p, code, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int pl_cancelled(qr_pull *p)
{
    if (!p->failed)
        qr_err_set(&p->err, QR_ECANCELED, "stopped");
    return QR_ECANCELED;
}

/* A state-file error recorded in es: kept as it is, not logged. */
static int state_failed(qr_pull *p, const qr_errslot *es)
{
    const qr_error *e = qr_errslot_get(es);

    if (p->failed)
        return p->failed;
    p->failed = e->code;
    qr_err_set(&p->err, e->code, "%s", e->message);
    p->err.pub.sys_errno = e->sys_errno;
    return e->code;
}

/* The connection's failure (lost, timed out, protocol error). */
static int conn_failed(qr_pull *p, int code)
{
    const qr_error *e = p->conn != NULL ? qr_conn_last_error(p->conn) : NULL;

    if (e != NULL && e->code != 0)
        return pl_fail(p, e->code, "%s", e->message[0] ? e->message : qr_strerror(e->code));
    return pl_fail(p, code, "%s", qr_strerror(code));
}

/* As the reference: `NO TEXT`, the response code left out. */
int pl_cmd_failed(qr_pull *p, const qr_session_result *res)
{
    if (res->status != QR_ENO && res->status != QR_EBAD)
        return conn_failed(p, res->status);
    return pl_fail(p, res->status, "%s %s", res->status == QR_ENO ? "NO" : "BAD", res->text);
}

/* --- commands and waiting ---------------------------------------------------- */

int pl_done(qr_session *s, const qr_session_result *res, void *payload)
{
    qr_pull *p = payload;

    (void)s;
    if (p->outstanding > 0)
        p->outstanding--;
    if (res->status != 0)
        pl_cmd_failed(p, res);
    return 0;
}

int pl_submit(qr_pull *p, qr_cmd *cmd, const qr_session_cmd_opts *co,
              qr_session_untagged_fn on_untagged)
{
    int rc = qr_session_submit(p->s, cmd, co, pl_done, on_untagged, p);

    if (rc != 0) {
        qr_cmd_free(cmd);
        return conn_failed(p, rc);
    }
    p->outstanding++;
    return 0;
}

typedef struct piece_ctx {
    qr_pull *p;
    const char *name, *tail;
    const qr_session_cmd_opts *co;
    qr_session_untagged_fn on_untagged;
} piece_ctx;

static int submit_piece(const char *piece, size_t len, void *payload)
{
    piece_ctx *c = payload;
    char set[4100];
    qr_cmd *cmd = NULL;
    int rc;

    if (len >= sizeof(set))
        return pl_fail(c->p, QR_ERROR, "UID set piece too long");
    memcpy(set, piece, len);
    set[len] = '\0';
    if ((rc = qr_cmd_new(&cmd, c->name, 0)) != 0 || (rc = qr_cmd_add_raw(cmd, set)) != 0 ||
        (c->tail != NULL && (rc = qr_cmd_add_raw(cmd, c->tail)) != 0)) {
        qr_cmd_free(cmd);
        return pl_fail(c->p, rc, "%s: %s", c->name, qr_strerror(rc));
    }
    return pl_submit(c->p, cmd, c->co, c->on_untagged);
}

int pl_submit_pieces(qr_pull *p, const char *name, const qr_uidset *set, const char *tail,
                     const qr_session_cmd_opts *co, qr_session_untagged_fn on_untagged)
{
    piece_ctx c = {p, name, tail, co, on_untagged};
    int rc = qr_uidset_format_split(set, 4096, submit_piece, &c);

    if (rc != 0 && !p->failed)
        return pl_fail(p, rc, "%s: %s", name, qr_strerror(rc));
    return rc;
}

static int wait_pred(void *payload)
{
    qr_pull *p = payload;

    return p->failed || p->cancelled || p->ready.set || p->outstanding == 0;
}

static int wait_keep_pred(void *payload)
{
    qr_pull *p = payload;

    return p->failed || p->ready.set || p->outstanding == 0;
}

int pl_wait(qr_pull *p, int keep_cancel)
{
    int rc;

    for (;;) {
        if (p->failed)
            break;
        rc = qr_loop_run_until(p->loop, keep_cancel ? wait_keep_pred : wait_pred, p, -1);
        if (p->failed || (p->cancelled && !keep_cancel))
            break;
        if (p->ready.set) {
            pl_handle_ready(p);
            continue;
        }
        if (rc != 0)
            return conn_failed(p, rc);
        return 0;
    }
    if (!p->failed)
        pl_fail_quiet(p, QR_ECANCELED, "stopped");
    drain(p);
    return p->failed;
}

/* --- CACHE: the session tap --------------------------------------------------- */

static void code_seen(qr_pull *p, const qr_resp_code *c)
{
    if (c->kind == QR_CODE_UIDNEXT && c->number > 0 && c->number <= UINT32_MAX) {
        p->c_uidnext = (uint32_t)c->number;
        p->c_has_uidnext = 1;
    } else if (c->kind == QR_CODE_UIDVALIDITY && c->number <= UINT32_MAX) {
        p->c_uidvalidity = (uint32_t)c->number;
        p->c_has_uidvalidity = 1;
    }
}

static int tap(qr_session *s, const qr_resp *r, void *payload)
{
    qr_pull *p = payload;

    (void)s;
    switch (r->kind) {
    case QR_RESP_EXISTS:
        if (p->c_has_exists && r->u.number > p->c_exists)
            p->new_mails += r->u.number - p->c_exists;
        p->c_exists = r->u.number;
        p->c_has_exists = 1;
        break;
    case QR_RESP_EXPUNGE:
        if (p->c_has_exists) {
            if (p->new_mails == 1 && r->u.number == p->c_exists)
                p->new_mails = 0;
            if (p->c_exists > 0)
                p->c_exists--;
        }
        break;
    case QR_RESP_VANISHED: /* only if the host enabled QRESYNC */
        if (p->c_has_exists && !r->u.vanished.earlier) {
            uint64_t n = qr_uidset_count(r->u.vanished.set);

            p->c_exists = n < p->c_exists ? p->c_exists - (uint32_t)n : 0;
        }
        break;
    case QR_RESP_FETCH:
        if (p->c_has_exists && r->u.fetch.seq > p->c_exists)
            p->c_exists = r->u.fetch.seq;
        if ((r->u.fetch.present & QR_FETCH_UID) && r->u.fetch.uid < UINT32_MAX &&
            (!p->c_has_uidnext || r->u.fetch.uid >= p->c_uidnext)) {
            p->c_uidnext = r->u.fetch.uid + 1;
            p->c_has_uidnext = 1;
        }
        break;
    case QR_RESP_COND:
    case QR_RESP_TAGGED:
        code_seen(p, &r->text.code);
        break;
    default:
        break;
    }
    return 0;
}

int pl_has_new_mails(const qr_pull *p)
{
    return p->new_mails > 0 || !p->c_has_uidnext || p->p_uidnext == 0 ||
           p->c_uidnext != p->p_uidnext;
}

void pl_log_pcache(qr_pull *p, int have_state)
{
    if (!have_state)
        pl_log(p, QR_LOG_DEBUG, "Update last clean state for %s: ()", p->mailbox);
    else if (p->p_uidnext == 0)
        pl_log(p, QR_LOG_DEBUG, "Update last clean state for %s: (UIDVALIDITY %" PRIu32 ")",
               p->mailbox, p->uidvalidity);
    else
        pl_log(p, QR_LOG_DEBUG,
               "Update last clean state for %s: (UIDVALIDITY %" PRIu32 " UIDNEXT %" PRIu32 ")",
               p->mailbox, p->uidvalidity, p->p_uidnext);
}

/* --- start-up ------------------------------------------------------------------ */

QR_EXTERN int qr_pull_open(qr_pull *p)
{
    qr_errslot es;
    int rc;

    if (p == NULL)
        return QR_EINVAL;
    if (p->st.fd >= 0)
        return 0;
    qr_errslot_clear(&es);
    rc = pl_state_open(&p->st, p->statefile, !(p->o.flags & QR_PULL_IDLE), &es);
    if (rc != 0) { /* not sticky: a later qr_pull_open() may succeed */
        qr_err_set(&p->err, rc, "%s", qr_errslot_get(&es)->message);
        p->err.pub.sys_errno = qr_errslot_get(&es)->sys_errno;
    }
    return rc;
}

QR_EXTERN int qr_pull_attach(qr_pull *p, qr_conn *conn)
{
    if (p == NULL || conn == NULL || p->st.fd < 0 || p->conn != NULL)
        return QR_EINVAL;
    p->conn = conn;
    return 0;
}

static int connected_pred(void *payload)
{
    qr_pull *p = payload;
    qr_conn_state st = qr_conn_state_get(p->conn);

    return p->cancelled || st == QR_CONN_READY || st == QR_CONN_FAILED || st == QR_CONN_CLOSED;
}

static int connect_conn(qr_pull *p)
{
    int rc;

    if (p->s != NULL)
        return 0;
    rc = qr_loop_add(p->loop, p->conn);
    if (rc != 0 && rc != QR_EINVAL)
        return pl_fail(p, rc, "%s", qr_strerror(rc));
    rc = qr_loop_run_until(p->loop, connected_pred, p, -1);
    if (p->cancelled)
        return pl_fail_quiet(p, QR_ECANCELED, "stopped");
    if (qr_conn_state_get(p->conn) != QR_CONN_READY)
        return conn_failed(p, rc != 0 ? rc : QR_ECANCELED);
    p->s = qr_conn_session(p->conn);
    qr_session_set_tap(p->s, tap, p);
    return 0;
}

/* SELECT MAILBOX (plain) and wait; CACHE starts afresh. */
static int select_mailbox(qr_pull *p)
{
    qr_cmd *cmd = NULL;
    int rc;

    p->c_has_uidvalidity = p->c_has_uidnext = p->c_has_exists = 0;
    p->new_mails = 0;
    rc = qr_cmd_new(&cmd, "SELECT", 0);
    if (rc == 0)
        rc = qr_cmd_add_astring(cmd, p->mailbox, strlen(p->mailbox));
    if (rc != 0) {
        qr_cmd_free(cmd);
        return pl_fail(p, rc, "SELECT: %s", qr_strerror(rc));
    }
    rc = pl_submit(p, cmd, NULL, NULL);
    return rc != 0 ? rc : pl_wait(p, 0);
}

/* §4.1 steps 3-6: the file's header, PCACHE, SELECT, UIDVALIDITY, the list. */
static int start(qr_pull *p)
{
    uint32_t uv = 0, un = 0, uid;
    int has_uv, has_un, rc;
    qr_errslot es;
    uint64_t off;

    qr_errslot_clear(&es);
    if ((has_uv = pl_state_read(&p->st, 0, &uv, &es)) < 0 ||
        (has_uv && (has_un = pl_state_read(&p->st, 4, &un, &es)) < 0))
        return state_failed(p, &es);
    if (!has_uv)
        has_un = 0;
    p->uidvalidity = uv;
    p->p_uidnext = has_un ? un : 0;
    pl_log_pcache(p, has_uv);
    if ((rc = select_mailbox(p)) != 0)
        return rc;
    if (!p->c_has_uidvalidity)
        return pl_fail(p, QR_EPROTO, "No UIDVALIDITY for %s", p->mailbox);
    if (has_uv && uv != p->c_uidvalidity)
        return pl_fail(p, QR_EUIDVALIDITY,
                       "UIDVALIDITY changed! (%" PRIu32 " != %" PRIu32
                       ")  Need to invalidate the UID cache for %s.",
                       uv, p->c_uidvalidity, p->mailbox);
    p->uidvalidity = p->c_uidvalidity;
    if (!has_uv && pl_state_write(&p->st, 0, &p->uidvalidity, 1, &es) != 0)
        return state_failed(p, &es);
    if (!has_un) {
        un = 1;
        if (pl_state_write(&p->st, 4, &un, 1, &es) != 0)
            return state_failed(p, &es);
    }
    for (off = 8; has_un; off += 4) {
        rc = pl_state_read(&p->st, off, &uid, &es);
        if (rc < 0)
            return state_failed(p, &es);
        if (rc == 0)
            break;
        if (pl_rec_add(p, uid) != 0)
            return pl_fail(p, QR_ENOMEM, "out of memory");
    }
    p->stored_next = un;
    p->p_uidnext = un;
    p->selected = 1;
    p->started = 1;
    return 0;
}

QR_EXTERN int qr_pull_run(qr_pull *p)
{
    int rc;

    if (p == NULL || p->conn == NULL)
        return QR_EINVAL;
    if (p->failed)
        return p->failed;
    if (p->cancelled)
        return pl_cancelled(p);
    if ((rc = connect_conn(p)) != 0)
        return rc;
    if (!p->started && (rc = start(p)) != 0)
        return rc;
    if ((rc = pl_pull(p)) != 0)
        return rc;
    return pl_purge(p);
}

QR_EXTERN int qr_pull_logout(qr_pull *p)
{
    int rc;

    if (p == NULL || p->s == NULL)
        return QR_EINVAL;
    if (p->failed)
        return p->failed;
    rc = qr_session_logout(p->s, pl_done, p);
    if (rc != 0)
        return conn_failed(p, rc);
    p->outstanding++;
    return pl_wait(p, 1);
}
