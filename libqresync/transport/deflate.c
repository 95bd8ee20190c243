/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The COMPRESS=DEFLATE layer (RFC 4978): raw deflate (zlib windowBits -15)
 * in both directions, above the socket/tunnel or TLS layer.
 *
 * Input. Compressed bytes from below land in `inbuf` (fixed size, at least
 * DEFLATE_BUF; bigger only when the bytes injected at creation need it)
 * and are inflated straight into the caller's read buffer. Nothing else
 * holds inflated output, so a deflate bomb costs the caller's buffer plus
 * zlib's 32 KiB window, however much it expands. read() inflates until it
 * produces something; only when the inflater makes no more progress with
 * what it has does it read from below. pending_input() is true while
 * compressed input is still buffered or the last inflate filled the
 * caller's buffer completely (more output may be waiting inside zlib):
 * the driver must call read() again without waiting for the fd.
 * A zlib error is QR_ECOMPRESS "Inflation failed: MSG"; the end of the
 * deflate stream is not an error but reads return QR_EOF afterwards.
 *
 * Output. write() deflates (Z_NO_FLUSH) into `outbuf`, whose bytes
 * [out_start, out_end) are queued for the layer below; it accepts input
 * only while outbuf has room after pushing what it can below, so memory
 * stays fixed and a slow peer gives back-pressure (QR_EAGAIN). flush()
 * ends the batch with Z_SYNC_FLUSH (once per batch, only when something
 * was written since the last one) so the server can decode every command
 * completely, pushes the queue down and flushes the layer below. A sync
 * flush that did not fit (`flushing`) is completed before more input is
 * accepted, as zlib requires. interest() wants POLLOUT while bytes are
 * queued or a flush is unfinished.
 *
 * Counters: compressed bytes exchanged with the layer below go to
 * traffic.compr_in / compr_out. zlib allocates through qr_malloc.
 */
#include "config.h"

#include "transport/transport_p.h"

#include <string.h>
#include <zlib.h>

#include "util/alloc.h"

#define DEFLATE_BUF 32768 /* size of inbuf (minimum) and of outbuf */

typedef struct qr_deflate_layer {
    qr_layer base;         /* head; ops = &deflate_ops */
    z_stream zin;          /* inflater; next_in points into inbuf */
    z_stream zout;         /* deflater; next_out points into outbuf */
    int zin_ready;         /* inflateInit2 succeeded (inflateEnd due) */
    int zout_ready;        /* deflateInit2 succeeded (deflateEnd due) */
    unsigned char *inbuf;  /* owned: compressed input from below */
    size_t inbuf_size;     /* bytes allocated at inbuf */
    unsigned char *outbuf; /* owned: compressed output for below */
    size_t out_start;      /* first queued byte in outbuf */
    size_t out_end;        /* end of the queued bytes in outbuf */
    int dirty;             /* input deflated since the last sync flush */
    int flushing;          /* a Z_SYNC_FLUSH ran out of room and must be resumed */
    int in_full;           /* the last inflate filled the caller's buffer */
    int in_ended;          /* Z_STREAM_END seen: reads give QR_EOF */
} qr_deflate_layer;

static qr_deflate_layer *dfl_of(const qr_layer *l)
{
    return (qr_deflate_layer *)(uintptr_t)l;
}

static voidpf dfl_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return qr_mallocarray(items, size);
}

static void dfl_zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    qr_free(p);
}

/* Record a zlib failure: QR_ENOMEM for Z_MEM_ERROR, else QR_ECOMPRESS. */
static int dfl_zerr(qr_deflate_layer *d, const char *what, const z_stream *z, int zrc)
{
    int code = zrc == Z_MEM_ERROR ? QR_ENOMEM : QR_ECOMPRESS;

    qr_err_set(d->base.stack->err, code, "%s: %s", what,
               z->msg               ? z->msg
               : zrc == Z_MEM_ERROR ? "out of memory"
                                    : "zlib error");
    qr_errslot_set_lib_code(d->base.stack->err, zrc);
    return code;
}

/* ---- input -------------------------------------------------------------- */

/* Inflate into buf: > 0 produced, 0 needs more input, or an error. */
static ssize_t dfl_inflate(qr_deflate_layer *d, void *buf, size_t cap)
{
    uInt before_in;
    size_t produced;
    int zrc;

    for (;;) {
        d->zin.next_out = buf;
        d->zin.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
        before_in = d->zin.avail_in;
        zrc = inflate(&d->zin, Z_SYNC_FLUSH);
        produced = (size_t)((cap > UINT32_MAX ? UINT32_MAX : cap) - d->zin.avail_out);
        if (zrc == Z_STREAM_END) {
            d->in_ended = 1;
            d->in_full = 0;
            return (ssize_t)produced;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return dfl_zerr(d, "Inflation failed", &d->zin, zrc);
        d->in_full = d->zin.avail_out == 0;
        if (produced > 0)
            return (ssize_t)produced;
        if (d->zin.avail_in == 0)
            return 0;
        if (d->zin.avail_in == before_in) /* no progress with input left: cannot happen */
            return dfl_zerr(d, "Inflation failed", &d->zin, Z_STREAM_ERROR);
    }
}

static ssize_t dfl_read(qr_layer *l, void *buf, size_t cap)
{
    qr_deflate_layer *d = dfl_of(l);
    ssize_t n;

    for (;;) {
        if (d->in_ended)
            return qr_err_set(l->stack->err, QR_EOF, "compressed stream ended (got EOF)");
        if (d->zin.avail_in > 0 || d->in_full) {
            n = dfl_inflate(d, buf, cap);
            if (n != 0)
                return n;
            d->in_full = 0;
        }
        if (d->in_ended)
            continue;
        n = qr_layer_read(l->below, d->inbuf, d->inbuf_size);
        if (n < 0)
            return n;
        l->stack->traffic.compr_in += (uint64_t)n;
        d->zin.next_in = d->inbuf;
        d->zin.avail_in = (uInt)n;
    }
}

static int dfl_pending_input(const qr_layer *l)
{
    const qr_deflate_layer *d = dfl_of(l);

    return !d->in_ended && (d->zin.avail_in > 0 || d->in_full);
}

/* ---- output ------------------------------------------------------------- */

/* Push queued output below: 0 all gone, QR_EAGAIN some left, or an error. */
static int dfl_drain(qr_deflate_layer *d)
{
    while (d->out_start < d->out_end) {
        struct iovec v = {d->outbuf + d->out_start, d->out_end - d->out_start};
        ssize_t n = qr_layer_write(d->base.below, &v, 1);

        if (n < 0)
            return (int)n;
        d->out_start += (size_t)n;
        d->base.stack->traffic.compr_out += (uint64_t)n;
    }
    d->out_start = d->out_end = 0;
    return 0;
}

/* Drain what we can and make outbuf's free space contiguous; bytes free. */
static ssize_t dfl_room(qr_deflate_layer *d)
{
    int rc = dfl_drain(d);

    if (rc < 0 && rc != QR_EAGAIN)
        return rc;
    if (d->out_start > 0) {
        memmove(d->outbuf, d->outbuf + d->out_start, d->out_end - d->out_start);
        d->out_end -= d->out_start;
        d->out_start = 0;
    }
    return (ssize_t)(DEFLATE_BUF - d->out_end);
}

/* Run deflate(mode) once into the free tail of outbuf. */
static int dfl_deflate_once(qr_deflate_layer *d, int mode, size_t room)
{
    int zrc;

    d->zout.next_out = d->outbuf + d->out_end;
    d->zout.avail_out = (uInt)room;
    zrc = deflate(&d->zout, mode);
    d->out_end = DEFLATE_BUF - d->zout.avail_out;
    if (zrc != Z_OK && zrc != Z_BUF_ERROR)
        return dfl_zerr(d, "Deflation failed", &d->zout, zrc);
    return 0;
}

/* Finish an interrupted Z_SYNC_FLUSH: 0 done, QR_EAGAIN, or an error. */
static int dfl_finish_flush(qr_deflate_layer *d)
{
    while (d->flushing) {
        ssize_t room = dfl_room(d);
        int rc;

        if (room < 0)
            return (int)room;
        if (room == 0)
            return QR_EAGAIN;
        d->zout.next_in = NULL;
        d->zout.avail_in = 0;
        rc = dfl_deflate_once(d, Z_SYNC_FLUSH, (size_t)room);
        if (rc)
            return rc;
        if (d->zout.avail_out > 0)
            d->flushing = 0;
    }
    return 0;
}

/* Deflate one buffer while there is room; bytes consumed or an error. */
static ssize_t dfl_take(qr_deflate_layer *d, const unsigned char *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t room = dfl_room(d);
        size_t chunk = len - done > UINT32_MAX ? UINT32_MAX : len - done;
        int rc;

        if (room <= 0)
            return room < 0 && done == 0 ? room : (ssize_t)done;
        d->zout.next_in = (Bytef *)(uintptr_t)(p + done);
        d->zout.avail_in = (uInt)chunk;
        rc = dfl_deflate_once(d, Z_NO_FLUSH, (size_t)room);
        done += chunk - d->zout.avail_in;
        d->zout.avail_in = 0;
        if (rc)
            return done ? (ssize_t)done : rc;
    }
    return (ssize_t)done;
}

static ssize_t dfl_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    qr_deflate_layer *d = dfl_of(l);
    size_t total = 0;
    int i, rc;

    rc = dfl_finish_flush(d);
    if (rc)
        return rc;
    for (i = 0; i < iovcnt; i++) {
        ssize_t n;

        if (iov[i].iov_len == 0)
            continue;
        n = dfl_take(d, iov[i].iov_base, iov[i].iov_len);
        if (n < 0 && total == 0)
            return n;
        if (n <= 0)
            break;
        total += (size_t)n;
        d->dirty = 1;
        if ((size_t)n < iov[i].iov_len)
            break;
    }
    if (total == 0)
        return qr_iov_len(iov, iovcnt) ? QR_EAGAIN : 0;
    return (ssize_t)total;
}

static int dfl_flush(qr_layer *l)
{
    qr_deflate_layer *d = dfl_of(l);
    int rc;

    if (d->dirty && !d->flushing) {
        d->flushing = 1;
        d->dirty = 0;
    }
    rc = dfl_finish_flush(d);
    if (rc)
        return rc;
    rc = dfl_drain(d);
    if (rc)
        return rc;
    return qr_layer_flush_below(l);
}

static int dfl_interest(const qr_layer *l)
{
    const qr_deflate_layer *d = dfl_of(l);

    return d->out_start < d->out_end || d->flushing ? POLLOUT : 0;
}

static int dfl_close(qr_layer *l)
{
    return dfl_flush(l);
}

static void dfl_destroy(qr_layer *l)
{
    qr_deflate_layer *d = dfl_of(l);

    if (d->zin_ready)
        inflateEnd(&d->zin);
    if (d->zout_ready)
        deflateEnd(&d->zout);
    qr_free(d->inbuf);
    qr_free(d->outbuf);
    qr_free(d);
}

static const qr_layer_ops deflate_ops = {
    .name = "deflate",
    .read = dfl_read,
    .write = dfl_write,
    .flush = dfl_flush,
    .pending_input = dfl_pending_input,
    .interest = dfl_interest,
    .close = dfl_close,
    .destroy = dfl_destroy,
};

static int dfl_init_zlib(qr_deflate_layer *d)
{
    int zrc;

    d->zin.zalloc = d->zout.zalloc = dfl_zalloc;
    d->zin.zfree = d->zout.zfree = dfl_zfree;
    zrc = inflateInit2(&d->zin, -15);
    if (zrc != Z_OK)
        return dfl_zerr(d, "inflateInit2", &d->zin, zrc);
    d->zin_ready = 1;
    zrc = deflateInit2(&d->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK)
        return dfl_zerr(d, "deflateInit2", &d->zout, zrc);
    d->zout_ready = 1;
    return 0;
}

int qr_deflate_layer_create(qr_layer **out, qr_stack *s, const void *initial, size_t len)
{
    qr_deflate_layer *d = qr_calloc(1, sizeof(*d));
    int rc;

    *out = NULL;
    if (!d)
        return qr_err_set(s->err, QR_ENOMEM, "COMPRESS DEFLATE: cannot allocate the layer");
    d->base.ops = &deflate_ops;
    d->base.stack = s;
    d->inbuf_size = len > DEFLATE_BUF ? len : DEFLATE_BUF;
    d->inbuf = qr_malloc(d->inbuf_size);
    d->outbuf = qr_malloc(DEFLATE_BUF);
    rc = d->inbuf && d->outbuf ? dfl_init_zlib(d) : QR_ENOMEM;
    if (rc) {
        dfl_destroy(&d->base);
        if (rc == QR_ENOMEM)
            qr_err_set(s->err, QR_ENOMEM, "COMPRESS DEFLATE: cannot allocate the layer");
        return rc;
    }
    if (len > 0)
        memcpy(d->inbuf, initial, len);
    d->zin.next_in = d->inbuf;
    d->zin.avail_in = (uInt)len;
    s->traffic.compr_in += len;
    *out = &d->base;
    return 0;
}
