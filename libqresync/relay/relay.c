/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The streaming relay: one message from a source session's FETCH body to
 * a destination session's APPEND, in memory bounded by the ring buffer
 * (include/qresync/relay.h has the contract).
 *
 * Phases (one setter, relay_phase(), one handler per event):
 *
 *   IDLE   nothing running; qr_relay_start() moves to META (streaming) or
 *          BODY (single FETCH, spilling).
 *   META   `UID FETCH uid (UID FLAGS INTERNALDATE RFC822.SIZE)` in flight;
 *          its FETCH response gives flags and date; its completion
 *          submits the body FETCH (never both in flight: body events go
 *          to the oldest command claiming FETCH).
 *   BODY   the body FETCH in flight. Streaming: on_body_begin submits the
 *          APPEND with the announced size; on_body_data copies into the
 *          ring, wakes the destination (qr_session_source_ready()) and
 *          holds the source's input when less than max_chunk is free.
 *          Spilling: the bytes go to the spill file; the completion
 *          rewinds it and submits the APPEND, which reads the file.
 *   DONE   both sides completed; the user's completion fired, once.
 *
 * The destination's pull callback (append_read) drains the ring; at half
 * empty it releases the source. When the source failed after the APPEND
 * was announced, the pull answers QR_ECANCELED, which fails the
 * destination session: the literal cannot be finished honestly. When the
 * destination failed, the body sink drops the rest of the body and never
 * holds, so the source session finishes its FETCH and stays usable.
 *
 * Memory: the ring (fixed, allocated by qr_relay_new()), the mailbox name,
 * and the flag names of one message (bounded by the parser's response
 * limit). The spill file holds at most max_spill bytes.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <qresync/relay.h>
#include <qresync/uidset.h>

#include "relay/relay_p.h"
#include "util/alloc.h"

enum relay_phase { PH_IDLE = 0, PH_META, PH_BODY, PH_DONE };

enum side_state {
    SIDE_NONE = 0, /* not submitted */
    SIDE_RUNNING,  /* submitted, no completion yet */
    SIDE_DONE      /* completed */
};

struct qr_relay {
    qr_relay_options o; /* options; o.spill_dir points at spill_dir */
    char *spill_dir;    /* owned copy, or NULL */
    char *ring;         /* owned, o.ring_size bytes */
    size_t ring_head;   /* index of the oldest byte */
    size_t ring_used;   /* bytes in the ring */
    enum relay_phase phase;
    qr_session *src, *dst; /* borrowed sessions */
    uint32_t uid;          /* source UID */
    char *mailbox;         /* owned destination mailbox name */
    qr_relay_done_fn done; /* user completion */
    void *payload;         /* its payload */
    enum side_state src_state, dst_state;
    int src_held;        /* 1 while we hold the source's input */
    int got_meta;        /* the FETCH response with flags and date arrived */
    char *flags;         /* owned: flag names, each NUL-terminated, nflags of them */
    size_t nflags;       /* number of names in flags */
    int64_t date;        /* INTERNALDATE, seconds since 1970 */
    int date_tz;         /* its zone, minutes east of UTC */
    int body_begun;      /* on_body_begin seen */
    int body_ended;      /* on_body_end seen */
    uint64_t size;       /* announced body size */
    uint64_t received;   /* body bytes taken from the source */
    uint64_t sent;       /* body bytes given to the APPEND */
    int spill_fd;        /* spill file, or -1 */
    qr_relay_result res; /* the outcome being built */
};

QR_EXTERN int qr_relay_options_init(qr_relay_options *opts, unsigned int version)
{
    static const qr_relay_options defaults = QR_RELAY_OPTIONS_INIT;

    if (opts == NULL || version != QR_RELAY_OPTIONS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

QR_EXTERN int qr_relay_new(qr_relay **out, const qr_relay_options *opts)
{
    static const qr_relay_options defaults = QR_RELAY_OPTIONS_INIT;
    qr_relay *r;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != QR_RELAY_OPTIONS_VERSION || (opts->flags & ~QR_RELAY_SINGLE_FETCH) != 0 ||
        opts->max_chunk < 4096 || opts->ring_size / 2 < opts->max_chunk || opts->max_spill == 0)
        return QR_EINVAL;
    r = qr_calloc(1, sizeof(*r));
    if (r == NULL)
        return QR_ENOMEM;
    r->o = *opts;
    r->spill_fd = -1;
    r->ring = qr_malloc(opts->ring_size);
    if (opts->spill_dir != NULL)
        r->spill_dir = qr_strdup(opts->spill_dir);
    if (r->ring == NULL || (opts->spill_dir != NULL && r->spill_dir == NULL)) {
        qr_relay_free(r);
        return QR_ENOMEM;
    }
    r->o.spill_dir = r->spill_dir;
    *out = r;
    return 0;
}

static void relay_reset(qr_relay *r)
{
    if (r->spill_fd >= 0)
        close(r->spill_fd);
    r->spill_fd = -1;
    qr_free(r->mailbox);
    qr_free(r->flags);
    r->mailbox = NULL;
    r->flags = NULL;
    r->nflags = 0;
}

QR_EXTERN void qr_relay_free(qr_relay *r)
{
    if (r == NULL)
        return;
    relay_reset(r);
    qr_free(r->ring);
    qr_free(r->spill_dir);
    qr_free(r);
}

QR_EXTERN int qr_relay_running(const qr_relay *r)
{
    return r != NULL && (r->phase == PH_META || r->phase == PH_BODY);
}

static void relay_phase(qr_relay *r, enum relay_phase ph)
{
    r->phase = ph;
}

/* Record the first failure. */
static void relay_fail(qr_relay *r, qr_relay_side side, int code)
{
    if (r->res.status == 0) {
        r->res.status = code;
        r->res.failed = side;
    }
}

static void release_source(qr_relay *r)
{
    if (r->src_held) {
        r->src_held = 0;
        qr_session_hold_input(r->src, 0);
    }
}

/* Fire the completion when both sides are done. */
static void relay_check_done(qr_relay *r)
{
    qr_relay_result res;

    if (r->phase == PH_IDLE || r->phase == PH_DONE)
        return;
    if (r->src_state == SIDE_RUNNING || r->dst_state == SIDE_RUNNING)
        return;
    release_source(r);
    relay_reset(r);
    relay_phase(r, PH_DONE);
    res = r->res;
    res.size = r->size;
    r->done(r, &res, r->payload);
}

/* --- the APPEND side ---------------------------------------------------------------- */

static int append_read(void *buf, size_t cap, size_t *got, void *payload)
{
    qr_relay *r = payload;
    size_t n, first;
    int rc;

    *got = 0;
    if (r->res.failed == QR_RELAY_SIDE_SOURCE)
        return QR_ECANCELED; /* the literal cannot be finished honestly */
    if (r->sent == r->size)
        return 0;
    if (r->res.spilled) {
        rc = qr_spill_read(r->spill_fd, buf, cap, &n);
        if (rc == 0 && n == 0)
            rc = QR_EIO; /* shorter than announced: the file changed under us */
        if (rc < 0) {
            relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EIO);
            return QR_ECANCELED;
        }
        r->sent += n;
        *got = n;
        return 0;
    }
    if (r->ring_used == 0)
        return QR_EAGAIN;
    n = r->ring_used < cap ? r->ring_used : cap;
    first = r->o.ring_size - r->ring_head;
    if (first > n)
        first = n;
    memcpy(buf, r->ring + r->ring_head, first);
    memcpy((char *)buf + first, r->ring, n - first);
    r->ring_head = (r->ring_head + n) % r->o.ring_size;
    r->ring_used -= n;
    r->sent += n;
    *got = n;
    if (r->ring_used <= r->o.ring_size / 2)
        release_source(r);
    return 0;
}

static int append_done(qr_session *s, const qr_session_result *res, void *payload)
{
    qr_relay *r = payload;

    (void)s;
    r->dst_state = SIDE_DONE;
    if (res->status != 0) {
        relay_fail(r, QR_RELAY_SIDE_DEST, res->status);
        release_source(r); /* the sink now drops the rest of the body */
    } else if (res->code != NULL && res->code->kind == QR_CODE_APPENDUID &&
               res->code->set != NULL) {
        size_t n = 0;
        const qr_range *rg = qr_uidset_ranges(res->code->set, &n);

        r->res.dst_uidvalidity = (uint32_t)res->code->number;
        if (n > 0)
            r->res.dst_uid = rg[0].lo;
    }
    relay_check_done(r);
    return 0;
}

/* Submit the APPEND; on failure record it as the destination's. */
static void append_start(qr_relay *r)
{
    qr_cmd *cmd = NULL;
    const char *f;
    size_t i;
    int rc;

    rc = qr_cmd_new(&cmd, "APPEND", 0);
    if (rc == 0) {
        qr_cmd_add_mailbox(cmd, r->mailbox);
        qr_cmd_list_open(cmd);
        for (i = 0, f = r->flags; i < r->nflags; i++, f += strlen(f) + 1)
            if (strcasecmp(f, "\\Recent") != 0)
                qr_cmd_add_flag(cmd, f);
        qr_cmd_list_close(cmd);
        qr_cmd_add_date_time_t(cmd, (time_t)r->date, r->date_tz);
        qr_cmd_add_literal_stream(cmd, r->size, append_read, r, 0);
        rc = qr_cmd_error(cmd);
    }
    if (rc == 0)
        rc = qr_session_submit(r->dst, cmd, NULL, append_done, NULL, r);
    if (rc != 0) {
        qr_cmd_free(cmd);
        relay_fail(r, QR_RELAY_SIDE_DEST, rc);
        return;
    }
    r->dst_state = SIDE_RUNNING;
}

/* --- the FETCH side ------------------------------------------------------------------ */

/* Keep flags and date from a FETCH response for our UID. */
static int fetch_untagged(qr_session *s, const qr_resp *resp, void *payload)
{
    qr_relay *r = payload;
    const qr_resp_fetch *f = &resp->u.fetch;
    size_t i, total = 0;
    char *p;

    (void)s;
    if (resp->kind != QR_RESP_FETCH || !(f->present & QR_FETCH_UID) || f->uid != r->uid)
        return 0;
    if ((f->present & (QR_FETCH_FLAGS | QR_FETCH_INTERNALDATE)) !=
        (QR_FETCH_FLAGS | QR_FETCH_INTERNALDATE))
        return 0;
    for (i = 0; i < f->flags.count; i++)
        total += f->flags.items[i].len + 1;
    qr_free(r->flags);
    r->flags = qr_malloc(total + 1);
    r->nflags = 0;
    if (r->flags == NULL) {
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_ENOMEM);
        return 0;
    }
    for (i = 0, p = r->flags; i < f->flags.count; i++) {
        memcpy(p, f->flags.items[i].ptr, f->flags.items[i].len);
        p[f->flags.items[i].len] = '\0';
        p += f->flags.items[i].len + 1;
    }
    r->nflags = f->flags.count;
    r->date = f->internaldate_time;
    r->date_tz = f->internaldate_tz;
    r->got_meta = 1;
    return 0;
}

static int body_begin(qr_session *s, const qr_body_info *info, void *payload)
{
    qr_relay *r = payload;

    (void)s;
    if (r->body_begun || r->res.status != 0 || (info->uid != 0 && info->uid != r->uid))
        return 0; /* not ours, a second body, or already failed: dropped */
    r->body_begun = 1;
    r->size = info->size;
    if (info->nil) {
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EPROTO);
        return 0;
    }
    if (r->res.spilled) {
        if (info->size > r->o.max_spill) {
            relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_ELIMIT);
            return 0;
        }
        r->spill_fd = qr_spill_open(r->o.spill_dir);
        if (r->spill_fd < 0) {
            r->spill_fd = -1;
            relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EIO);
        }
        return 0;
    }
    append_start(r);
    return 0;
}

static int body_data(qr_session *s, const char *data, size_t len, void *payload)
{
    qr_relay *r = payload;
    size_t tail, first;

    if (!r->body_begun || r->body_ended || r->res.status != 0)
        return 0; /* failed on one side: drop the rest */
    r->received += len;
    if (r->res.spilled) {
        if (qr_spill_write(r->spill_fd, data, len) < 0)
            relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EIO);
        return 0;
    }
    if (len > r->o.ring_size - r->ring_used) {
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_ELIMIT);
        qr_session_source_ready(r->dst);
        return QR_ELIMIT; /* fails the source session: the bytes cannot be kept */
    }
    tail = (r->ring_head + r->ring_used) % r->o.ring_size;
    first = r->o.ring_size - tail;
    if (first > len)
        first = len;
    memcpy(r->ring + tail, data, first);
    memcpy(r->ring, data + first, len - first);
    r->ring_used += len;
    qr_session_source_ready(r->dst);
    if (r->o.ring_size - r->ring_used < r->o.max_chunk) {
        r->src_held = 1;
        qr_session_hold_input(s, 1); /* append_read() releases it */
        return QR_PAUSE;
    }
    return 0;
}

static int body_end(qr_session *s, void *payload)
{
    qr_relay *r = payload;

    (void)s;
    if (r->body_begun)
        r->body_ended = 1;
    return 0;
}

static int body_done(qr_session *s, const qr_session_result *res, void *payload)
{
    qr_relay *r = payload;

    (void)s;
    r->src_state = SIDE_DONE;
    if (res->status != 0)
        relay_fail(r, QR_RELAY_SIDE_SOURCE, res->status);
    else if (!r->body_ended || (r->res.spilled && !r->got_meta))
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_ENO); /* no such message, or no body */
    else if (r->received != r->size)
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EPROTO);
    if (r->res.failed == QR_RELAY_SIDE_SOURCE && r->dst_state == SIDE_RUNNING)
        qr_session_source_ready(r->dst); /* its pull answers QR_ECANCELED */
    if (r->res.status == 0 && r->res.spilled) {
        if (qr_spill_rewind(r->spill_fd) < 0)
            relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_EIO);
        else
            append_start(r);
    }
    relay_check_done(r);
    return 0;
}

/* Submit a UID FETCH of our message with the given items. */
static int fetch_submit(qr_relay *r, const char *items, int body, qr_session_done_fn on_done)
{
    qr_session_cmd_opts o = QR_SESSION_CMD_OPTS_INIT;
    qr_cmd *cmd = NULL;
    int rc;

    rc = qr_cmd_new(&cmd, "UID FETCH", 0);
    if (rc == 0) {
        qr_cmd_add_number(cmd, r->uid);
        qr_cmd_add_raw(cmd, items);
        rc = qr_cmd_error(cmd);
    }
    if (body) {
        o.on_body_begin = body_begin;
        o.on_body_data = body_data;
        o.on_body_end = body_end;
    }
    if (rc == 0)
        rc = qr_session_submit(r->src, cmd, &o, on_done, fetch_untagged, r);
    if (rc != 0)
        qr_cmd_free(cmd);
    return rc;
}

static int meta_done(qr_session *s, const qr_session_result *res, void *payload)
{
    qr_relay *r = payload;
    int rc;

    (void)s;
    if (res->status != 0)
        relay_fail(r, QR_RELAY_SIDE_SOURCE, res->status);
    else if (!r->got_meta)
        relay_fail(r, QR_RELAY_SIDE_SOURCE, QR_ENO); /* no such message */
    if (r->res.status == 0) {
        rc = fetch_submit(r, "(UID BODY.PEEK[])", 1, body_done);
        if (rc == 0) {
            relay_phase(r, PH_BODY);
            return 0;
        }
        relay_fail(r, QR_RELAY_SIDE_SOURCE, rc);
    }
    r->src_state = SIDE_DONE;
    relay_check_done(r);
    return 0;
}

QR_EXTERN int qr_relay_start(qr_relay *r, qr_session *src, uint32_t uid, qr_session *dst,
                             const char *mailbox, qr_relay_done_fn done, void *payload)
{
    int single, rc;

    if (r == NULL || src == NULL || dst == NULL || mailbox == NULL || done == NULL || uid == 0 ||
        src == dst || qr_relay_running(r))
        return QR_EINVAL;
    relay_reset(r);
    r->mailbox = qr_strdup(mailbox);
    if (r->mailbox == NULL)
        return QR_ENOMEM;
    single = (r->o.flags & QR_RELAY_SINGLE_FETCH) != 0;
    r->src = src;
    r->dst = dst;
    r->uid = uid;
    r->done = done;
    r->payload = payload;
    r->ring_head = r->ring_used = 0;
    r->src_held = r->got_meta = r->body_begun = r->body_ended = 0;
    r->size = r->received = r->sent = 0;
    r->date = 0;
    r->date_tz = 0;
    memset(&r->res, 0, sizeof(r->res));
    r->res.src_uid = uid;
    r->res.spilled = single;
    r->src_state = SIDE_RUNNING;
    r->dst_state = SIDE_NONE;
    if (single)
        rc = fetch_submit(r, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])", 1, body_done);
    else
        rc = fetch_submit(r, "(UID FLAGS INTERNALDATE RFC822.SIZE)", 0, meta_done);
    if (rc != 0) {
        relay_reset(r);
        relay_phase(r, PH_IDLE);
        return rc;
    }
    relay_phase(r, single ? PH_BODY : PH_META);
    return 0;
}
