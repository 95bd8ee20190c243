/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command queue of a session: records, lists, the writer and the
 * output queue.
 *
 * Each submitted command becomes a record (qr_scmd) that owns the qr_cmd.
 * A record is in exactly one place:
 *   pending    s->pending list, in order (high-priority ones at the head);
 *   in flight  s->inflight list, oldest first, with its tag;
 *   done       completed; the record lives on only while output entries
 *              still point into its command (out_refs > 0) or while it is
 *              still the writer, then it is freed (rec_release()).
 *
 * The wire is one byte stream, so at most one command is being written at
 * a time: s->writer, the newest in-flight command whose chunks have not all
 * been queued. It stops at a WAIT chunk (synchronizing literal: wait for
 * "+"), at a stream source's QR_EAGAIN, or at the output cap before a PULL.
 * While there is a writer nothing else starts, which is the reference's
 * (and isync's) "the last in-flight command awaits a continuation" rule.
 *
 * A pending command starts when sendable() says so (see session.h for the
 * rules). Barriers are sent alone: they wait for an empty in-flight list
 * and nothing starts while one is in flight.
 *
 * Commands only start in qr_queue_pump(), which only qr_session_output()
 * calls: submitting never writes and never calls back, and the bytes queued
 * are exactly the ones the caller will be offered (isync's reason for not
 * building a long queue in the socket: cancel stays reliable and
 * high-priority commands can still jump the queue).
 *
 * The output queue is an array of entries (pointer, length, record). TEXT
 * and BODY chunks are referenced, not copied (the serializer guarantees
 * their lifetime while the command lives); pulled stream bytes are copied
 * into a buffer the entry owns. out_bytes counts what is queued and drives
 * the output cap.
 *
 * Completions (complete()): the record leaves its list, the internal hook
 * runs (setup, LOGIN, SELECT bookkeeping), then the user's callback, with
 * the session referenced so that a qr_session_free() from inside is
 * deferred.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "session/session_p.h"
#include "util/alloc.h"

/* --- command names ------------------------------------------------------ */

static const struct {
    const char *name;       /* the (first word of the) command name */
    enum qr_scmd_kind kind; /* what it is */
} name_table[] = {
    {"CAPABILITY", QR_K_CAPABILITY},
    {"LOGIN", QR_K_LOGIN},
    {"AUTHENTICATE", QR_K_AUTHENTICATE},
    {"STARTTLS", QR_K_STARTTLS},
    {"COMPRESS", QR_K_COMPRESS},
    {"ENABLE", QR_K_ENABLE},
    {"SELECT", QR_K_SELECT},
    {"EXAMINE", QR_K_SELECT},
    {"UNSELECT", QR_K_UNSELECT},
    {"CLOSE", QR_K_CLOSE},
    {"LOGOUT", QR_K_LOGOUT},
    {"FETCH", QR_K_FETCH},
    {"STORE", QR_K_STORE},
    {"SEARCH", QR_K_SEARCH},
    {"LIST", QR_K_LIST},
    {"LSUB", QR_K_LIST},
    {"STATUS", QR_K_STATUS},
    {"EXPUNGE", QR_K_EXPUNGE},
    {"NAMESPACE", QR_K_NAMESPACE},
    {"ID", QR_K_ID},
};

static int word_is(const char *p, size_t len, const char *word)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (word[i] == '\0' || c != word[i])
            return 0;
    }
    return word[len] == '\0';
}

/* The kind of a command from its name: the first word, or the second after UID. */
static enum qr_scmd_kind kind_of(const qr_cmd *cmd)
{
    const char *p = qr_dynbuf_str(&cmd->text);
    size_t len = strcspn(p, " "), i;

    if (word_is(p, len, "UID") && p[len] == ' ') {
        p += len + 1;
        len = strcspn(p, " ");
    }
    for (i = 0; i < sizeof(name_table) / sizeof(name_table[0]); i++)
        if (word_is(p, len, name_table[i].name))
            return name_table[i].kind;
    return QR_K_OTHER;
}

static int kind_is_barrier(enum qr_scmd_kind k)
{
    switch (k) {
    case QR_K_LOGIN:
    case QR_K_AUTHENTICATE:
    case QR_K_STARTTLS:
    case QR_K_COMPRESS:
    case QR_K_ENABLE:
    case QR_K_SELECT:
    case QR_K_UNSELECT:
    case QR_K_CLOSE:
    case QR_K_LOGOUT:
        return 1;
    default:
        return 0;
    }
}

static uint32_t auto_claims(enum qr_scmd_kind k)
{
    switch (k) {
    case QR_K_CAPABILITY:
        return QR_CLAIM(QR_RESP_CAPABILITY);
    case QR_K_ENABLE:
        return QR_CLAIM(QR_RESP_ENABLED);
    case QR_K_SELECT:
        return QR_CLAIM(QR_RESP_FLAGS) | QR_CLAIM(QR_RESP_EXISTS) | QR_CLAIM(QR_RESP_RECENT) |
               QR_CLAIM(QR_RESP_VANISHED) | QR_CLAIM(QR_RESP_FETCH);
    case QR_K_FETCH:
        return QR_CLAIM(QR_RESP_FETCH) | QR_CLAIM(QR_RESP_VANISHED);
    case QR_K_STORE:
        return QR_CLAIM(QR_RESP_FETCH);
    case QR_K_SEARCH:
        return QR_CLAIM(QR_RESP_SEARCH) | QR_CLAIM(QR_RESP_ESEARCH);
    case QR_K_LIST:
        return QR_CLAIM(QR_RESP_LIST) | QR_CLAIM(QR_RESP_LSUB) | QR_CLAIM(QR_RESP_STATUS);
    case QR_K_STATUS:
        return QR_CLAIM(QR_RESP_STATUS);
    case QR_K_EXPUNGE:
        return QR_CLAIM(QR_RESP_EXPUNGE) | QR_CLAIM(QR_RESP_VANISHED);
    case QR_K_NAMESPACE:
        return QR_CLAIM(QR_RESP_NAMESPACE);
    case QR_K_ID:
        return QR_CLAIM(QR_RESP_ID);
    default:
        return 0;
    }
}

/* --- lists --------------------------------------------------------------- */

static void list_append(qr_scmd **head, qr_scmd **tail, qr_scmd *c)
{
    c->next = NULL;
    c->prev = *tail;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static void list_prepend(qr_scmd **head, qr_scmd **tail, qr_scmd *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    else
        *tail = c;
    *head = c;
}

static void list_remove(qr_scmd **head, qr_scmd **tail, qr_scmd *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        *tail = c->prev;
    c->prev = c->next = NULL;
}

/* Free a done record once nothing points into it any more. */
static void rec_release(qr_session *s, qr_scmd *c)
{
    if (c->where != QR_SCMD_DONE || c->out_refs > 0 || s->writer == c)
        return;
    qr_cmd_free(c->cmd);
    qr_free(c);
}

/* Take a record out of its list (pending or in flight). */
static void rec_unlink(qr_session *s, qr_scmd *c)
{
    if (c->where == QR_SCMD_PENDING) {
        list_remove(&s->pending, &s->pending_tail, c);
        s->npending--;
    } else if (c->where == QR_SCMD_IN_FLIGHT) {
        list_remove(&s->inflight, &s->inflight_tail, c);
        s->ninflight--;
        if (c->flags & QR_SESSION_CMD_BARRIER)
            s->barriers_in_flight--;
    }
    c->where = QR_SCMD_DONE;
    if (s->body_target == c)
        s->body_target = NULL;
}

/*
 * Complete a record already unlinked: hook, then user callback. `resp` is
 * the tagged response or NULL. Returns the mapped user return code.
 */
static int rec_finish(qr_session *s, qr_scmd *c, int status, const qr_resp *resp)
{
    qr_session_result r;
    int rc = 0;

    if (c->hook != NULL && resp != NULL)
        c->hook(s, c, resp);
    if (c->on_done != NULL) {
        r.status = status;
        r.tag = c->tag[0] ? c->tag : NULL;
        r.code = resp ? &resp->text.code : NULL;
        r.text = resp && resp->text.text.ptr ? resp->text.text.ptr : "";
        r.text_len = resp && resp->text.text.ptr ? resp->text.text.len : 0;
        rc = c->on_done(s, &r, c->payload);
        if (!s->quiet_callbacks && resp != NULL)
            rc = qr_session_user_rc(s, rc, "completion");
        else
            rc = 0;
    }
    rec_release(s, c);
    return rc;
}

/* --- output queue ---------------------------------------------------------- */

static int out_push(qr_session *s, const char *ptr, size_t len, qr_scmd *c, char *owned)
{
    qr_outent *e;

    if (s->out_len == s->out_alloc) {
        if (s->out_head > 0) {
            memmove(s->out, s->out + s->out_head, (s->out_len - s->out_head) * sizeof(*s->out));
            s->out_len -= s->out_head;
            s->out_head = 0;
        } else {
            size_t n = s->out_alloc ? s->out_alloc * 2 : 16;
            qr_outent *grown = qr_reallocarray(s->out, n, sizeof(*grown));
            if (grown == NULL)
                return QR_ENOMEM;
            s->out = grown;
            s->out_alloc = n;
        }
    }
    e = &s->out[s->out_len++];
    e->ptr = ptr;
    e->len = len;
    e->rec = c;
    e->owned = owned;
    e->owned_len = owned != NULL ? len : 0;
    e->wipe = 0;
    c->out_refs++;
    s->out_bytes += len;
    return 0;
}

/* Drop the first entry of the output queue. */
static void out_pop(qr_session *s)
{
    qr_outent *e = &s->out[s->out_head++];
    qr_scmd *c = e->rec;

    s->out_bytes -= e->len;
    if (e->wipe && e->owned != NULL)
        explicit_bzero(e->owned, e->owned_len);
    qr_free(e->owned);
    c->out_refs--;
    rec_release(s, c);
    if (s->out_head == s->out_len)
        s->out_head = s->out_len = 0;
}

/* --- sending ----------------------------------------------------------------- */

qr_cmd_literal_mode qr_queue_literal_mode(const qr_session *s)
{
    if (qr_session_has_cap(s, QR_CAP_LITERALPLUS))
        return QR_CMD_LITERAL_PLUS;
    if (qr_session_has_cap(s, QR_CAP_LITERALMINUS))
        return QR_CMD_LITERAL_MINUS;
    return QR_CMD_LITERAL_SYNC;
}

static int sendable(const qr_session *s, const qr_scmd *c)
{
    if (s->phase == QR_PHASE_GREETING || s->setup.xswitch != QR_SWITCH_NONE)
        return 0; /* nothing may follow STARTTLS/COMPRESS before the switch */
    if (s->phase == QR_PHASE_SETUP && !(c->flags & QR_SCMD_INTERNAL))
        return 0;
    if (s->writer != NULL || s->bye || s->logout_sent || s->state == QR_SESSION_LOGOUT)
        return 0;
    if (s->ninflight >= s->opts.max_in_flight || s->barriers_in_flight > 0)
        return 0;
    if ((c->flags & QR_SESSION_CMD_BARRIER) && s->ninflight > 0)
        return 0;
    return s->out_bytes < s->opts.output_cap;
}

/* Move the head of pending in flight with a new tag. */
static void start(qr_session *s, qr_scmd *c)
{
    int rc;

    list_remove(&s->pending, &s->pending_tail, c);
    s->npending--;
    snprintf(c->tag, sizeof(c->tag), "%s%" PRIu64, s->prefix, s->next_tag++);
    rc = qr_cmdw_init(&c->w, c->cmd, c->tag, qr_queue_literal_mode(s));
    if (rc < 0) {
        /* Cannot happen for a command submit() accepted; fail it alone. */
        c->where = QR_SCMD_DONE;
        c->tag[0] = '\0';
        rec_finish(s, c, rc, NULL);
        return;
    }
    c->where = QR_SCMD_IN_FLIGHT;
    list_append(&s->inflight, &s->inflight_tail, c);
    s->ninflight++;
    if (c->flags & QR_SESSION_CMD_BARRIER)
        s->barriers_in_flight++;
    c->writing = 1;
    s->writer = c;
    if (c->kind == QR_K_SELECT) {
        memset(&s->sel, 0, sizeof(s->sel));
    } else if (c->kind == QR_K_LOGOUT) {
        s->logout_sent = 1;
    }
    qr_slog_wire_out(s, c);
}

/* The writer has queued its last chunk. */
static void writer_done(qr_session *s, qr_scmd *c)
{
    c->writing = 0;
    s->writer = NULL;
    rec_release(s, c);
}

/* Pull some bytes of a streamed body: 1 progress, 0 stuck, < 0 fatal. */
static int pull_some(qr_session *s, qr_scmd *c, const qr_chunk *ch)
{
    size_t cap, got = 0;
    char *buf;
    int rc;

    if (s->out_bytes >= s->opts.output_cap)
        return 0;
    cap = ch->remaining < QR_SESSION_PULL_CHUNK ? (size_t)ch->remaining : QR_SESSION_PULL_CHUNK;
    if (cap == 0)
        cap = 1;
    buf = qr_malloc(cap);
    if (buf == NULL)
        return qr_session_fail(s, QR_ENOMEM, "out of memory pulling a literal of %s", c->tag);
    rc = qr_cmdw_pull(&c->w, buf, cap, &got);
    if (rc == QR_EAGAIN) {
        qr_free(buf);
        c->src_wait = 1;
        return 0;
    }
    if (rc < 0) {
        qr_free(buf);
        return qr_session_fail(s, rc, "literal source of %s failed: %s", c->tag, qr_strerror(rc));
    }
    c->src_wait = 0;
    if (out_push(s, buf, got, c, buf) < 0) {
        qr_free(buf);
        return qr_session_fail(s, QR_ENOMEM, "out of memory queueing %s", c->tag);
    }
    return 1;
}

/* Queue chunks of the writer: 1 when it ended, 0 when stuck, < 0 fatal. */
static int write_some(qr_session *s, qr_scmd *c)
{
    qr_chunk ch;
    int rc;

    for (;;) {
        rc = qr_cmdw_next(&c->w, &ch);
        if (rc == QR_EAGAIN) {
            c->src_wait = 1;
            return 0;
        }
        if (rc < 0)
            return qr_session_fail(s, rc, "command %s cannot be completed on the wire: %s", c->tag,
                                   qr_strerror(rc));
        c->src_wait = 0;
        switch (ch.kind) {
        case QR_CHUNK_TEXT:
        case QR_CHUNK_BODY:
            if (out_push(s, ch.ptr, ch.len, c, NULL) < 0)
                return qr_session_fail(s, QR_ENOMEM, "out of memory queueing %s", c->tag);
            break;
        case QR_CHUNK_PULL:
            rc = pull_some(s, c, &ch);
            if (rc <= 0)
                return rc;
            break;
        case QR_CHUNK_WAIT:
            c->wait_cont = 1;
            return 0;
        case QR_CHUNK_END:
            writer_done(s, c);
            return 1;
        }
    }
}

int qr_queue_pump(qr_session *s)
{
    while (!s->fatal) {
        qr_scmd *c = s->writer;

        if (c != NULL) {
            if (c->wait_cont || write_some(s, c) <= 0)
                break;
            continue;
        }
        c = s->pending;
        if (c == NULL || !sendable(s, c))
            break;
        start(s, c);
    }
    return s->fatal;
}

/* --- submit, complete, cancel ------------------------------------------------ */

int qr_queue_submit(qr_session *s, qr_cmd *cmd, const qr_session_cmd_opts *opts,
                    qr_session_done_fn on_done, qr_session_untagged_fn on_untagged, void *payload,
                    unsigned int internal_flags, qr_scmd_hook_fn hook)
{
    static const qr_session_cmd_opts defaults = QR_SESSION_CMD_OPTS_INIT;
    qr_scmd *c;

    if (s == NULL || cmd == NULL)
        return QR_EINVAL;
    if (s->dying)
        return qr_err_set(&s->err, QR_EINVAL, "session is being freed");
    if (s->fatal)
        return s->fatal;
    if (s->logout_sent || s->state == QR_SESSION_LOGOUT)
        return qr_err_set(&s->err, QR_EINVAL, "session has logged out");
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != QR_SESSION_CMD_OPTS_VERSION ||
        (opts->flags & ~(unsigned int)(QR_SESSION_CMD_BARRIER | QR_SESSION_CMD_HIGH_PRIORITY)))
        return qr_err_set(&s->err, QR_EINVAL, "bad command options");
    if (qr_cmd_error(cmd) != 0 || cmd->depth != 0 || cmd->streamed)
        return qr_err_set(&s->err, QR_EINVAL, "command is incomplete or already sent");
    c = qr_calloc(1, sizeof(*c));
    if (c == NULL)
        return qr_err_set(&s->err, QR_ENOMEM, "out of memory submitting a command");
    c->cmd = cmd;
    c->kind = kind_of(cmd);
    c->flags = opts->flags | internal_flags;
    if (kind_is_barrier(c->kind))
        c->flags |= QR_SESSION_CMD_BARRIER;
    c->claims = opts->claims == QR_CLAIM_AUTO ? auto_claims(c->kind) : opts->claims;
    c->opts = *opts;
    c->on_done = on_done;
    c->on_untagged = on_untagged;
    c->payload = payload;
    c->hook = hook;
    c->where = QR_SCMD_PENDING;
    if (c->flags & QR_SESSION_CMD_HIGH_PRIORITY)
        list_prepend(&s->pending, &s->pending_tail, c);
    else
        list_append(&s->pending, &s->pending_tail, c);
    s->npending++;
    return 0;
}

qr_scmd *qr_queue_find(qr_session *s, const char *tag, size_t len)
{
    qr_scmd *c;

    for (c = s->inflight; c != NULL; c = c->next)
        if (strlen(c->tag) == len && memcmp(c->tag, tag, len) == 0)
            return c;
    return NULL;
}

qr_scmd *qr_queue_claimer(qr_session *s, int kind)
{
    qr_scmd *c;

    if (kind < 0 || kind > 30)
        return NULL;
    for (c = s->inflight; c != NULL; c = c->next)
        if (c->claims & QR_CLAIM(kind))
            return c;
    return NULL;
}

void qr_queue_complete_tagged(qr_session *s, qr_scmd *c, const qr_resp *resp)
{
    int status = resp->cond == QR_COND_OK ? 0 : resp->cond == QR_COND_NO ? QR_ENO : QR_EBAD;

    rec_unlink(s, c);
    if (s->writer == c && c->wait_cont) {
        /* Answered instead of "+": nothing more of it is sent. (A command
         * stuck inside a non-synchronizing literal goes on being written:
         * the server reads the announced bytes whatever it answered.) */
        c->wait_cont = 0;
        c->writing = 0;
        s->writer = NULL;
    }
    if (status != 0) {
        qr_err_set(&s->err, status, "%s %s %s", c->tag, qr_resp_cond_name(resp->cond),
                   resp->text.text.ptr ? resp->text.text.ptr : "");
        qr_errslot_set_resp(&s->err, resp->text.code.name.ptr, resp->text.text.ptr);
    }
    rec_finish(s, c, status, resp);
}

int qr_queue_continue(qr_session *s, const qr_resp *r)
{
    qr_scmd *c = s->writer;

    if (c != NULL && c->wait_cont) {
        c->wait_cont = 0; /* a synchronizing literal may go */
        return 0;
    }
    /* A command that answers "+" itself (AUTHENTICATE): it is a barrier, so
     * it is alone in flight, and fully written. */
    c = s->inflight;
    if (c == NULL || c->on_cont == NULL || c->writing || c->next != NULL)
        return QR_EPROTO;
    return c->on_cont(s, c, r);
}

int qr_queue_push_line(qr_session *s, qr_scmd *c, const char *line, size_t len, int secret)
{
    char *buf = qr_malloc(len + 2);

    if (buf == NULL)
        return QR_ENOMEM;
    memcpy(buf, line, len);
    buf[len] = '\r';
    buf[len + 1] = '\n';
    if (out_push(s, buf, len + 2, c, buf) < 0) {
        explicit_bzero(buf, len + 2);
        qr_free(buf);
        return QR_ENOMEM;
    }
    s->out[s->out_len - 1].wipe = secret;
    return 0;
}

void qr_queue_complete_all(qr_session *s, int status)
{
    qr_scmd *c;

    if (s->writer != NULL) {
        qr_scmd *w = s->writer;
        s->writer = NULL;
        w->writing = 0;
        rec_release(s, w);
    }
    for (;;) {
        c = s->inflight != NULL ? s->inflight : s->pending;
        if (c == NULL)
            break;
        rec_unlink(s, c);
        rec_finish(s, c, status, NULL);
    }
}

size_t qr_queue_cancel_pending(qr_session *s)
{
    qr_scmd *list = s->pending, *c;
    size_t n = 0;

    /* Detach first: commands submitted by the callbacks stay pending. */
    s->pending = s->pending_tail = NULL;
    s->npending = 0;
    while ((c = list) != NULL) {
        list = c->next;
        c->prev = c->next = NULL;
        c->where = QR_SCMD_DONE;
        rec_finish(s, c, QR_ECANCELED, NULL);
        n++;
    }
    return n;
}

void qr_queue_destroy(qr_session *s)
{
    while (s->out_head < s->out_len)
        out_pop(s);
    qr_free(s->out);
    s->out = NULL;
    s->out_alloc = s->out_len = s->out_head = 0;
    if (s->writer != NULL) {
        qr_scmd *w = s->writer;
        s->writer = NULL;
        rec_release(s, w);
    }
}

/* --- public: output ------------------------------------------------------------ */

QR_EXTERN int qr_session_output(qr_session *s, qr_iov *iov, size_t max, size_t *n)
{
    size_t i, k = 0;
    int rc;

    if (n != NULL)
        *n = 0;
    if (s == NULL || n == NULL || (iov == NULL && max > 0))
        return QR_EINVAL;
    if (s->fatal)
        return s->fatal;
    qr_session_ref(s);
    rc = qr_queue_pump(s);
    if (rc == 0) {
        for (i = s->out_head; i < s->out_len && k < max; i++, k++) {
            iov[k].base = s->out[i].ptr;
            iov[k].len = s->out[i].len;
        }
        *n = k;
    }
    qr_session_unref(s);
    return rc;
}

QR_EXTERN int qr_session_consume(qr_session *s, size_t bytes)
{
    if (s == NULL)
        return QR_EINVAL;
    if (s->fatal)
        return s->fatal;
    if (bytes > s->out_bytes)
        return qr_err_set(&s->err, QR_EINVAL, "consumed %zu bytes of %zu", bytes, s->out_bytes);
    while (bytes > 0) {
        qr_outent *e = &s->out[s->out_head];
        size_t take = e->len < bytes ? e->len : bytes;

        e->ptr += take;
        e->len -= take;
        s->out_bytes -= take;
        bytes -= take;
        if (e->len == 0)
            out_pop(s);
    }
    return 0;
}

QR_EXTERN int qr_session_want_write(const qr_session *s)
{
    if (s == NULL || s->fatal)
        return 0;
    if (s->out_bytes > 0)
        return 1;
    if (s->writer != NULL)
        return !s->writer->wait_cont && !s->writer->src_wait;
    return s->pending != NULL && sendable(s, s->pending);
}

QR_EXTERN int qr_session_source_ready(qr_session *s)
{
    if (s == NULL)
        return QR_EINVAL;
    if (s->writer != NULL)
        s->writer->src_wait = 0; /* qr_session_output() asks the source again */
    return 0;
}

QR_EXTERN int qr_session_queue_counts(const qr_session *s, size_t *pending, size_t *in_flight)
{
    if (s == NULL)
        return QR_EINVAL;
    if (pending != NULL)
        *pending = s->npending;
    if (in_flight != NULL)
        *in_flight = s->ninflight;
    return 0;
}

QR_EXTERN int qr_session_submit(qr_session *s, qr_cmd *cmd, const qr_session_cmd_opts *opts,
                                qr_session_done_fn on_done, qr_session_untagged_fn on_untagged,
                                void *payload)
{
    return qr_queue_submit(s, cmd, opts, on_done, on_untagged, payload, 0, NULL);
}

QR_EXTERN int qr_session_cancel_all(qr_session *s)
{
    size_t n;

    if (s == NULL)
        return QR_EINVAL;
    qr_session_ref(s);
    n = qr_queue_cancel_pending(s);
    qr_session_unref(s);
    return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}
