/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Putting a built command on the wire (qr_cmdw) and in a log line
 * (qr_cmd_render), sans-IO.
 *
 * The writer walks the segments of a qr_cmd and hands out chunks (the
 * contract is in proto/builder_p.h). It is a small state machine:
 *
 *   TAG  --> SEG --(text run)--> SEG
 *              \--(literal)--> announcement --> [WAIT if synchronizing]
 *                                           --> BODY (one chunk, or PULL
 *                                               until the stream is done,
 *                                               then the end check) --> SEG
 *            SEG (no segment left) --> final CRLF --> END
 *
 * The literal form is decided in qr_cmdw_init() from the literal mode and
 * each literal's size (qr_lit_is_sync) and written into the segment, so
 * every byte handed out lives in the command (or is the static CRLF, or a
 * body the caller lent): nothing handed out is invalidated by the next
 * call. No chunk ever has CR or LF outside an announcement's or the final
 * CRLF, because the text buffer cannot hold them (builder.c).
 *
 * Streams: qr_cmdw_pull() asks the source for at most the bytes still
 * due; when the declared size has been read, qr_cmdw_next() asks once more
 * with a one-byte buffer to check that the source ends there. A source
 * that ends early or goes on fails the command with QR_EINVAL: the wire
 * then holds an incomplete command, so the session must drop the
 * connection.
 */
#include "config.h"

#include <qresync/cmd.h>
#include <qresync/error.h>
#include <string.h>

#include "proto/builder_p.h"
#include "util/dynbuf.h"

enum phase {
    PH_TAG,  /* next: the tag chunk */
    PH_SEG,  /* next: the segment at w->seg, or the final CRLF */
    PH_WAIT, /* a synchronizing announcement was given: next is WAIT */
    PH_BODY, /* next: the body of the literal at w->seg */
    PH_END   /* the final CRLF was given */
};

static const char crlf[] = "\r\n";

static int valid_tag(const char *tag, size_t *len)
{
    size_t i;

    if (tag == NULL)
        return 0;
    for (i = 0; tag[i] != '\0'; i++)
        if (i >= QR_CMD_TAG_MAX || !qr_is_tag_char((unsigned char)tag[i]))
            return 0;
    *len = i;
    return i > 0;
}

static int valid_mode(qr_cmd_literal_mode mode)
{
    return mode == QR_CMD_LITERAL_SYNC || mode == QR_CMD_LITERAL_MINUS ||
           mode == QR_CMD_LITERAL_PLUS;
}

int qr_cmdw_init(qr_cmdw *w, qr_cmd *cmd, const char *tag, qr_cmd_literal_mode mode)
{
    size_t i, len;

    memset(w, 0, sizeof(*w));
    if (cmd == NULL)
        return QR_EINVAL;
    if (cmd->error)
        return cmd->error;
    if (cmd->depth != 0 || cmd->streamed || !valid_mode(mode) || !valid_tag(tag, &len))
        return QR_EINVAL;
    memcpy(cmd->tag, tag, len);
    cmd->tag[len] = ' ';
    cmd->tag_len = len + 1;
    for (i = 0; i < cmd->nsegs; i++) {
        qr_cmdseg *s = &cmd->segs[i];
        if (s->kind != QR_SEG_LIT)
            continue;
        s->sync = (unsigned char)qr_lit_is_sync(mode, s->size);
        s->hdr_len = (unsigned char)qr_fmt_lit_header(s->hdr, s->size, s->binary, !s->sync);
    }
    w->cmd = cmd;
    w->phase = PH_TAG;
    return 0;
}

static void give(qr_chunk *out, qr_chunk_kind kind, const char *p, size_t len)
{
    out->kind = kind;
    out->ptr = p;
    out->len = len;
    out->remaining = 0;
}

/* The run of TEXT segments starting at w->seg, as one chunk. */
static void give_text_run(qr_cmdw *w, qr_chunk *out)
{
    const qr_cmd *cmd = w->cmd;
    size_t first = w->seg, end = cmd->segs[first].off;

    while (w->seg < cmd->nsegs && cmd->segs[w->seg].kind == QR_SEG_TEXT) {
        end = cmd->segs[w->seg].off + cmd->segs[w->seg].len;
        w->seg++;
    }
    give(out, QR_CHUNK_TEXT, cmd->text.ptr + cmd->segs[first].off, end - cmd->segs[first].off);
}

/* After a stream's declared size was read: check that the source ends. */
static int check_stream_end(qr_cmdw *w, const qr_cmdseg *s)
{
    char probe;
    size_t got = 0;
    int rc = s->read(&probe, 1, &got, s->payload);

    if (rc == QR_EAGAIN)
        return rc;
    if (rc != 0)
        return w->error = rc < 0 ? rc : QR_EINVAL;
    if (got != 0)
        return w->error = QR_EINVAL; /* the source is longer than declared */
    return 0;
}

/* The body step of the literal at w->seg; 1 when a chunk was given. */
static int body_step(qr_cmdw *w, qr_chunk *out)
{
    const qr_cmdseg *s = &w->cmd->segs[w->seg];
    int rc;

    if (s->src != QR_LIT_STREAM) {
        w->seg++;
        w->phase = PH_SEG;
        if (s->size == 0)
            return 0;
        give(out, QR_CHUNK_BODY, s->data, (size_t)s->size);
        return 1;
    }
    if (w->pulled < s->size) {
        give(out, QR_CHUNK_PULL, NULL, 0);
        out->remaining = s->size - w->pulled;
        return 1;
    }
    rc = check_stream_end(w, s);
    if (rc < 0)
        return rc;
    w->seg++;
    w->pulled = 0;
    w->phase = PH_SEG;
    return 0;
}

/* The SEG step; 1 when a chunk was given. */
static int seg_step(qr_cmdw *w, qr_chunk *out)
{
    qr_cmdseg *s;

    if (w->seg == w->cmd->nsegs) {
        w->phase = PH_END;
        give(out, QR_CHUNK_TEXT, crlf, 2);
        return 1;
    }
    s = &w->cmd->segs[w->seg];
    if (s->kind == QR_SEG_TEXT) {
        give_text_run(w, out);
        return 1;
    }
    w->phase = s->sync ? PH_WAIT : PH_BODY;
    give(out, QR_CHUNK_TEXT, s->hdr, s->hdr_len);
    return 1;
}

int qr_cmdw_next(qr_cmdw *w, qr_chunk *out)
{
    int rc = 0;

    if (w->error)
        return w->error;
    if (w->cmd == NULL)
        return QR_EINVAL;
    for (;;) {
        switch (w->phase) {
        case PH_TAG:
            w->phase = PH_SEG;
            give(out, QR_CHUNK_TEXT, w->cmd->tag, w->cmd->tag_len);
            return 0;
        case PH_SEG:
            rc = seg_step(w, out);
            break;
        case PH_WAIT:
            w->phase = PH_BODY;
            give(out, QR_CHUNK_WAIT, NULL, 0);
            return 0;
        case PH_BODY:
            rc = body_step(w, out);
            break;
        case PH_END:
        default:
            give(out, QR_CHUNK_END, NULL, 0);
            return 0;
        }
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

int qr_cmdw_pull(qr_cmdw *w, void *buf, size_t cap, size_t *got)
{
    const qr_cmdseg *s;
    uint64_t due;
    size_t want, n = 0;
    int rc;

    *got = 0;
    if (w->error)
        return w->error;
    if (w->cmd == NULL || w->phase != PH_BODY || cap == 0)
        return QR_EINVAL;
    s = &w->cmd->segs[w->seg];
    if (s->src != QR_LIT_STREAM || w->pulled >= s->size)
        return QR_EINVAL;
    due = s->size - w->pulled;
    want = due < cap ? (size_t)due : cap;
    w->cmd->streamed = 1;
    rc = s->read(buf, want, &n, s->payload);
    if (rc == QR_EAGAIN)
        return rc;
    if (rc != 0)
        return w->error = rc < 0 ? rc : QR_EINVAL;
    if (n == 0 || n > want)
        return w->error = QR_EINVAL; /* shorter than declared, or overran buf */
    w->pulled += n;
    *got = n;
    return 0;
}

size_t qr_cmd_sync_points(const qr_cmd *cmd, qr_cmd_literal_mode mode)
{
    size_t i, n = 0;

    for (i = 0; i < cmd->nsegs; i++)
        if (cmd->segs[i].kind == QR_SEG_LIT && qr_lit_is_sync(mode, cmd->segs[i].size))
            n++;
    return n;
}

/* One segment of a log rendering; *redacted tracks a run of secrets. */
static int render_seg(const qr_cmd *cmd, const qr_cmdseg *s, qr_cmd_literal_mode mode, int reveal,
                      int *redacted, qr_dynbuf *b)
{
    char hdr[QR_CMD_HDR_MAX];
    size_t n;

    if (s->secret && !reveal) {
        if (*redacted)
            return 0;
        *redacted = 1;
        return qr_dynbuf_add(b, "<redacted>", 10);
    }
    *redacted = 0;
    if (s->kind == QR_SEG_TEXT)
        return qr_dynbuf_add(b, cmd->text.ptr + s->off, s->len);
    n = qr_fmt_lit_header(hdr, s->size, s->binary, !qr_lit_is_sync(mode, s->size));
    return qr_dynbuf_add(b, hdr, n - 2); /* without CRLF */
}

QR_EXTERN int qr_cmd_render(const qr_cmd *cmd, const char *tag, qr_cmd_literal_mode mode,
                            qr_log_level level, qr_buf *out)
{
    qr_dynbuf b;
    size_t i, tag_len = 0;
    int rc = 0, redacted = 0;

    if (cmd == NULL || out == NULL || cmd->error || cmd->depth != 0 || !valid_mode(mode) ||
        (tag != NULL && !valid_tag(tag, &tag_len)))
        return QR_EINVAL;
    qr_dynbuf_init(&b, QR_CMD_TEXT_MAX + 64 * (size_t)QR_CMD_SEGS_MAX);
    if (tag != NULL) {
        rc = qr_dynbuf_add(&b, tag, tag_len);
        if (rc == 0)
            rc = qr_dynbuf_addc(&b, ' ');
    }
    for (i = 0; i < cmd->nsegs && rc == 0; i++)
        rc = render_seg(cmd, &cmd->segs[i], mode, level >= QR_LOG_TRACE, &redacted, &b);
    if (rc == 0)
        rc = qr_dynbuf_detach(&b, out);
    qr_dynbuf_free(&b);
    return rc;
}
