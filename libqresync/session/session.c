/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session object: options, the feed path, routing and fatal errors.
 *
 * Bytes fed by the caller go straight to the response parser; its
 * callbacks (below) are the session's input handlers, one per response
 * kind: the greeting, tagged responses, continuation requests, and every
 * untagged response. An untagged response is delivered in this order
 * (DESIGN.md, "Session"):
 *   1. the trackers: capabilities (CAPABILITY data and [CAPABILITY] codes
 *      anywhere), the selected-mailbox view (EXISTS, VANISHED, FETCH UID
 *      and MODSEQ, the UIDNEXT/UIDVALIDITY/HIGHESTMODSEQ/READ-ONLY codes,
 *      and the [CLOSED] boundary, which starts the view afresh), BYE;
 *   2. the oldest in-flight command whose claim mask has the kind (its
 *      on_untagged; a claim without a handler drops the response);
 *   3. otherwise options.on_unsolicited.
 * FETCH bodies follow the same rule 2 with the command's body callbacks.
 *
 * Invariants:
 *  - s->fatal is 0 or the first fatal code; once set, every command has
 *    completed (qr_session_fail) and every entry point returns it;
 *  - s->refs counts the owner (1) plus public calls in progress; the free
 *    asked for by qr_session_free() happens when it drops to 0, so a
 *    callback may free the session (isync's imap_ref/imap_deref). Every
 *    public function that can run a callback holds a reference;
 *  - while dying or fatal, the parser callbacks answer QR_PAUSE so the
 *    parser stops at once;
 *  - nothing is written from here: commands start only in
 *    qr_session_output() (queue.c).
 * BYE: during a LOGOUT it is normal (state LOGOUT). Otherwise it is noted
 * and the session fails with QR_EBYE as soon as nothing is in flight (so a
 * tagged reply that follows the BYE still completes its command), or at
 * qr_session_eof().
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session/session_p.h"
#include "util/alloc.h"
#include "util/text.h"

/* --- references, errors --------------------------------------------------- */

static void session_destroy(qr_session *s)
{
    s->refs = 1; /* pinned: callbacks below cannot re-enter the destruction */
    s->quiet_callbacks = 1;
    qr_queue_complete_all(s, QR_ECANCELED);
    qr_queue_destroy(s);
    qr_parser_free(s->parser);
    qr_setup_free(&s->setup);
    qr_caps_clear(s);
    qr_dynbuf_free(&s->wire_in);
    qr_free(s);
}

void qr_session_ref(qr_session *s)
{
    s->refs++;
}

void qr_session_unref(qr_session *s)
{
    if (--s->refs == 0)
        session_destroy(s);
}

static int session_vfail(qr_session *s, int code, const char *rcode, const char *rtext,
                         const char *fmt, va_list ap) QR_PRINTF(5, 0);
static int session_vfail(qr_session *s, int code, const char *rcode, const char *rtext,
                         const char *fmt, va_list ap)
{
    if (s->fatal)
        return s->fatal;
    if (code >= 0)
        code = QR_ERROR;
    s->fatal = code;
    s->state = QR_SESSION_FAILED;
    qr_errslot_vset(&s->err, __FILE__, __LINE__, __func__, code, fmt, ap);
    if (rcode != NULL || rtext != NULL)
        qr_errslot_set_resp(&s->err, rcode, rtext);
    qr_log(&s->log, QR_LOG_ERROR, QR_LOG_EVENT, "%s", qr_errslot_get(&s->err)->message);
    qr_session_ref(s);
    qr_queue_complete_all(s, code == QR_EOF ? QR_ECANCELED : code);
    qr_session_unref(s);
    return code;
}

int qr_session_fail(qr_session *s, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = session_vfail(s, code, NULL, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_resp(qr_session *s, int code, const char *rcode, const char *rtext, const char *fmt,
                     ...) QR_PRINTF(5, 6);
static int fail_resp(qr_session *s, int code, const char *rcode, const char *rtext, const char *fmt,
                     ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = session_vfail(s, code, rcode, rtext, fmt, ap);
    va_end(ap);
    return rc;
}

int qr_session_user_rc(qr_session *s, int rc, const char *what)
{
    if (rc == QR_PAUSE) {
        s->paused = 1;
        return QR_PAUSE;
    }
    if (rc < 0) {
        qr_session_fail(s, QR_EUSER, "%s callback returned %d", what, rc);
        return rc;
    }
    return 0;
}

/* Escaped copy of server text for messages. */
static const char *esc(char *buf, size_t cap, const qr_resp_str *str)
{
    if (str->ptr == NULL)
        return "";
    qr_text_escape(buf, cap, str->ptr, str->len);
    return buf;
}

/* --- trackers --------------------------------------------------------------- */

static void track_code(qr_session *s, const qr_resp_text *t)
{
    char buf[512];

    switch (t->code.kind) {
    case QR_CODE_CAPABILITY:
        if (qr_caps_set(s, &t->code.list) < 0)
            qr_session_fail(s, QR_ENOMEM, "out of memory storing capabilities");
        break;
    case QR_CODE_UIDNEXT:
        s->sel.uidnext = (uint32_t)t->code.number;
        s->sel.present |= QR_STATUS_UIDNEXT;
        break;
    case QR_CODE_UIDVALIDITY:
        s->sel.uidvalidity = (uint32_t)t->code.number;
        s->sel.present |= QR_STATUS_UIDVALIDITY;
        break;
    case QR_CODE_HIGHESTMODSEQ:
        s->sel.highestmodseq = t->code.number;
        s->sel.present |= QR_STATUS_HIGHESTMODSEQ;
        break;
    case QR_CODE_READ_ONLY:
        s->sel.read_only = 1;
        break;
    case QR_CODE_READ_WRITE:
        s->sel.read_only = 0;
        break;
    case QR_CODE_CLOSED:
        /* Everything before belonged to the previous mailbox. */
        memset(&s->sel, 0, sizeof(s->sel));
        break;
    case QR_CODE_ALERT:
        qr_log(&s->log, QR_LOG_INFO, QR_LOG_EVENT, "[ALERT] %s", esc(buf, sizeof(buf), &t->text));
        break;
    default:
        break;
    }
}

static void track_vanished(qr_session *s, const qr_resp_vanished *v)
{
    size_t n = 0;
    const qr_range *r = qr_uidset_ranges(v->set, &n);
    uint64_t count = qr_uidset_count(v->set);

    if (n > 0 && r[n - 1].hi < UINT32_MAX && r[n - 1].hi + 1 > s->sel.uidnext &&
        (s->sel.present & QR_STATUS_UIDNEXT))
        s->sel.uidnext = r[n - 1].hi + 1;
    if (!v->earlier && (s->sel.present & QR_STATUS_MESSAGES))
        s->sel.exists = count > s->sel.exists ? 0 : s->sel.exists - (uint32_t)count;
}

static void track_fetch(qr_session *s, const qr_resp_fetch *f)
{
    if ((s->sel.present & QR_STATUS_MESSAGES) && f->seq > s->sel.exists)
        s->sel.exists = f->seq;
    if ((f->present & QR_FETCH_UID) && (s->sel.present & QR_STATUS_UIDNEXT) &&
        f->uid < UINT32_MAX && f->uid + 1 > s->sel.uidnext)
        s->sel.uidnext = f->uid + 1;
    if ((f->present & QR_FETCH_MODSEQ) && (s->sel.present & QR_STATUS_HIGHESTMODSEQ) &&
        f->modseq > s->sel.highestmodseq)
        s->sel.highestmodseq = f->modseq;
}

static int fail_bye(qr_session *s);

static void track_bye(qr_session *s, const qr_resp *r)
{
    if (s->logout_sent) {
        s->state = QR_SESSION_LOGOUT;
        return;
    }
    if (s->bye)
        return;
    s->bye = 1;
    snprintf(s->bye_code, sizeof(s->bye_code), "%s",
             r->text.code.name.ptr ? r->text.code.name.ptr : "");
    snprintf(s->bye_text, sizeof(s->bye_text), "%s", r->text.text.ptr ? r->text.text.ptr : "");
}

/* Fail with QR_EBYE and the text of the BYE seen earlier. */
static int fail_bye(qr_session *s)
{
    char buf[512];
    qr_resp_str t;

    t.ptr = s->bye_text;
    t.len = strlen(s->bye_text);
    return fail_resp(s, QR_EBYE, s->bye_code[0] ? s->bye_code : NULL, s->bye_text,
                     "server said BYE: %s", esc(buf, sizeof(buf), &t));
}

static void track(qr_session *s, const qr_resp *r)
{
    switch (r->kind) {
    case QR_RESP_CAPABILITY:
        if (qr_caps_set(s, &r->u.strlist) < 0)
            qr_session_fail(s, QR_ENOMEM, "out of memory storing capabilities");
        break;
    case QR_RESP_EXISTS:
        s->sel.exists = r->u.number;
        s->sel.present |= QR_STATUS_MESSAGES;
        break;
    case QR_RESP_VANISHED:
        track_vanished(s, &r->u.vanished);
        break;
    case QR_RESP_FETCH:
        track_fetch(s, &r->u.fetch);
        break;
    case QR_RESP_COND:
        track_code(s, &r->text);
        if (r->cond == QR_COND_BYE)
            track_bye(s, r);
        break;
    default:
        break;
    }
}

/* --- response handlers --------------------------------------------------------- */

static void on_greeting(qr_session *s, const qr_resp *r)
{
    char buf[512];

    if (s->state != QR_SESSION_GREETING) {
        qr_session_fail(s, QR_EPROTO, "second greeting");
        return;
    }
    track_code(s, &r->text);
    if (s->fatal)
        return;
    switch (r->cond) {
    case QR_COND_OK:
        s->state = QR_SESSION_NOT_AUTHENTICATED;
        break;
    case QR_COND_PREAUTH:
        s->state = QR_SESSION_AUTHENTICATED;
        break;
    case QR_COND_BYE:
        fail_resp(s, QR_EBYE, r->text.code.name.ptr, r->text.text.ptr,
                  "server refused the connection: %s", esc(buf, sizeof(buf), &r->text.text));
        return;
    default:
        qr_session_fail(s, QR_EPROTO, "bad greeting");
        return;
    }
    if (s->opts.on_unsolicited != NULL)
        qr_session_user_rc(s, s->opts.on_unsolicited(s, r, s->opts.payload), "unsolicited");
    if (s->fatal || s->dying)
        return;
    s->phase = QR_PHASE_SETUP;
    qr_setup_next(s);
}

/* State changes a tagged reply brings, before the completion runs. */
static void tagged_state(qr_session *s, enum qr_scmd_kind kind, qr_resp_cond cond)
{
    int ok = cond == QR_COND_OK;

    switch (kind) {
    case QR_K_SELECT:
        s->sel.selected = ok;
        s->state = ok ? QR_SESSION_SELECTED : QR_SESSION_AUTHENTICATED;
        break;
    case QR_K_CLOSE:
    case QR_K_UNSELECT:
        if (ok) {
            memset(&s->sel, 0, sizeof(s->sel));
            s->state = QR_SESSION_AUTHENTICATED;
        }
        break;
    case QR_K_LOGIN:
    case QR_K_AUTHENTICATE:
        if (ok)
            s->state = QR_SESSION_AUTHENTICATED;
        break;
    case QR_K_LOGOUT:
        if (ok)
            s->state = QR_SESSION_LOGOUT;
        break;
    default:
        break;
    }
}

static void on_tagged(qr_session *s, const qr_resp *r)
{
    qr_scmd *c = qr_queue_find(s, r->tag.ptr, r->tag.len);
    char buf[128];
    enum qr_scmd_kind kind;

    if (c == NULL) {
        const char *t = esc(buf, sizeof(buf), &r->tag);
        size_t plen = strlen(s->prefix);
        int ours = r->tag.len > plen && memcmp(r->tag.ptr, s->prefix, plen) == 0;

        qr_session_fail(s, QR_EPROTO, "%s tagged response for %s",
                        ours ? "unexpected or repeated" : "unknown tag in", t);
        return;
    }
    if (r->cond != QR_COND_OK && r->cond != QR_COND_NO && r->cond != QR_COND_BAD) {
        qr_session_fail(s, QR_EPROTO, "tagged response with a bad condition");
        return;
    }
    track_code(s, &r->text);
    if (s->fatal)
        return;
    if (s->tap != NULL) {
        qr_session_user_rc(s, s->tap(s, r, s->tap_payload), "tap");
        if (s->fatal)
            return;
    }
    kind = c->kind;
    tagged_state(s, kind, r->cond);
    qr_queue_complete_tagged(s, c, r);
    if (kind == QR_K_LOGOUT && s->state == QR_SESSION_LOGOUT && !s->fatal)
        qr_queue_cancel_pending(s);
}

static void on_untagged(qr_session *s, const qr_resp *r)
{
    qr_scmd *c;
    int rc = 0;

    track(s, r);
    if (s->fatal)
        return;
    if (s->tap != NULL) {
        rc = s->tap(s, r, s->tap_payload);
        qr_session_user_rc(s, rc, "tap");
        if (s->fatal || rc < 0)
            return;
        rc = 0;
    }
    c = qr_queue_claimer(s, (int)r->kind);
    if (c != NULL) {
        if (c->on_untagged != NULL)
            rc = c->on_untagged(s, r, c->payload);
    } else if (s->opts.on_unsolicited != NULL) {
        rc = s->opts.on_unsolicited(s, r, s->opts.payload);
    }
    qr_session_user_rc(s, rc, "untagged");
}

/* Anything that must stop the parser right now. */
static int stop_now(const qr_session *s)
{
    return s->fatal || s->dying || s->paused || s->held;
}

static int cb_response(const qr_resp *r, void *payload)
{
    qr_session *s = payload;

    if (stop_now(s))
        return QR_PAUSE;
    if (s->state == QR_SESSION_GREETING && r->kind != QR_RESP_GREETING) {
        qr_session_fail(s, QR_EPROTO, "expected a greeting, got %s", qr_resp_kind_name(r->kind));
        return QR_PAUSE;
    }
    switch (r->kind) {
    case QR_RESP_GREETING:
        on_greeting(s, r);
        break;
    case QR_RESP_TAGGED:
        on_tagged(s, r);
        break;
    case QR_RESP_CONTINUE: {
        int rc = qr_queue_continue(s, r);

        if (rc == QR_EPROTO && !s->fatal)
            qr_session_fail(s, QR_EPROTO, "continuation request nobody waits for");
        else if (rc < 0 && !s->fatal)
            qr_session_fail(s, rc, "continuation request: %s", qr_strerror(rc));
        break;
    }
    default:
        on_untagged(s, r);
        break;
    }
    if (!s->fatal && s->bye && s->ninflight == 0)
        fail_bye(s);
    return stop_now(s) ? QR_PAUSE : 0;
}

static int cb_body_begin(const qr_body_info *info, void *payload)
{
    qr_session *s = payload;
    qr_scmd *c;
    int rc = 0;

    if (stop_now(s))
        return QR_PAUSE;
    c = qr_queue_claimer(s, QR_RESP_FETCH);
    s->body_target = c;
    if (c != NULL && c->opts.on_body_begin != NULL)
        rc = c->opts.on_body_begin(s, info, c->payload);
    qr_session_user_rc(s, rc, "body");
    return stop_now(s) ? QR_PAUSE : 0;
}

static int cb_body_data(const char *data, size_t len, void *payload)
{
    qr_session *s = payload;
    qr_scmd *c = s->body_target;
    int rc = 0;

    if (stop_now(s))
        return QR_PAUSE;
    if (c != NULL && c->opts.on_body_data != NULL)
        rc = c->opts.on_body_data(s, data, len, c->payload);
    qr_session_user_rc(s, rc, "body");
    return stop_now(s) ? QR_PAUSE : 0;
}

static int cb_body_end(void *payload)
{
    qr_session *s = payload;
    qr_scmd *c = s->body_target;
    int rc = 0;

    if (stop_now(s))
        return QR_PAUSE;
    s->body_target = NULL;
    if (c != NULL && c->opts.on_body_end != NULL)
        rc = c->opts.on_body_end(s, c->payload);
    qr_session_user_rc(s, rc, "body");
    return stop_now(s) ? QR_PAUSE : 0;
}

static void cb_wire(const char *bytes, size_t len, void *payload)
{
    qr_slog_wire_in(payload, bytes, len);
}

/* --- construction ---------------------------------------------------------------- */

void qr_session_set_tap(qr_session *s, qr_session_untagged_fn tap, void *payload)
{
    if (s == NULL)
        return;
    s->tap = tap;
    s->tap_payload = payload;
}

QR_EXTERN int qr_session_options_init(qr_session_options *opts, unsigned int version)
{
    static const qr_session_options defaults = QR_SESSION_OPTIONS_INIT;

    if (opts == NULL || version != QR_SESSION_OPTIONS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

QR_EXTERN int qr_session_cmd_opts_init(qr_session_cmd_opts *opts, unsigned int version)
{
    static const qr_session_cmd_opts defaults = QR_SESSION_CMD_OPTS_INIT;

    if (opts == NULL || version != QR_SESSION_CMD_OPTS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

static int valid_prefix(const char *p)
{
    size_t i;

    if (p == NULL || p[0] == '\0')
        return 0;
    for (i = 0; p[i] != '\0'; i++)
        if (i >= QR_SESSION_PREFIX_MAX ||
            !((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
            return 0;
    return 1;
}

static int parser_options(const qr_session_options *o, qr_session *s, qr_parser_options *po)
{
    int rc = qr_parser_options_init(po, QR_PARSER_OPTIONS_VERSION);

    if (rc < 0)
        return rc;
    if (o->max_small_literal)
        po->max_small_literal = o->max_small_literal;
    if (o->max_literal)
        po->max_literal = o->max_literal;
    if (o->max_token)
        po->max_token = o->max_token;
    if (o->max_depth)
        po->max_depth = o->max_depth;
    if (o->max_response)
        po->max_response = o->max_response;
    po->callbacks.on_response = cb_response;
    po->callbacks.on_body_begin = cb_body_begin;
    po->callbacks.on_body_data = cb_body_data;
    po->callbacks.on_body_end = cb_body_end;
    po->callbacks.on_wire = o->log_fn != NULL && o->log_level >= QR_LOG_DEBUG ? cb_wire : NULL;
    po->payload = s;
    return 0;
}

QR_EXTERN int qr_session_new(qr_session **out, const qr_session_options *opts)
{
    static const qr_session_options defaults = QR_SESSION_OPTIONS_INIT;
    qr_parser_options po;
    qr_session *s;
    int rc;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != QR_SESSION_OPTIONS_VERSION || !valid_prefix(opts->tag_prefix) ||
        opts->max_in_flight == 0 || opts->output_cap == 0)
        return QR_EINVAL;
    s = qr_calloc(1, sizeof(*s));
    if (s == NULL)
        return QR_ENOMEM;
    s->opts = *opts;
    memcpy(s->prefix, opts->tag_prefix, strlen(opts->tag_prefix) + 1);
    s->opts.tag_prefix = s->prefix;
    s->next_tag = 1;
    s->refs = 1;
    s->state = QR_SESSION_GREETING;
    s->phase = QR_PHASE_GREETING;
    qr_errslot_clear(&s->err);
    qr_logger_init(&s->log, opts->log_fn, opts->log_payload, opts->log_level);
    qr_dynbuf_init(&s->wire_in, QR_SESSION_WIRE_LINE);
    rc = parser_options(opts, s, &po);
    if (rc == 0)
        rc = qr_parser_new(&s->parser, &po);
    if (rc < 0) {
        qr_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

QR_EXTERN void qr_session_free(qr_session *s)
{
    if (s == NULL || s->dying)
        return;
    s->dying = 1;
    qr_session_unref(s);
}

/* --- feeding ------------------------------------------------------------------------- */

QR_EXTERN int qr_session_feed(qr_session *s, const char *buf, size_t len, size_t *consumed)
{
    int rc;

    if (consumed != NULL)
        *consumed = 0;
    if (s == NULL || consumed == NULL || (buf == NULL && len > 0))
        return QR_EINVAL;
    if (s->fatal)
        return s->fatal;
    if (s->in_feed || s->dying)
        return qr_err_set(&s->err, QR_EINVAL,
                          "feed called from a feed callback or a freed session");
    if (s->held)
        return QR_PAUSE; /* qr_session_hold_input(): nothing is consumed */
    qr_session_ref(s);
    s->in_feed = 1;
    s->paused = 0;
    rc = qr_parser_feed(s->parser, buf, len, consumed);
    s->in_feed = 0;
    if (!s->fatal && s->setup.xswitch == QR_SWITCH_TLS && *consumed < len)
        qr_session_fail(s, QR_EPROTO,
                        "response injection: %zu bytes received after the STARTTLS OK, "
                        "before the TLS handshake",
                        len - *consumed);
    if (s->fatal) {
        rc = s->fatal;
    } else if (rc < 0) {
        rc = qr_session_fail(s, rc, "%s", qr_parser_last_error(s->parser)->message);
    } else if (rc == QR_PAUSE) {
        rc = QR_PAUSE; /* a user callback paused, or the session is being freed */
    }
    s->paused = 0;
    qr_session_unref(s);
    return rc;
}

QR_EXTERN int qr_session_eof(qr_session *s)
{
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    if (s->fatal)
        return s->fatal;
    qr_session_ref(s);
    if (s->state == QR_SESSION_LOGOUT) {
        s->quiet_callbacks = 1;
        qr_queue_complete_all(s, QR_ECANCELED);
        s->quiet_callbacks = 0;
        rc = 0;
    } else if (s->bye) {
        rc = fail_bye(s);
    } else {
        rc = qr_session_fail(s, QR_EOF, "server closed the connection");
    }
    qr_session_unref(s);
    return rc;
}

QR_EXTERN int qr_session_abort(qr_session *s, int code, const char *message)
{
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    qr_session_ref(s);
    rc = qr_session_fail(s, code < 0 ? code : QR_ERROR, "%s",
                         message != NULL ? message : qr_strerror(code));
    qr_session_unref(s);
    return rc;
}

/* --- getters --------------------------------------------------------------------------- */

QR_EXTERN int qr_session_want_read(const qr_session *s)
{
    return s != NULL && !s->fatal && !s->held && s->state != QR_SESSION_LOGOUT;
}

QR_EXTERN int qr_session_hold_input(qr_session *s, int hold)
{
    if (s == NULL)
        return QR_EINVAL;
    s->held = hold != 0;
    return 0;
}

int qr_session_input_held(const qr_session *s)
{
    return s != NULL && s->held && !s->fatal;
}

int qr_session_idling(const qr_session *s)
{
    return s != NULL && s->idling && !s->fatal;
}

QR_EXTERN qr_session_state qr_session_state_get(const qr_session *s)
{
    return s != NULL ? s->state : QR_SESSION_FAILED;
}

QR_EXTERN int qr_session_ready(const qr_session *s)
{
    return s != NULL && s->phase == QR_PHASE_READY && !s->fatal;
}

QR_EXTERN const qr_session_selected *qr_session_selected_get(const qr_session *s)
{
    return s != NULL ? &s->sel : NULL;
}

QR_EXTERN const qr_error *qr_session_last_error(const qr_session *s)
{
    return s != NULL ? qr_errslot_get(&s->err) : NULL;
}
