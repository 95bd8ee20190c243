/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * New messages (interimap.md §12.7): `UID FETCH range (MODSEQ FLAGS
 * INTERNALDATE BODY.PEEK[])` on the source streams into APPEND batches on
 * the target while the FETCH goes on. Bodies up to 1 MiB are kept in
 * memory (a batch holds at most 128 messages or 1 MiB, as the reference's);
 * a larger body goes to an unnamed temporary file and is appended alone,
 * streamed from it, so memory stays flat whatever the message size. When
 * too many bytes wait for their APPEND, the source's input is held.
 *
 * Crash safety (beyond the reference): before a batch is sent, its
 * messages (source UID, size, internal date) are written to the journal
 * table and committed; the mapping rows replace them once APPENDUID is
 * known (commit C7). sync_mbox.c adopts journalled copies after a crash.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "relay/relay_p.h"
#include "session/session_p.h"
#include "sync/sync_p.h"
#include "util/alloc.h"

#define SY_BATCH_MAX_MSGS  128
#define SY_BATCH_MAX_BYTES 1048576u
#define SY_SPILL_MIN       1048576u /* bodies above this go to a temporary file */
#define SY_HOLD_BYTES      (8u << 20)
#define SY_HOLD_SPILLS     2

typedef struct sy_msg {
    uint32_t uid;      /* source UID */
    uint64_t size;     /* body size */
    char *body;        /* in-memory body, or NULL */
    size_t have;       /* bytes received */
    int fd;            /* spill file, or -1 */
    uint64_t read_off; /* streamed so far */
    char *flags;       /* flags minus \Recent, received order */
    char *date;        /* INTERNALDATE as received */
} sy_msg;

typedef struct sy_batch {
    struct sy_copy *cp;
    sy_msg *m;
    size_t n, alloc;
    uint64_t bytes;
    size_t cur; /* message being streamed */
} sy_batch;

struct sy_copy {
    struct qr_sync *s;
    size_t mi;
    sy_side *src, *dst;
    char *dst_name; /* target server name */
    size_t dst_len;
    qr_uidset *ign_src;
    qr_uidset *created; /* target UIDs created */
    sy_batch *cur;      /* batch being filled */
    sy_msg *body;       /* message whose body is streaming, or NULL */
    uint32_t body_uid;  /* its UID if announced */
    int body_done;      /* the body ended, waiting for its FETCH response */
    uint64_t pending_bytes;
    unsigned pending_spills;
    int held;
    uint32_t maxuid; /* highest UID seen in the FETCH range */
    int multi;       /* target has MULTIAPPEND */
    int envelope;    /* --repair: log `UID U from <ADDR> (DATE)` from the ENVELOPE */
};

static void msg_dispose(sy_msg *m)
{
    qr_free(m->body);
    if (m->fd >= 0)
        close(m->fd);
    qr_free(m->flags);
    qr_free(m->date);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

static void batch_free(sy_batch *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n; i++)
        msg_dispose(&b->m[i]);
    qr_free(b->m);
    qr_free(b);
}

static void update_hold(struct sy_copy *cp)
{
    int hold = cp->pending_bytes > SY_HOLD_BYTES || cp->pending_spills > SY_HOLD_SPILLS;

    if (hold != cp->held) {
        qr_session_hold_input(cp->src->s, hold);
        cp->held = hold;
    }
}

/* --- APPEND -------------------------------------------------------------- */

static int stream_read(void *buf, size_t cap, size_t *got, void *payload)
{
    sy_batch *b = payload;
    sy_msg *m = &b->m[b->cur];

    if (m->read_off >= m->size) {
        *got = 0;
        if (b->cur + 1 < b->n)
            b->cur++;
        return 0;
    }
    if (cap > m->size - m->read_off)
        cap = (size_t)(m->size - m->read_off);
    if (qr_spill_read(m->fd, buf, cap, got) != 0 || *got == 0)
        return QR_EIO;
    m->read_off += *got;
    return 0;
}

static int append_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    sy_batch *b = payload;
    struct sy_copy *cp = b->cp;
    struct qr_sync *s = cp->s;
    sy_side *dst = cp->dst;
    int64_t idx = s->mbx_idx[cp->mi];
    uint32_t uidvalidity = 0, *uids = NULL, *src = NULL;
    size_t n = 0, i;
    int rc = 0;

    (void)ss;
    if (dst->outstanding > 0)
        dst->outstanding--;
    if (s->appends > 0)
        s->appends--;
    cp->pending_bytes -= b->bytes < cp->pending_bytes ? b->bytes : cp->pending_bytes;
    if (b->n == 1 && b->m[0].fd >= 0 && cp->pending_spills > 0)
        cp->pending_spills--;
    update_hold(cp);
    if (res->status != 0) {
        sy_cmd_failed(dst, res, NULL);
        goto out;
    }
    if (res->code == NULL || res->code->kind != QR_CODE_APPENDUID ||
        sy_parse_appenduid(res->code->args.ptr ? res->code->args.ptr : "", res->code->args.len,
                           &uidvalidity, &uids, &n) != 0) {
        sy_fail(s, QR_EPROTO, sy_comp(dst), dst->sel, "APPEND without a valid [APPENDUID]: %s",
                res->text);
        goto out;
    }
    if (n != b->n) {
        sy_fail(s, QR_EPROTO, sy_comp(dst), dst->sel,
                "%s contains %zu elements while %zu messages were appended.", res->code->args.ptr,
                n, b->n);
        goto out;
    }
    {
        sy_cache *c = sy_cache_get(dst, cp->dst_name, cp->dst_len, 1);

        if (c == NULL || sy_cache_uidvalidity(dst, c, uidvalidity) != 0)
            goto out;
        for (i = 0; i < n; i++)
            if (!(c->has & SY_UIDNEXT) || c->uidnext <= uids[i]) {
                c->uidnext = uids[i] == UINT32_MAX ? UINT32_MAX : uids[i] + 1;
                c->has |= SY_UIDNEXT;
            }
    }
    dst->new_mails = dst->new_mails > n ? dst->new_mails - (uint32_t)n : 0;
    src = qr_mallocarray(n, sizeof(*src));
    if (src == NULL) {
        sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++)
        src[i] = b->m[i].uid;
    {
        qr_dynbuf a, t;

        qr_dynbuf_init(&a, (size_t)1 << 24);
        qr_dynbuf_init(&t, (size_t)1 << 24);
        if (sy_uidlist_text(&a, dst->which == QR_SYNC_LOCAL ? uids : src, n) == 0 &&
            sy_uidlist_text(&t, dst->which == QR_SYNC_LOCAL ? src : uids, n) == 0)
            sy_log(s, QR_LOG_INFO, sy_comp(dst), dst->sel, QR_SYNC_LOG_QUIET,
                   "Added %zu UID(s) %s %s %s", n, qr_dynbuf_str(&a),
                   dst->which == QR_SYNC_LOCAL ? "<-" : "->", qr_dynbuf_str(&t));
        qr_dynbuf_free(&a);
        qr_dynbuf_free(&t);
    }
    for (i = 0; i < n && rc == 0; i++) {
        uint32_t l = dst->which == QR_SYNC_LOCAL ? uids[i] : src[i];
        uint32_t r = dst->which == QR_SYNC_LOCAL ? src[i] : uids[i];

        rc = qr_store_mapping_add(s->st, idx, l, r);
        if (rc == 0)
            rc = qr_store_journal_remove(
                s->st, idx, dst->which == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE, src[i]);
        if (rc == 0 && s->o.log_level >= QR_LOG_DEBUG) {
            char *pretty = sy_pretty(s, s->mbx[cp->mi], s->mbx_len[cp->mi]);

            sy_log(s, QR_LOG_DEBUG, QR_SYNC_COMP_NONE, NULL, 0,
                   "Adding mapping (lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") for %s", l, r,
                   pretty ? pretty : "");
            qr_free(pretty);
        }
        if (rc == 0 && qr_uidset_add(cp->created, uids[i]) != 0)
            rc = QR_ENOMEM;
        if (rc == 0) {
            s->stats.copied[dst->which]++;
            s->stats.copied_bytes[dst->which] += b->m[i].size;
        }
    }
    if (rc == 0)
        rc = qr_store_commit(s->st); /* C7 */
    if (rc == QR_ENOMEM)
        sy_fail(s, rc, QR_SYNC_COMP_NONE, NULL, "out of memory");
    else if (rc != 0)
        sy_store_fail(s, rc);
    sy_progress(s);
out:
    qr_free(uids);
    qr_free(src);
    batch_free(b);
    return 0;
}

/* Send a batch: journal it (committed), then APPEND. */
static int flush(struct sy_copy *cp)
{
    struct qr_sync *s = cp->s;
    sy_batch *b = cp->cur;
    int64_t idx = s->mbx_idx[cp->mi];
    qr_cmd *cmd = NULL;
    size_t i;
    int rc = 0;

    if (b == NULL || b->n == 0)
        return 0;
    cp->cur = NULL;
    if (s->cancelled) { /* stopping: nothing more is sent */
        batch_free(b);
        return 0;
    }
    for (i = 0; i < b->n && rc == 0; i++)
        rc = qr_store_journal_add(
            s->st, idx, cp->dst->which == QR_SYNC_LOCAL ? QR_STORE_LOCAL : QR_STORE_REMOTE,
            b->m[i].uid, b->m[i].size, b->m[i].date);
    if (rc == 0)
        rc = qr_store_commit(s->st);
    if (rc != 0) {
        batch_free(b);
        return sy_store_fail(s, rc);
    }
    rc = qr_cmd_new(&cmd, "APPEND", 0);
    if (rc == 0)
        rc = sy_cmd_mailbox(cmd, cp->dst_name, cp->dst_len);
    for (i = 0; i < b->n && rc == 0; i++) {
        sy_msg *m = &b->m[i];
        qr_dynbuf f;

        qr_dynbuf_init(&f, (size_t)1 << 20);
        rc = qr_dynbuf_addf(&f, "(%s)", m->flags);
        if (rc == 0)
            rc = qr_cmd_add_raw(cmd, qr_dynbuf_str(&f));
        qr_dynbuf_free(&f);
        if (rc == 0 && m->date != NULL)
            rc = qr_cmd_add_string(cmd, m->date, strlen(m->date));
        if (rc == 0 && m->fd >= 0) {
            rc = qr_spill_rewind(m->fd);
            if (rc == 0)
                rc = qr_cmd_add_literal_stream(cmd, m->size, stream_read, b, 0);
        } else if (rc == 0) {
            rc = qr_cmd_add_literal(cmd, m->body, (size_t)m->size, QR_CMD_LITERAL_BORROW);
        }
    }
    if (rc != 0) {
        qr_cmd_free(cmd);
        batch_free(b);
        return sy_fail(s, rc, sy_comp(cp->dst), cp->dst->sel, "APPEND: %s", qr_strerror(rc));
    }
    cp->pending_bytes += b->bytes;
    if (b->n == 1 && b->m[0].fd >= 0)
        cp->pending_spills++;
    update_hold(cp);
    rc = sy_submit(cp->dst, cmd, 0, append_done, NULL, b);
    if (rc != 0) {
        cp->pending_bytes -= b->bytes;
        batch_free(b);
    } else {
        s->appends++;
    }
    return rc;
}

/* Add a complete message to the batch (§12.7 "handling a fetched message"). */
static int add_message(struct sy_copy *cp, sy_msg *m)
{
    sy_batch *b;
    int rc;

    if (cp->cur != NULL && cp->cur->n > 0 &&
        (!cp->multi || cp->cur->n >= SY_BATCH_MAX_MSGS ||
         cp->cur->bytes + m->size > SY_BATCH_MAX_BYTES || m->fd >= 0 || cp->cur->m[0].fd >= 0)) {
        rc = flush(cp);
        if (rc != 0) {
            msg_dispose(m);
            return rc;
        }
    }
    if (cp->cur == NULL) {
        cp->cur = qr_calloc(1, sizeof(*cp->cur));
        if (cp->cur == NULL) {
            msg_dispose(m);
            return sy_fail(cp->s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        }
        cp->cur->cp = cp;
    }
    b = cp->cur;
    if (b->n == b->alloc) {
        size_t na = b->alloc ? b->alloc * 2 : 16;
        sy_msg *nv = qr_reallocarray(b->m, na, sizeof(*nv));

        if (nv == NULL) {
            msg_dispose(m);
            return sy_fail(cp->s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
        }
        b->m = nv;
        b->alloc = na;
    }
    b->m[b->n++] = *m;
    b->bytes += m->fd >= 0 ? 0 : m->size;
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    if (!cp->multi || b->m[0].fd >= 0)
        return flush(cp);
    return 0;
}

/* --- the source's FETCH -------------------------------------------------- */

static int body_begin(qr_session *ss, const qr_body_info *info, void *payload)
{
    struct sy_copy *cp = payload;
    sy_msg *m;

    (void)ss;
    if (cp->body != NULL)
        msg_dispose(cp->body);
    else if ((cp->body = qr_calloc(1, sizeof(*cp->body))) == NULL)
        return sy_fail(cp->s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    m = cp->body;
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    m->size = info->nil ? 0 : info->size;
    cp->body_uid = info->uid;
    cp->body_done = 0;
    if (m->size > SY_SPILL_MIN) {
        m->fd = qr_spill_open(NULL);
        if (m->fd < 0)
            return sy_fail(cp->s, QR_EIO, QR_SYNC_COMP_NONE, NULL,
                           "cannot create a temporary file for a %" PRIu64 "-byte message (TMPDIR)",
                           m->size);
    } else if (m->size > 0 && (m->body = qr_malloc((size_t)m->size)) == NULL) {
        return sy_fail(cp->s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    return 0;
}

static int body_data(qr_session *ss, const char *data, size_t len, void *payload)
{
    struct sy_copy *cp = payload;
    sy_msg *m = cp->body;

    (void)ss;
    if (m == NULL || m->have + len > m->size)
        return sy_fail(cp->s, QR_EPROTO, sy_comp(cp->src), cp->src->sel,
                       "message body longer than announced");
    if (m->fd >= 0) {
        if (qr_spill_write(m->fd, data, len) != 0)
            return sy_fail(cp->s, QR_EIO, QR_SYNC_COMP_NONE, NULL,
                           "writing a temporary file failed");
    } else {
        memcpy(m->body + m->have, data, len);
    }
    m->have += len;
    return 0;
}

static int body_end(qr_session *ss, void *payload)
{
    struct sy_copy *cp = payload;

    (void)ss;
    cp->body_done = 1;
    return 0;
}

static char *flags_received(const qr_resp_strlist *l)
{
    qr_dynbuf b;
    size_t i;
    char *out;

    qr_dynbuf_init(&b, (size_t)1 << 20);
    for (i = 0; i < l->count; i++) {
        const qr_resp_str *f = &l->items[i];

        if (f->ptr == NULL || (f->len == 7 && strncasecmp(f->ptr, "\\Recent", 7) == 0))
            continue;
        if ((b.len > 0 && qr_dynbuf_addc(&b, ' ') != 0) || qr_dynbuf_add(&b, f->ptr, f->len) != 0) {
            qr_dynbuf_free(&b);
            return NULL;
        }
    }
    out = qr_strdup(qr_dynbuf_str(&b));
    qr_dynbuf_free(&b);
    return out;
}

/* §4.3: `UID U from <LOCAL@DOMAIN> (INTERNALDATE)`, the first address of
 * the first non-empty of From, Sender, Reply-To. */
static void log_envelope(struct sy_copy *cp, const qr_resp_fetch *f)
{
    const qr_resp_envelope *e = f->envelope;
    const qr_resp_address *a = NULL;
    char addr[600] = "";

    if (e != NULL) {
        if (e->from.count > 0)
            a = &e->from.items[0];
        else if (e->sender.count > 0)
            a = &e->sender.items[0];
        else if (e->reply_to.count > 0)
            a = &e->reply_to.items[0];
    }
    if (a != NULL && a->mailbox.ptr != NULL && a->host.ptr != NULL)
        snprintf(addr, sizeof(addr), "%.*s@%.*s",
                 (int)(a->mailbox.len > 256 ? 256 : a->mailbox.len), a->mailbox.ptr,
                 (int)(a->host.len > 256 ? 256 : a->host.len), a->host.ptr);
    sy_log(cp->s, QR_LOG_INFO, sy_comp(cp->src), cp->src->sel, QR_SYNC_LOG_QUIET,
           "UID %" PRIu32 " from <%s> (%s)", f->uid, addr,
           f->internaldate.ptr != NULL ? f->internaldate.ptr : "");
}

static int on_fetch(qr_session *ss, const qr_resp *r, void *payload)
{
    struct sy_copy *cp = payload;
    const qr_resp_fetch *f;
    sy_msg *m = cp->body;

    (void)ss;
    if (r->kind != QR_RESP_FETCH)
        return 0;
    f = &r->u.fetch;
    if (f->nbodies == 0 || m == NULL || !cp->body_done)
        return 0;
    cp->body = NULL;
    if (!(f->present & QR_FETCH_UID) || qr_uidset_contains(cp->ign_src, f->uid)) {
        msg_dispose(m);
        qr_free(m);
        return 0;
    }
    if (f->uid > cp->maxuid)
        cp->maxuid = f->uid;
    m->uid = f->uid;
    if (cp->envelope)
        log_envelope(cp, f);
    if (m->size == 0) {
        sy_log(cp->s, QR_LOG_WARNING, sy_comp(cp->src), cp->src->sel, 0,
               "WARNING: Ignoring new 0-length message (UID %" PRIu32 ")", f->uid);
        msg_dispose(m);
        qr_free(m);
        return 0;
    }
    if (m->have != m->size) {
        msg_dispose(m);
        qr_free(m);
        return sy_fail(cp->s, QR_EPROTO, sy_comp(cp->src), cp->src->sel,
                       "incomplete body for UID %" PRIu32, f->uid);
    }
    m->flags = flags_received(&f->flags);
    if ((f->present & QR_FETCH_INTERNALDATE) && f->internaldate.ptr != NULL)
        m->date = qr_memdup0(f->internaldate.ptr, f->internaldate.len);
    if (m->flags == NULL || m->date == NULL) {
        msg_dispose(m);
        qr_free(m);
        return sy_fail(cp->s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL,
                       m->flags == NULL ? "out of memory" : "FETCH without INTERNALDATE");
    }
    {
        int rc = add_message(cp, m);

        qr_free(m);
        return rc < 0 ? 0 : 0;
    }
}

/* The range of new UIDs (§12.7): since:... minus the ignored UIDs. */
static int build_range(qr_dynbuf *out, uint32_t since, const qr_uidset *ign, uint32_t *first)
{
    size_t n, i;
    const qr_range *r = qr_uidset_ranges(ign, &n);
    int rc = 0, any = 0;

    *first = 0;
    for (i = 0; i < n && rc == 0; i++) {
        uint32_t lo = r[i].lo, hi = r[i].hi;

        if (hi < since)
            continue;
        if (since < lo) {
            if (any)
                rc = qr_dynbuf_addc(out, ',');
            if (rc == 0)
                rc = since == lo - 1
                         ? qr_dynbuf_addf(out, "%u", (unsigned)since)
                         : qr_dynbuf_addf(out, "%u:%u", (unsigned)since, (unsigned)(lo - 1));
            if (!any)
                *first = since;
            any = 1;
        }
        if (hi == UINT32_MAX)
            return rc == 0 ? 1 : rc; /* everything above is ignored */
        since = hi + 1;
    }
    if (rc == 0) {
        if (any)
            rc = qr_dynbuf_addc(out, ',');
        if (rc == 0)
            rc = qr_dynbuf_addf(out, "%u:4294967295", (unsigned)since);
        if (!any)
            *first = since;
    }
    return rc;
}

typedef struct fetch_piece {
    struct sy_copy *cp;
} fetch_piece;

static int fetch_done(qr_session *ss, const qr_session_result *res, void *payload)
{
    struct sy_copy *cp = payload;

    return sy_done_fatal(ss, res, cp->src);
}

static int submit_fetch(struct sy_copy *cp, const char *range)
{
    const char *items = cp->envelope ? "(MODSEQ FLAGS INTERNALDATE BODY.PEEK[] ENVELOPE)"
                                     : "(MODSEQ FLAGS INTERNALDATE BODY.PEEK[])";
    qr_session_cmd_opts co = QR_SESSION_CMD_OPTS_INIT;
    qr_cmd *cmd = NULL;
    int rc;

    if ((rc = qr_cmd_new(&cmd, "UID FETCH", 0)) != 0 || (rc = qr_cmd_add_raw(cmd, range)) != 0 ||
        (rc = qr_cmd_add_raw(cmd, items)) != 0) {
        qr_cmd_free(cmd);
        return sy_fail(cp->s, rc, sy_comp(cp->src), cp->src->sel, "UID FETCH: %s", qr_strerror(rc));
    }
    co.claims = QR_CLAIM(QR_RESP_FETCH);
    co.on_body_begin = body_begin;
    co.on_body_data = body_data;
    co.on_body_end = body_end;
    rc = qr_session_submit(cp->src->s, cmd, &co, fetch_done, on_fetch, cp);
    if (rc != 0) {
        qr_cmd_free(cmd);
        return sy_cmd_failed(cp->src, &(qr_session_result){rc, NULL, NULL, "", 0}, NULL);
    }
    cp->src->outstanding++;
    return 0;
}

static int range_piece(const char *text, void *ctx)
{
    return submit_fetch(ctx, text);
}

/* Free what a copy holds once its commands completed. */
static void copy_dispose(struct sy_copy *cp)
{
    if (cp->body != NULL) {
        msg_dispose(cp->body);
        qr_free(cp->body);
    }
    batch_free(cp->cur);
    if (cp->held)
        qr_session_hold_input(cp->src->s, 0);
    qr_free(cp->dst_name);
}

/* The FETCH is done: send the last batch and wait for every APPEND. */
static int copy_finish(struct sy_copy *cp)
{
    int rc = sy_wait(cp->s);

    if (rc == 0 && cp->cur != NULL) {
        rc = flush(cp);
        if (rc == 0)
            rc = sy_wait(cp->s);
    }
    return rc;
}

/* One source -> target pass ("pull new messages" + the copies). */
static int copy_pass(struct qr_sync *s, size_t mi, sy_side *src, sy_side *dst, qr_uidset *ign_src,
                     qr_uidset *created)
{
    struct sy_copy cp;
    sy_cache *c = sy_selected(src);
    int rc = 0;

    memset(&cp, 0, sizeof(cp));
    cp.s = s;
    cp.mi = mi;
    cp.src = src;
    cp.dst = dst;
    cp.ign_src = ign_src;
    cp.created = created;
    cp.multi = qr_session_has_cap(dst->s, QR_CAP_MULTIAPPEND);
    cp.dst_name = sy_server_name(dst, s->mbx[mi], s->mbx_len[mi], &cp.dst_len);
    if (cp.dst_name == NULL || c == NULL)
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    s->progress_mailbox = s->side[QR_SYNC_LOCAL].sel;
    s->copying = 1;
    s->stats.to_copy = 0;
    if (c->has & SY_EXISTS) {
        uint64_t mapped = 0;

        if (qr_store_mapping_count(s->st, s->mbx_idx[mi], &mapped) == 0 && c->exists > mapped)
            s->stats.to_copy = c->exists - mapped;
    }
    for (;;) {
        uint32_t since = (c->phas & SY_UIDNEXT) && c->puidnext ? c->puidnext : 1;
        uint32_t first, unext;
        qr_dynbuf range;
        qr_uidset *set = NULL;
        int open;

        if (!(c->has & SY_UIDNEXT)) {
            rc = sy_fail(s, QR_EPROTO, sy_comp(src), src->sel,
                         "Unknown UIDNEXT value - non-compliant server?");
            break;
        }
        unext = c->uidnext;
        qr_dynbuf_init(&range, (size_t)1 << 30);
        open = build_range(&range, since, ign_src, &first);
        if (open < 0) {
            qr_dynbuf_free(&range);
            rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            break;
        }
        if (open == 0 && (first < unext || src->new_mails > 0)) {
            cp.maxuid = 0;
            if (qr_uidset_new(&set) != 0 ||
                qr_uidset_parse(set, qr_dynbuf_str(&range), range.len) != 0)
                rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            else
                rc = sy_pieces(set, range_piece, &cp);
            qr_uidset_free(set);
            if (rc == 0)
                rc = copy_finish(&cp); /* the FETCH, and the APPENDs it started */
            if (cp.maxuid >= unext)
                unext = cp.maxuid == UINT32_MAX ? UINT32_MAX : cp.maxuid + 1;
        }
        qr_dynbuf_free(&range);
        if (rc != 0)
            break;
        rc = sy_pcache_set(src, c, SY_UIDNEXT, 0, unext, 0);
        src->new_mails = 0;
        if (rc != 0 || unext >= c->uidnext)
            break;
    }
    s->copying = 0;
    copy_dispose(&cp);
    return rc;
}

int sy_copy_uids(struct qr_sync *s, size_t mi, sy_side *src, sy_side *dst, const qr_uidset *uids,
                 qr_uidset *created)
{
    struct sy_copy cp;
    qr_uidset *none = NULL;
    int rc;

    if (qr_uidset_count(uids) == 0)
        return 0;
    memset(&cp, 0, sizeof(cp));
    cp.s = s;
    cp.mi = mi;
    cp.src = src;
    cp.dst = dst;
    cp.created = created;
    cp.envelope = 1;
    cp.multi = qr_session_has_cap(dst->s, QR_CAP_MULTIAPPEND);
    cp.dst_name = sy_server_name(dst, s->mbx[mi], s->mbx_len[mi], &cp.dst_len);
    if (cp.dst_name == NULL || qr_uidset_new(&none) != 0) {
        qr_free(cp.dst_name);
        return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    }
    cp.ign_src = none;
    s->progress_mailbox = s->side[QR_SYNC_LOCAL].sel;
    s->copying = 1;
    s->stats.to_copy = qr_uidset_count(uids);
    rc = sy_pieces(uids, range_piece, &cp);
    if (rc == 0)
        rc = copy_finish(&cp);
    s->copying = 0;
    copy_dispose(&cp);
    qr_uidset_free(none);
    return rc;
}

int sy_sync_messages(struct qr_sync *s, size_t mi, qr_uidset *ign_local, qr_uidset *ign_remote)
{
    qr_uidset *ign[2] = {ign_local, ign_remote}, *own[2] = {NULL, NULL}, *created = NULL;
    int64_t idx = s->mbx_idx[mi];
    int rc = 0, again, changed, k;

    for (k = 0; k < 2; k++)
        if (ign[k] == NULL) {
            if (qr_uidset_new(&own[k]) != 0)
                return sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            ign[k] = own[k];
        }
    if (qr_uidset_new(&created) != 0)
        rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
    do {
        again = 0;
        for (k = QR_SYNC_REMOTE; rc == 0 && k >= QR_SYNC_LOCAL; k--) {
            sy_side *src = &s->side[k], *dst = &s->side[1 - k];

            qr_uidset_clear(created);
            rc = copy_pass(s, mi, src, dst, ign[k], created);
            if (rc == 0 && qr_uidset_union(ign[1 - k], created) != 0)
                rc = sy_fail(s, QR_ENOMEM, QR_SYNC_COMP_NONE, NULL, "out of memory");
            again = qr_uidset_count(created) > 0;
        }
    } while (rc == 0 && again);
    if (rc == 0)
        rc = sy_sync_known(s, mi, &changed);
    for (k = 0; rc == 0 && k < 2; k++) {
        sy_cache *c = sy_selected(&s->side[k]);

        rc = qr_store_cursor_update(s->st, k == 0 ? QR_STORE_LOCAL : QR_STORE_REMOTE, idx,
                                    c->puidnext, c->phms);
        if (rc != 0)
            rc = sy_store_fail(s, rc);
    }
    if (rc == 0 && (rc = qr_store_journal_clear(s->st, idx)) != 0)
        rc = sy_store_fail(s, rc);
    if (rc == 0 && (rc = qr_store_commit(s->st)) != 0) /* C9 */
        rc = sy_store_fail(s, rc);
    qr_uidset_free(created);
    qr_uidset_free(own[0]);
    qr_uidset_free(own[1]);
    return rc;
}
