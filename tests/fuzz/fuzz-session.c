/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-session: the sans-IO session fed an arbitrary server stream.
 *
 * Input: two control bytes, then the server's bytes.
 *   byte 0: bits 0-1 window (1, 2, 3, 128); bit 2 prepend a greeting with
 *           LITERAL+; bit 3 prepend a greeting without capabilities;
 *           bits 4-6 piece size (1, 2, 3, 5, 8, 13, 64, all); bit 7 a
 *           callback cancels the pending commands once;
 *   byte 1: bit i submits command i of `cmds` (LOGIN with a literal
 *           password, NOOP, SELECT, UID FETCH with body callbacks,
 *           APPEND with a literal, CAPABILITY, LOGOUT, UID SEARCH);
 *           with every bit set, a completion frees the session.
 * Between pieces the client's output is taken and consumed in full; a
 * QR_PAUSE is resumed; the first error ends the stream, then EOF.
 * Checked: no crash (ASan/UBSan), every accepted command completes
 * exactly once (never twice, never zero times), a refused one never.
 */
#include "config.h"

#include <qresync/session.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define NCMDS 8

typedef struct fz {
    qr_session *s;        /* the session, NULL once freed */
    int accepted[NCMDS];  /* submit returned 0 */
    int done[NCMDS];      /* completions */
    int cancel_once;      /* a completion calls qr_session_cancel_all() */
    int free_in_callback; /* a completion frees the session */
} fz;

static fz F;

static int on_done(qr_session *s, const qr_session_result *res, void *payload)
{
    int i = (int)(intptr_t)payload;

    REQUIRE(i >= 0 && i < NCMDS && F.accepted[i]);
    REQUIRE(F.done[i] == 0);
    REQUIRE(res != NULL && res->text != NULL);
    F.done[i]++;
    if (F.cancel_once) {
        F.cancel_once = 0;
        qr_session_cancel_all(s);
    }
    if (F.free_in_callback && F.s != NULL) {
        F.s = NULL;
        qr_session_free(s);
    }
    return 0;
}

static int on_untagged(qr_session *s, const qr_resp *resp, void *payload)
{
    (void)s;
    (void)payload;
    return resp->kind == QR_RESP_EXISTS ? QR_PAUSE : 0;
}

static int on_body(qr_session *s, const char *d, size_t len, void *payload)
{
    (void)s;
    (void)payload;
    REQUIRE(len > 0 && d != NULL);
    return 0;
}

static void submit(int i)
{
    static const char *const names[NCMDS] = {"LOGIN",  "NOOP",       "SELECT", "UID FETCH",
                                             "APPEND", "CAPABILITY", "LOGOUT", "UID SEARCH"};
    qr_session_cmd_opts o;
    qr_cmd *c = NULL;

    if (i == 0) {
        F.accepted[0] = qr_session_login(F.s, "joe", "p\xc3\xa4ss", on_done, (void *)0) == 0;
        return;
    }
    if (qr_cmd_new(&c, names[i], 0) != 0)
        return;
    if (i == 2)
        qr_cmd_add_mailbox(c, "INBOX");
    else if (i == 3)
        qr_cmd_add_raw(c, "1:* (UID BODY.PEEK[])");
    else if (i == 4) {
        qr_cmd_add_mailbox(c, "Sent");
        qr_cmd_add_literal(c, "Subject: x\r\n\r\nhi\r\n", 19, 0);
    } else if (i == 7)
        qr_cmd_add_raw(c, "ALL");
    qr_session_cmd_opts_init(&o, QR_SESSION_CMD_OPTS_VERSION);
    o.on_body_data = on_body;
    F.accepted[i] = qr_session_submit(F.s, c, &o, on_done, on_untagged, (void *)(intptr_t)i) == 0;
    if (!F.accepted[i])
        qr_cmd_free(c);
}

static void drain(void)
{
    qr_iov iov[8];
    size_t n = 0, i, total = 0;

    if (F.s == NULL || qr_session_output(F.s, iov, 8, &n) != 0)
        return;
    for (i = 0; i < n; i++) {
        REQUIRE(iov[i].len > 0);
        total += iov[i].len;
    }
    REQUIRE(qr_session_consume(F.s, total) == 0);
}

/* Feed; 0 to go on, 1 when the stream must stop. */
static int feed(const char *p, size_t len)
{
    while (len > 0 && F.s != NULL) {
        size_t used = 0;
        int rc = qr_session_feed(F.s, p, len, &used);

        REQUIRE(used <= len);
        if (rc < 0)
            return 1;
        p += used;
        len -= used;
        drain();
        if (rc == 0)
            break;
    }
    return F.s == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned int windows[4] = {1, 2, 3, 128};
    static const size_t pieces[8] = {1, 2, 3, 5, 8, 13, 64, (size_t)-1};
    qr_session_options o;
    size_t piece, off;
    int i;

    if (size < 2)
        return 0;
    memset(&F, 0, sizeof(F));
    qr_session_options_init(&o, QR_SESSION_OPTIONS_VERSION);
    o.max_in_flight = windows[data[0] & 3];
    o.max_literal = 1 << 20;
    o.max_response = 1 << 20;
    if (qr_session_new(&F.s, &o) != 0)
        return 0;
    F.cancel_once = (data[0] & 0x80) != 0;
    F.free_in_callback = data[1] == 0xff;
    piece = pieces[(data[0] >> 4) & 7];
    for (i = 0; i < NCMDS; i++)
        if (data[1] & (1u << i))
            submit(i);
    drain();
    if (data[0] & 4)
        feed("* OK [CAPABILITY IMAP4rev1 LITERAL+] x\r\n", 40);
    else if (data[0] & 8)
        feed("* OK x\r\n", 8);
    drain();
    data += 2;
    size -= 2;
    for (off = 0; off < size && F.s != NULL;) {
        size_t n = size - off < piece ? size - off : piece;
        if (feed((const char *)data + off, n))
            break;
        off += n;
    }
    if (F.s != NULL) {
        qr_session_eof(F.s);
        qr_session_free(F.s);
    }
    for (i = 0; i < NCMDS; i++)
        REQUIRE(F.done[i] == F.accepted[i]);
    return 0;
}
