/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of the command builder (public API in include/qresync/cmd.h):
 * the qr_cmd structure, the character classes and quoting helpers of
 * quote.c, and the sans-IO serializer (cmdwire.c) the session uses to put a
 * command on the wire.
 *
 * A command is a list of segments over one text buffer:
 *   - TEXT segments are ranges of cmd->text, in order and back to back
 *     (segment k+1 starts where segment k ends, literals excepted), so any
 *     run of consecutive TEXT segments is one contiguous slice;
 *   - LIT segments are literals: a declared size and a body source (copied
 *     bytes, borrowed bytes, or a pull callback). Their announcement
 *     (`{N}`, `{N+}`, `~{N}` + CRLF) is only written when the command is
 *     serialized, into the segment's hdr[].
 * Invariant: cmd->text never holds CR, LF or NUL; every byte enters through
 * one function (text_add in builder.c) that refuses them. So those bytes
 * can only reach the wire inside a literal body.
 *
 * Serializing (qr_cmdw): the session calls qr_cmdw_init() with a tag and
 * the literal mode, then qr_cmdw_next() repeatedly. Each call gives one
 * chunk:
 *   QR_CHUNK_TEXT  bytes of the command line: the tag and its space, runs
 *                  of arguments, literal announcements (ending in CRLF) and
 *                  the final CRLF;
 *   QR_CHUNK_BODY  the bytes of a copied or borrowed literal body, in one
 *                  piece however large (queue them, do not copy them);
 *   QR_CHUNK_PULL  a streamed body: `remaining` bytes are still due; call
 *                  qr_cmdw_pull() with a buffer, write what it gives, then
 *                  call qr_cmdw_next() again (it keeps answering PULL until
 *                  the body is complete);
 *   QR_CHUNK_WAIT  a continuation point: everything before it ended with a
 *                  synchronizing `{N}` CRLF. Send what you have, wait for
 *                  the server's `+`, then call qr_cmdw_next() again. If the
 *                  server answers with a tagged NO/BAD instead, the command
 *                  is over: stop calling;
 *   QR_CHUNK_END   the command is complete (also on every later call).
 * The pointer of a TEXT or BODY chunk stays valid until the command is
 * freed or serialized again (TEXT points into the command, or at a static
 * CRLF; BODY points at the copy or at the caller's borrowed bytes), so the
 * session can keep it in an iovec write queue. Chunks are never empty.
 *
 * Errors: qr_cmdw_next() returns QR_EAGAIN when a stream source has not
 * yet confirmed its end (ask again later), and QR_EINVAL once a stream
 * gave fewer or more bytes than declared; qr_cmdw_pull() returns the
 * source's QR_EAGAIN unchanged, and QR_EINVAL or the source's error
 * otherwise. Any error but QR_EAGAIN is sticky, and means the command can
 * no longer be completed on the wire: the session must close the
 * connection if any of its bytes were sent.
 */
#ifndef QR_PROTO_BUILDER_P_H
#define QR_PROTO_BUILDER_P_H

#include <qresync/cmd.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dynbuf.h"

/* Most bytes of command text (arguments, not literal bodies). */
#define QR_CMD_TEXT_MAX ((size_t)16 * 1024 * 1024)
/* Most segments in one command (a MULTIAPPEND of ~30000 messages). */
#define QR_CMD_SEGS_MAX 65536
/* Deepest nesting of parenthesised lists. */
#define QR_CMD_DEPTH_MAX 64
/* Longest tag. */
#define QR_CMD_TAG_MAX 32
/* Longest astring/string sent quoted; longer ones become literals. */
#define QR_CMD_QUOTED_MAX 1024
/* Largest literal LITERAL- lets us send as `{N+}` (RFC 7888). */
#define QR_CMD_LITMINUS_MAX 4096
/* Largest literal size (number64 of RFC 9051). */
#define QR_CMD_LITERAL_MAX ((uint64_t)INT64_MAX)
/* Room for "~{18446744073709551615+}\r\n". */
#define QR_CMD_HDR_MAX 28

enum qr_seg_kind {
    QR_SEG_TEXT, /* a range of cmd->text */
    QR_SEG_LIT   /* a literal */
};

enum qr_lit_src {
    QR_LIT_COPY,   /* data is owned by the command */
    QR_LIT_BORROW, /* data is the caller's */
    QR_LIT_STREAM  /* bytes come from read(payload) */
};

typedef struct qr_cmdseg {
    unsigned char kind;       /* enum qr_seg_kind */
    unsigned char secret;     /* 1: redacted in log renderings */
    unsigned char binary;     /* LIT: send as ~{N} */
    unsigned char src;        /* LIT: enum qr_lit_src */
    unsigned char sync;       /* LIT: announced as synchronizing (set by qr_cmdw_init) */
    unsigned char hdr_len;    /* LIT: bytes in hdr (set by qr_cmdw_init) */
    char hdr[QR_CMD_HDR_MAX]; /* LIT: announcement with CRLF (set by qr_cmdw_init) */
    size_t off;               /* TEXT: first byte in cmd->text */
    size_t len;               /* TEXT: number of bytes */
    uint64_t size;            /* LIT: declared body size */
    const void *data;         /* LIT COPY (owned) / BORROW (caller's): the body */
    qr_cmd_read_fn read;      /* LIT STREAM: pull callback */
    void *payload;            /* LIT STREAM: its payload, the caller's */
} qr_cmdseg;

struct qr_cmd {
    qr_dynbuf text;               /* every text byte in order; never CR, LF or NUL; capped */
    qr_cmdseg *segs;              /* owned array of segs_alloc segments, nsegs in use */
    size_t nsegs;                 /* segments in use */
    size_t segs_alloc;            /* segments allocated */
    unsigned int flags;           /* QR_CMD_UTF8_ACCEPT */
    int error;                    /* sticky: first failing appender's code, else 0 */
    int depth;                    /* lists opened and not yet closed */
    int secret;                   /* appenders mark their segments secret */
    int need_space;               /* the next argument is preceded by a space */
    int has_slot;                 /* an uid-set was added: slot_off/slot_len are set */
    int streamed;                 /* a stream body was pulled from: cannot be sent again */
    size_t slot_off;              /* first uid-set: first byte in text */
    size_t slot_len;              /* first uid-set: its length */
    char tag[QR_CMD_TAG_MAX + 1]; /* "TAG " of the current serialization */
    size_t tag_len;               /* bytes in tag */
};

/* --- quote.c: character classes and forms --------------------------- */

/* ATOM-CHAR of RFC 3501: 0x21-0x7e except ( ) { % * " \ ] */
int qr_is_atom_char(unsigned char c);
/* ASTRING-CHAR: ATOM-CHAR or ']' */
int qr_is_astring_char(unsigned char c);
/* Tag characters: ASTRING-CHAR except '+' */
int qr_is_tag_char(unsigned char c);

enum qr_qform {
    QR_QFORM_ATOM,    /* send as it is */
    QR_QFORM_QUOTED,  /* send with qr_quote_append() */
    QR_QFORM_LITERAL, /* send as a literal */
    QR_QFORM_INVALID  /* holds NUL: no form can carry it */
};

/* qr_quote_form() flags */
#define QR_QUOTE_NO_ATOM 0x1u /* the grammar wants `string` */
#define QR_QUOTE_UTF8    0x2u /* 8-bit bytes (valid UTF-8) may be quoted (RFC 6855) */

/* The cheapest safe form of p[0..len) as an astring (see cmd.h). */
enum qr_qform qr_quote_form(const char *p, size_t len, unsigned int flags);
/* Append `"` p with '"' and '\' escaped `"`. QR_ELIMIT, QR_ENOMEM; out unchanged then. */
int qr_quote_append(qr_dynbuf *out, const char *p, size_t len);
/* Decimal digits of v into buf (at least 20 bytes), not NUL-terminated; returns the count. */
size_t qr_fmt_u64(char *buf, uint64_t v);
/* Literal announcement with CRLF into buf (QR_CMD_HDR_MAX bytes); returns its length. */
size_t qr_fmt_lit_header(char *buf, uint64_t size, int binary, int plus);
/* Whether a literal of this size goes synchronizing in this mode. */
int qr_lit_is_sync(qr_cmd_literal_mode mode, uint64_t size);

/* --- cmdwire.c: the serializer ----------------------------------------- */

typedef enum qr_chunk_kind {
    QR_CHUNK_TEXT, /* ptr/len: command-line bytes */
    QR_CHUNK_BODY, /* ptr/len: literal body bytes */
    QR_CHUNK_PULL, /* remaining: pull a streamed body with qr_cmdw_pull() */
    QR_CHUNK_WAIT, /* continuation point: wait for "+" */
    QR_CHUNK_END   /* done */
} qr_chunk_kind;

typedef struct qr_chunk {
    qr_chunk_kind kind; /* what to do */
    const char *ptr;    /* TEXT/BODY: the bytes (see the essay for their lifetime) */
    size_t len;         /* TEXT/BODY: their number, never 0 */
    uint64_t remaining; /* PULL: bytes of the body still due */
} qr_chunk;

typedef struct qr_cmdw {
    qr_cmd *cmd;     /* the command being sent (borrowed; must outlive the writer) */
    size_t seg;      /* next segment to emit */
    int phase;       /* where we are (enum in cmdwire.c) */
    uint64_t pulled; /* bytes pulled from the current stream */
    int error;       /* sticky error, 0 if none */
} qr_cmdw;

/*
 * Prepare cmd for sending with this tag (1 to QR_CMD_TAG_MAX tag chars) and
 * literal mode. QR_EINVAL for a bad tag or mode, an open list, a stream
 * already used; the command's sticky error. Fills cmd->tag and the literal
 * headers, so a command is serialized by one writer at a time.
 */
int qr_cmdw_init(qr_cmdw *w, qr_cmd *cmd, const char *tag, qr_cmd_literal_mode mode);
/* The next chunk (see the essay). 0, QR_EAGAIN, or a sticky error. */
int qr_cmdw_next(qr_cmdw *w, qr_chunk *out);
/*
 * In a PULL chunk: read up to cap (>= 1) bytes of the body into buf; *got
 * receives how many (> 0 on success). 0; QR_EAGAIN (nothing read); QR_EINVAL
 * when not in a PULL chunk or the body is short; the source's error.
 */
int qr_cmdw_pull(qr_cmdw *w, void *buf, size_t cap, size_t *got);
/* How many continuation points sending cmd in this mode will have. */
size_t qr_cmd_sync_points(const qr_cmd *cmd, qr_cmd_literal_mode mode);

#endif /* QR_PROTO_BUILDER_P_H */
