/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Golden tests for the typed command builder (libqresync/proto/builder.c,
 * quote.c, cmdwire.c): arguments in, exact wire bytes out, for each literal
 * mode.
 *
 * wire() serializes a command through the chunk writer the session uses
 * and writes what the server would receive, with the token "<+>" where the
 * writer stops at a continuation point (the session would wait for the
 * server's "+" there). Literal bodies longer than 100 bytes are written as
 * "<body N>" (and checked separately: a borrowed body must come out as the
 * caller's pointer, not a copy). Every TEXT chunk is checked on the way:
 * no NUL, and CR/LF only as the CRLF closing a literal announcement or the
 * command.
 */
#include "config.h"

#include <qresync/cmd.h>
#include <qresync/error.h>
#include <qresync/uidset.h>
#include <string.h>

#include "../tap.h"
#include "proto/builder_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

#define PLUS  QR_CMD_LITERAL_PLUS
#define MINUS QR_CMD_LITERAL_MINUS
#define SYNC  QR_CMD_LITERAL_SYNC

/* --- helpers ----------------------------------------------------------- */

/* A literal announcement: ~?{digits+?} CRLF */
static int is_announcement(const char *p, size_t n)
{
    size_t i = 0, digits = 0;

    if (i < n && p[i] == '~')
        i++;
    if (i >= n || p[i++] != '{')
        return 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (i < n && p[i] == '+')
        i++;
    return digits > 0 && n - i == 3 && memcmp(p + i, "}\r\n", 3) == 0;
}

/* The invariant: CR, LF and NUL never in command-line bytes. */
static int text_chunk_ok(const char *p, size_t n)
{
    size_t i, body = n;

    if (n == 0)
        return 0;
    if (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n') {
        if (!(n == 2 || is_announcement(p, n)))
            return 0;
        body = n - 2;
    }
    for (i = 0; i < body; i++)
        if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
            return 0;
    return 1;
}

static int pull_cap = 7; /* pull in small pieces to exercise the loop */

/* Serialize cmd into out (see the essay). Returns the writer's error. */
static int wire_into(qr_cmd *cmd, const char *tag, qr_cmd_literal_mode mode, qr_dynbuf *out)
{
    qr_cmdw w;
    qr_chunk ch;
    char buf[64], note[32];
    size_t got, n;
    int rc = qr_cmdw_init(&w, cmd, tag, mode);

    while (rc == 0 && (rc = qr_cmdw_next(&w, &ch)) == 0 && ch.kind != QR_CHUNK_END) {
        switch (ch.kind) {
        case QR_CHUNK_TEXT:
            CHECK(text_chunk_ok(ch.ptr, ch.len));
            rc = qr_dynbuf_add(out, ch.ptr, ch.len);
            break;
        case QR_CHUNK_BODY:
            CHECK(ch.len > 0);
            if (ch.len <= 100) {
                rc = qr_dynbuf_add(out, ch.ptr, ch.len);
            } else {
                n = (size_t)snprintf(note, sizeof(note), "<body %zu>", ch.len);
                rc = qr_dynbuf_add(out, note, n);
            }
            break;
        case QR_CHUNK_PULL:
            rc = qr_cmdw_pull(&w, buf, (size_t)pull_cap, &got);
            if (rc == 0)
                rc = qr_dynbuf_add(out, buf, got);
            break;
        case QR_CHUNK_WAIT:
            rc = qr_dynbuf_add(out, "<+>", 3);
            break;
        case QR_CHUNK_END:
        default:
            break;
        }
    }
    return rc;
}

/* wire_into() a fresh buffer; the bytes stay valid until the next call. */
static qr_dynbuf last_wire;

static const char *wire(qr_cmd *cmd, qr_cmd_literal_mode mode)
{
    int rc;

    qr_dynbuf_free(&last_wire);
    qr_dynbuf_init(&last_wire, 1 << 20);
    rc = wire_into(cmd, "A1", mode, &last_wire);
    CHECK_INT_EQ(rc, 0);
    return rc == 0 ? qr_dynbuf_str(&last_wire) : "<error>";
}

#define CHECK_WIRE(cmd, mode, expected)                                                            \
    do {                                                                                           \
        const char *w_ = wire((cmd), (mode));                                                      \
        CHECK_MEM_EQ(w_, strcmp(w_, "<error>") ? last_wire.len : 7, expected,                      \
                     sizeof(expected) - 1);                                                        \
    } while (0)

static qr_buf last_render;

static const char *render(const qr_cmd *cmd, qr_cmd_literal_mode mode, qr_log_level level)
{
    int rc;

    qr_buf_dispose(&last_render);
    rc = qr_cmd_render(cmd, "A1", mode, level, &last_render);
    CHECK_INT_EQ(rc, 0);
    return rc == 0 ? last_render.ptr : "<error>";
}

static qr_cmd *new_cmd(const char *name, unsigned int flags)
{
    qr_cmd *c = NULL;

    CHECK_INT_EQ(qr_cmd_new(&c, name, flags), 0);
    return c;
}

static qr_uidset *uids(uint32_t lo, uint32_t hi, uint32_t step)
{
    qr_uidset *s = NULL;
    uint32_t u;

    CHECK_INT_EQ(qr_uidset_new(&s), 0);
    for (u = lo; u <= hi; u += step)
        CHECK_INT_EQ(qr_uidset_add(s, u), 0);
    return s;
}

/* --- golden commands --------------------------------------------------- */

static qr_cmd *login_cmd(void)
{
    qr_cmd *c = new_cmd("LOGIN", 0);
    static const char pass[] = "p\xc3\xa4ss\"";

    qr_cmd_add_astring(c, "joe smith", 9);
    qr_cmd_set_secret(c, 1);
    qr_cmd_add_astring(c, pass, sizeof(pass) - 1); /* 8-bit: a literal */
    qr_cmd_set_secret(c, 0);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    return c;
}

static void test_login_quoting_literal_in_each_mode(void)
{
    qr_cmd *c = login_cmd();

    CHECK_WIRE(c, PLUS, "A1 LOGIN \"joe smith\" {6+}\r\np\xc3\xa4ss\"\r\n");
    CHECK_WIRE(c, MINUS, "A1 LOGIN \"joe smith\" {6+}\r\np\xc3\xa4ss\"\r\n");
    CHECK_WIRE(c, SYNC, "A1 LOGIN \"joe smith\" {6}\r\n<+>p\xc3\xa4ss\"\r\n");
    CHECK_UINT_EQ(qr_cmd_sync_points(c, SYNC), 1);
    CHECK_UINT_EQ(qr_cmd_sync_points(c, MINUS), 0);
    qr_cmd_free(c);
}

static void test_login_log_rendering_is_redacted(void)
{
    qr_cmd *c = login_cmd(), *q = new_cmd("LOGIN", 0);

    CHECK_STR_EQ(render(c, PLUS, QR_LOG_DEBUG), "A1 LOGIN \"joe smith\" <redacted>");
    CHECK_STR_EQ(render(c, SYNC, QR_LOG_DEBUG), "A1 LOGIN \"joe smith\" <redacted>");
    /* level 2 (trace): the secret shows, but literal bytes never do */
    CHECK_STR_EQ(render(c, PLUS, QR_LOG_TRACE), "A1 LOGIN \"joe smith\" {6+}");
    CHECK_STR_EQ(render(c, SYNC, QR_LOG_TRACE), "A1 LOGIN \"joe smith\" {6}");
    qr_cmd_free(c);

    /* both arguments secret and quoted: one <redacted> each, spaces kept */
    qr_cmd_set_secret(q, 1);
    qr_cmd_add_astring(q, "joe", 3);
    qr_cmd_add_astring(q, "pa\\ss\"word", 10);
    CHECK_WIRE(q, SYNC, "A1 LOGIN joe \"pa\\\\ss\\\"word\"\r\n");
    CHECK_STR_EQ(render(q, SYNC, QR_LOG_INFO), "A1 LOGIN <redacted> <redacted>");
    CHECK_STR_EQ(render(q, SYNC, QR_LOG_TRACE), "A1 LOGIN joe \"pa\\\\ss\\\"word\"");
    qr_buf_dispose(&last_render);
    CHECK_INT_EQ(qr_cmd_render(q, NULL, SYNC, QR_LOG_DEBUG, &last_render), 0);
    CHECK_STR_EQ(last_render.ptr, "LOGIN <redacted> <redacted>");
    qr_cmd_free(q);
}

static void test_select_qresync(void)
{
    qr_cmd *c = new_cmd("SELECT", 0);
    qr_uidset *s = uids(1, 3, 1);

    qr_cmd_add_mailbox(c, "a b");
    qr_cmd_list_open(c);
    qr_cmd_add_atom(c, "QRESYNC");
    qr_cmd_list_open(c);
    qr_cmd_add_number(c, 1795879967u);
    qr_cmd_add_number64(c, 5);
    qr_cmd_add_uidset(c, s);
    qr_cmd_list_open(c);
    qr_cmd_add_uidset(c, s);
    qr_cmd_add_uidset(c, s);
    qr_cmd_list_close(c);
    qr_cmd_list_close(c);
    qr_cmd_list_close(c);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    CHECK_WIRE(c, PLUS, "A1 SELECT \"a b\" (QRESYNC (1795879967 5 1:3 (1:3 1:3)))\r\n");
    CHECK_WIRE(c, SYNC, "A1 SELECT \"a b\" (QRESYNC (1795879967 5 1:3 (1:3 1:3)))\r\n");
    CHECK_STR_EQ(render(c, SYNC, QR_LOG_DEBUG),
                 "A1 SELECT \"a b\" (QRESYNC (1795879967 5 1:3 (1:3 1:3)))");
    qr_uidset_free(s);
    qr_cmd_free(c);
}

static void test_uid_store_unchangedsince(void)
{
    static const char *const flags[] = {"$Label1", "\\Flagged", "\\Seen"};
    qr_cmd *c = new_cmd("UID STORE", 0);

    qr_cmd_add_number(c, 1);
    qr_cmd_list_open(c);
    qr_cmd_add_atom(c, "UNCHANGEDSINCE");
    qr_cmd_add_number64(c, 8);
    qr_cmd_list_close(c);
    qr_cmd_add_atom(c, "FLAGS.SILENT");
    qr_cmd_add_flags(c, flags, 3);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    CHECK_WIRE(c, MINUS,
               "A1 UID STORE 1 (UNCHANGEDSINCE 8) FLAGS.SILENT ($Label1 \\Flagged \\Seen)\r\n");
    qr_cmd_free(c);
}

/* 33 bytes */
static const char msg1[] = "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n";

static qr_cmd *append_cmd(void)
{
    qr_cmd *c = new_cmd("APPEND", 0);
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 10;
    tm.tm_mday = 28;
    tm.tm_hour = 15;
    tm.tm_min = 32;
    tm.tm_sec = 47;
    qr_cmd_add_mailbox(c, "INBOX");
    qr_cmd_add_flags(c, NULL, 0);
    qr_cmd_add_date_time(c, &tm, 0);
    qr_cmd_add_literal(c, msg1, sizeof(msg1) - 1, 0);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    return c;
}

static void test_append_with_body(void)
{
    qr_cmd *c = append_cmd();

    CHECK_UINT_EQ(sizeof(msg1) - 1, 33);
    CHECK_WIRE(c, PLUS,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33+}\r\n"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               "\r\n");
    CHECK_WIRE(c, MINUS,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33+}\r\n"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               "\r\n");
    CHECK_WIRE(c, SYNC,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33}\r\n"
               "<+>"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               "\r\n");
    CHECK_STR_EQ(render(c, SYNC, QR_LOG_DEBUG),
                 "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33}");
    qr_cmd_free(c);
}

static char big[5000]; /* a body above the LITERAL- limit of 4096 */

static qr_cmd *multiappend_cmd(void)
{
    static const char *const seen[] = {"\\Seen", "$Junk"};
    qr_cmd *c = append_cmd();

    memset(big, 'x', sizeof(big));
    memcpy(big + sizeof(big) - 2, "\r\n", 2);
    qr_cmd_add_flags(c, seen, 2);
    qr_cmd_add_date_time_t(c, 1795879967, -150); /* 2026-11-28T15:32:47Z */
    qr_cmd_add_literal(c, big, sizeof(big), QR_CMD_LITERAL_BORROW);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    return c;
}

static void test_multiappend_continuation_points(void)
{
    qr_cmd *c = multiappend_cmd();
    qr_cmdw w;
    qr_chunk ch;
    int bodies = 0;

    /* LITERAL+: no continuation point */
    CHECK_WIRE(c, PLUS,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33+}\r\n"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               " (\\Seen $Junk) \"28-Nov-2026 13:02:47 -0230\" {5000+}\r\n"
               "<body 5000>"
               "\r\n");
    /* LITERAL-: the small body goes at once, the large one waits */
    CHECK_WIRE(c, MINUS,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33+}\r\n"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               " (\\Seen $Junk) \"28-Nov-2026 13:02:47 -0230\" {5000}\r\n"
               "<+>"
               "<body 5000>"
               "\r\n");
    /* neither: both wait */
    CHECK_WIRE(c, SYNC,
               "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33}\r\n"
               "<+>"
               "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n"
               " (\\Seen $Junk) \"28-Nov-2026 13:02:47 -0230\" {5000}\r\n"
               "<+>"
               "<body 5000>"
               "\r\n");
    CHECK_UINT_EQ(qr_cmd_sync_points(c, PLUS), 0);
    CHECK_UINT_EQ(qr_cmd_sync_points(c, MINUS), 1);
    CHECK_UINT_EQ(qr_cmd_sync_points(c, SYNC), 2);
    CHECK_STR_EQ(render(c, MINUS, QR_LOG_DEBUG),
                 "A1 APPEND INBOX () \"28-Nov-2026 15:32:47 +0000\" {33+} (\\Seen $Junk) "
                 "\"28-Nov-2026 13:02:47 -0230\" {5000}");

    /* zero copy: the borrowed body is handed out as the caller's pointer */
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "A1", PLUS), 0);
    while (qr_cmdw_next(&w, &ch) == 0 && ch.kind != QR_CHUNK_END) {
        if (ch.kind != QR_CHUNK_BODY)
            continue;
        bodies++;
        if (bodies == 1)
            CHECK(ch.ptr != msg1); /* copied */
        else
            CHECK(ch.ptr == big && ch.len == sizeof(big));
    }
    CHECK_INT_EQ(bodies, 2);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0); /* END again */
    CHECK_INT_EQ(ch.kind, QR_CHUNK_END);
    qr_cmd_free(c);
}

static void test_literal_minus_boundary_and_binary_and_empty(void)
{
    static char b4096[4096];
    qr_cmd *c = new_cmd("APPEND", 0);

    qr_cmd_add_mailbox(c, "inbox");
    qr_cmd_add_literal(c, b4096, sizeof(b4096), QR_CMD_LITERAL_BORROW);
    qr_cmd_add_literal(c, "a\0b", 3, QR_CMD_LITERAL_BINARY);
    qr_cmd_add_literal(c, NULL, 0, 0);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    CHECK_WIRE(c, MINUS, "A1 APPEND INBOX {4096+}\r\n<body 4096> ~{3+}\r\na\0b {0+}\r\n\r\n");
    CHECK_WIRE(c, SYNC, "A1 APPEND INBOX {4096}\r\n<+><body 4096> ~{3}\r\n<+>a\0b {0}\r\n<+>\r\n");
    CHECK_STR_EQ(render(c, MINUS, QR_LOG_DEBUG), "A1 APPEND INBOX {4096+} ~{3+} {0+}");
    CHECK_INT_EQ(qr_cmd_add_literal(c, "x", 1, 0x80), QR_EINVAL);
    qr_cmd_free(c);
}

/* --- mailboxes --------------------------------------------------------- */

static const char *mailbox_wire(const char *name, unsigned int flags)
{
    qr_cmd *c = new_cmd("SELECT", flags);
    static char out[256];
    const char *w;

    CHECK_INT_EQ(qr_cmd_add_mailbox(c, name), 0);
    w = wire(c, PLUS);
    snprintf(out, sizeof(out), "%s", w);
    qr_cmd_free(c);
    return out;
}

static void test_mailbox_utf8_to_modified_utf7(void)
{
    CHECK_STR_EQ(mailbox_wire("Entw\xc3\xbcrfe", 0), "A1 SELECT Entw&APw-rfe\r\n");
    CHECK_STR_EQ(mailbox_wire("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8"
                              "\xaa\x9e",
                              0),
                 "A1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n");
    CHECK_STR_EQ(mailbox_wire("Tom & Jerry", 0), "A1 SELECT \"Tom &- Jerry\"\r\n");
    CHECK_STR_EQ(mailbox_wire("", 0), "A1 SELECT \"\"\r\n");
    CHECK_STR_EQ(mailbox_wire("foo*", 0), "A1 SELECT \"foo*\"\r\n");
    /* UTF8=ACCEPT: UTF-8 as it is, quoted (RFC 6855) */
    CHECK_STR_EQ(mailbox_wire("Entw\xc3\xbcrfe", QR_CMD_UTF8_ACCEPT),
                 "A1 SELECT \"Entw\xc3\xbcrfe\"\r\n");
    CHECK_STR_EQ(mailbox_wire("Sent", QR_CMD_UTF8_ACCEPT), "A1 SELECT Sent\r\n");
}

static void test_mailbox_invalid_utf8_is_refused(void)
{
    qr_cmd *c = new_cmd("SELECT", 0), *u = new_cmd("SELECT", QR_CMD_UTF8_ACCEPT);

    CHECK_INT_EQ(qr_cmd_add_mailbox(c, "bad\xc3"), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_add_mailbox(u, "bad\xff"), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_add_mailbox(c, NULL), QR_EINVAL); /* sticky, and stays EINVAL */
    qr_cmd_free(c);
    qr_cmd_free(u);
}

static void test_inbox_normalisation(void)
{
    CHECK_STR_EQ(mailbox_wire("INBOX", 0), "A1 SELECT INBOX\r\n");
    CHECK_STR_EQ(mailbox_wire("inbox", 0), "A1 SELECT INBOX\r\n");
    CHECK_STR_EQ(mailbox_wire("InBoX", 0), "A1 SELECT INBOX\r\n");
    CHECK_STR_EQ(mailbox_wire("inbox", QR_CMD_UTF8_ACCEPT), "A1 SELECT INBOX\r\n");
    /* only the name itself */
    CHECK_STR_EQ(mailbox_wire("inbox.Sent", 0), "A1 SELECT inbox.Sent\r\n");
    CHECK_STR_EQ(mailbox_wire("inboxes", 0), "A1 SELECT inboxes\r\n");
    CHECK_STR_EQ(mailbox_wire("inbo", 0), "A1 SELECT inbo\r\n");
}

/* --- astring forms ----------------------------------------------------- */

static const char *astring_wire(const void *p, size_t n, int string)
{
    qr_cmd *c = new_cmd("X", 0);
    static char out[2048];
    const char *w;

    CHECK_INT_EQ(string ? qr_cmd_add_string(c, p, n) : qr_cmd_add_astring(c, p, n), 0);
    w = wire(c, SYNC);
    memcpy(out, w, last_wire.len + 1);
    qr_cmd_free(c);
    return out;
}

static void test_astring_forms(void)
{
    static char a1024[1025], a1025[1026];

    CHECK_STR_EQ(astring_wire("abc", 3, 0), "A1 X abc\r\n");
    CHECK_STR_EQ(astring_wire("a]b", 3, 0), "A1 X a]b\r\n");
    CHECK_STR_EQ(astring_wire("", 0, 0), "A1 X \"\"\r\n");
    CHECK_STR_EQ(astring_wire(NULL, 0, 0), "A1 X \"\"\r\n");
    CHECK_STR_EQ(astring_wire("NIL", 3, 0), "A1 X \"NIL\"\r\n");
    CHECK_STR_EQ(astring_wire("nil", 3, 0), "A1 X \"nil\"\r\n");
    CHECK_STR_EQ(astring_wire("NILS", 4, 0), "A1 X NILS\r\n");
    CHECK_STR_EQ(astring_wire("a b", 3, 0), "A1 X \"a b\"\r\n");
    CHECK_STR_EQ(astring_wire("a\"b\\c", 5, 0), "A1 X \"a\\\"b\\\\c\"\r\n");
    CHECK_STR_EQ(astring_wire("%*(){", 5, 0), "A1 X \"%*(){\"\r\n");
    CHECK_STR_EQ(astring_wire("tab\there", 8, 0), "A1 X \"tab\there\"\r\n");
    /* string: never an atom */
    CHECK_STR_EQ(astring_wire("abc", 3, 1), "A1 X \"abc\"\r\n");
    CHECK_STR_EQ(astring_wire("", 0, 1), "A1 X \"\"\r\n");
    /* 8-bit, CR, LF: literals (synchronizing here) */
    CHECK_STR_EQ(astring_wire("caf\xc3\xa9", 5, 0), "A1 X {5}\r\n<+>caf\xc3\xa9\r\n");
    CHECK_STR_EQ(astring_wire("a\rb", 3, 0), "A1 X {3}\r\n<+>a\rb\r\n");
    CHECK_STR_EQ(astring_wire("a\nb", 3, 1), "A1 X {3}\r\n<+>a\nb\r\n");
    /* long values: literals */
    memset(a1024, 'a', 1024);
    memset(a1025, 'a', 1025);
    CHECK_UINT_EQ(strlen(astring_wire(a1024, 1024, 0)), strlen("A1 X \r\n") + 1024);
    CHECK_STR_EQ(astring_wire(a1025, 1025, 0), "A1 X {1025}\r\n<+><body 1025>\r\n");
}

static void test_astring_nul_is_refused_and_sticky(void)
{
    qr_cmd *c = new_cmd("LOGIN", 0);
    size_t text_len, nsegs;

    CHECK_INT_EQ(qr_cmd_add_atom(c, "user"), 0);
    text_len = c->text.len;
    nsegs = c->nsegs;
    CHECK_INT_EQ(qr_cmd_add_astring(c, "a\0b", 3), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_add_string(c, "\0", 1), QR_EINVAL);
    /* the failed call changed nothing, but the error sticks */
    CHECK_UINT_EQ(c->text.len, text_len);
    CHECK_UINT_EQ(c->nsegs, nsegs);
    CHECK_INT_EQ(qr_cmd_error(c), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_add_atom(c, "fine"), QR_EINVAL);
    CHECK_UINT_EQ(c->text.len, text_len);
    qr_buf_dispose(&last_render);
    CHECK_INT_EQ(qr_cmd_render(c, "A1", SYNC, QR_LOG_DEBUG, &last_render), QR_EINVAL);
    {
        qr_cmdw w;
        CHECK_INT_EQ(qr_cmdw_init(&w, c, "A1", SYNC), QR_EINVAL);
    }
    qr_cmd_free(c);
}

/* --- atoms, raw text, names, tags -------------------------------------- */

static void test_refused_atoms(void)
{
    static const char *const bad[] = {"",    "a b",  "a(b", "a)",   "{1}",  "50%",         "a*",
                                      "\"",  "a\\b", "a]",  "\x01", "\x7f", "caf\xc3\xa9", "a\r",
                                      "a\n", "\t"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qr_cmd *c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_atom(c, bad[i]), QR_EINVAL);
        qr_cmd_free(c);
    }
    {
        qr_cmd *c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_atom(c, NULL), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_atom(c, "FLAGS.SILENT"), 0);
        CHECK_INT_EQ(qr_cmd_add_atom(c, "$Label1"), 0);
        CHECK_WIRE(c, SYNC, "A1 X FLAGS.SILENT $Label1\r\n");
        qr_cmd_free(c);
    }
}

static void test_raw_text(void)
{
    qr_cmd *c = new_cmd("UID FETCH", 0);
    static const char *const bad[] = {"", "a\r\nb", "\t", "caf\xc3\xa9", "x\x7f"};
    size_t i;

    CHECK_INT_EQ(qr_cmd_add_raw(c, "1:*"), 0);
    CHECK_INT_EQ(qr_cmd_add_raw(c, "(UID BODY.PEEK[HEADER.FIELDS (FROM)])"), 0);
    CHECK_WIRE(c, SYNC, "A1 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM)])\r\n");
    qr_cmd_free(c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_raw(c, bad[i]), QR_EINVAL);
        qr_cmd_free(c);
    }
}

static void test_names_and_tags(void)
{
    static const char *const bad_names[] = {"", " NOOP", "NOOP ", "UID  FETCH", "NO\r\nOP", "X(1"};
    static const char *const bad_tags[] = {
        "", "A 1", "+", "A+1", "A\r\n", "a%", "123456789012345678901234567890123"};
    qr_cmd *c = NULL;
    qr_cmdw w;
    size_t i;

    for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        CHECK_INT_EQ(qr_cmd_new(&c, bad_names[i], 0), QR_EINVAL);
        CHECK(c == NULL);
    }
    CHECK_INT_EQ(qr_cmd_new(&c, NULL, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_new(&c, "NOOP", 0x100), QR_EINVAL);
    c = new_cmd("NOOP", 0);
    for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
        CHECK_INT_EQ(qr_cmdw_init(&w, c, bad_tags[i], SYNC), QR_EINVAL);
        qr_buf_dispose(&last_render);
        CHECK_INT_EQ(qr_cmd_render(c, bad_tags[i], SYNC, QR_LOG_DEBUG, &last_render), QR_EINVAL);
    }
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "A1", (qr_cmd_literal_mode)7), QR_EINVAL);
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "12345678901234567890123456789012", SYNC), 0);
    qr_dynbuf_free(&last_wire);
    qr_dynbuf_init(&last_wire, 1024);
    CHECK_INT_EQ(wire_into(c, "000042", SYNC, &last_wire), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&last_wire), "000042 NOOP\r\n");
    qr_cmd_free(c);
}

/* --- numbers, dates, flags, lists -------------------------------------- */

static void test_numbers(void)
{
    qr_cmd *c = new_cmd("X", 0);

    qr_cmd_add_number(c, 0);
    qr_cmd_add_number(c, 4294967295u);
    qr_cmd_add_number64(c, UINT64_MAX);
    CHECK_WIRE(c, SYNC, "A1 X 0 4294967295 18446744073709551615\r\n");
    qr_cmd_free(c);
}

static void test_date_time_formatting(void)
{
    qr_cmd *c = new_cmd("X", 0);
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 2024 - 1900;
    tm.tm_mon = 1;
    tm.tm_mday = 29; /* a leap day */
    tm.tm_hour = 9;
    tm.tm_min = 5;
    tm.tm_sec = 60; /* a leap second */
    CHECK_INT_EQ(qr_cmd_add_date_time(c, &tm, 330), 0);
    CHECK_INT_EQ(qr_cmd_add_date_time_t(c, 0, 60), 0);
    CHECK_INT_EQ(qr_cmd_add_date_time_t(c, 0, -1439), 0);
    CHECK_INT_EQ(qr_cmd_add_date(c, 2026, 11, 5), 0);
    CHECK_INT_EQ(qr_cmd_add_date(c, 99, 12, 31), 0);
    CHECK_WIRE(c, SYNC,
               "A1 X \"29-Feb-2024 09:05:60 +0530\" \"01-Jan-1970 01:00:00 +0100\" "
               "\"31-Dec-1969 00:01:00 -2359\" 5-Nov-2026 31-Dec-0099\r\n");
    qr_cmd_free(c);
}

static void test_date_time_refusals(void)
{
    struct tm ok, tm;
    struct {
        int year, mon, mday, hour, min, sec, tz;
    } bad[] = {
        {2027, 1, 29, 0, 0, 0, 0},    /* 29 Feb of a common year */
        {1900, 1, 29, 0, 0, 0, 0},    /* 1900 was not a leap year */
        {2026, 12, 1, 0, 0, 0, 0},    /* month 13 */
        {2026, -1, 1, 0, 0, 0, 0},    /* month 0 */
        {2026, 3, 31, 0, 0, 0, 0},    /* 31 Apr */
        {2026, 0, 0, 0, 0, 0, 0},     /* day 0 */
        {2026, 0, 1, 24, 0, 0, 0},    /* hour 24 */
        {2026, 0, 1, 0, 60, 0, 0},    /* minute 60 */
        {2026, 0, 1, 0, 0, 61, 0},    /* second 61 */
        {2026, 0, 1, 0, 0, 0, 1440},  /* zone +2400 */
        {2026, 0, 1, 0, 0, 0, -1440}, /* zone -2400 */
        {10000, 0, 1, 0, 0, 0, 0},    /* year 10000 */
        {0, 0, 1, 0, 0, 0, 0},        /* year 0 */
    };
    size_t i;

    memset(&ok, 0, sizeof(ok));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qr_cmd *c = new_cmd("X", 0);
        tm = ok;
        tm.tm_year = bad[i].year - 1900;
        tm.tm_mon = bad[i].mon;
        tm.tm_mday = bad[i].mday;
        tm.tm_hour = bad[i].hour;
        tm.tm_min = bad[i].min;
        tm.tm_sec = bad[i].sec;
        CHECK_INT_EQ(qr_cmd_add_date_time(c, &tm, bad[i].tz), QR_EINVAL);
        qr_cmd_free(c);
    }
    {
        qr_cmd *c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_date_time(c, NULL, 0), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_date_time_t(c, 0, 1440), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_date_time_t(c, (time_t)253402300799LL + 1, 0), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_date(c, 2026, 2, 29), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_date(c, 2026, 13, 1), QR_EINVAL);
        qr_cmd_free(c);
    }
}

static void test_flags(void)
{
    static const char *const ok[] = {"\\seen", "\\ANSWERED", "\\Deleted", "\\Draft", "$Forwarded"};
    static const char *const bad[] = {"\\Recent", "\\Foo", "\\", "\\*",
                                      "a b",      "",      "a]", "caf\xc3\xa9"};
    qr_cmd *c = new_cmd("X", 0);
    size_t i;

    CHECK_INT_EQ(qr_cmd_add_flags(c, ok, 5), 0);
    CHECK_INT_EQ(qr_cmd_add_flag(c, "\\Flagged"), 0);
    CHECK_INT_EQ(qr_cmd_add_flags(c, NULL, 0), 0);
    CHECK_WIRE(c, SYNC, "A1 X (\\seen \\ANSWERED \\Deleted \\Draft $Forwarded) \\Flagged ()\r\n");
    qr_cmd_free(c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *two[2];
        two[0] = "\\Seen";
        two[1] = bad[i];
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_flag(c, bad[i]), QR_EINVAL);
        qr_cmd_free(c);
        c = new_cmd("X", 0);
        CHECK_INT_EQ(qr_cmd_add_flags(c, two, 2), QR_EINVAL);
        /* the half-written list was rolled back */
        CHECK_UINT_EQ(c->text.len, 1);
        CHECK_INT_EQ(c->depth, 0);
        qr_cmd_free(c);
    }
}

static void test_lists(void)
{
    qr_cmd *c = new_cmd("X", 0);
    qr_cmdw w;
    int i;

    CHECK_INT_EQ(qr_cmd_list_open(c), 0);
    CHECK_INT_EQ(qr_cmd_list_open(c), 0);
    CHECK_INT_EQ(qr_cmd_list_close(c), 0);
    CHECK_INT_EQ(qr_cmd_list_open(c), 0);
    CHECK_INT_EQ(qr_cmd_add_atom(c, "A"), 0);
    CHECK_INT_EQ(qr_cmd_list_close(c), 0);
    /* a list left open cannot be sent or rendered */
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "A1", SYNC), QR_EINVAL);
    qr_buf_dispose(&last_render);
    CHECK_INT_EQ(qr_cmd_render(c, "A1", SYNC, QR_LOG_DEBUG, &last_render), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_list_close(c), 0);
    CHECK_WIRE(c, SYNC, "A1 X (() (A))\r\n");
    CHECK_INT_EQ(qr_cmd_list_close(c), QR_EINVAL); /* nothing open */
    qr_cmd_free(c);

    c = new_cmd("X", 0);
    for (i = 0; i < QR_CMD_DEPTH_MAX; i++)
        CHECK_INT_EQ(qr_cmd_list_open(c), 0);
    CHECK_INT_EQ(qr_cmd_list_open(c), QR_ELIMIT);
    qr_cmd_free(c);
}

/* --- streamed literals ------------------------------------------------- */

typedef struct source {
    const char *data; /* what the source gives */
    size_t len;       /* how much */
    size_t pos;       /* given so far */
    int again;        /* answer QR_EAGAIN this many times first */
    int fail;         /* answer this error instead of data */
} source;

static int source_read(void *buf, size_t cap, size_t *got, void *payload)
{
    source *s = payload;
    size_t n = s->len - s->pos;

    if (s->again > 0) {
        s->again--;
        return QR_EAGAIN;
    }
    if (s->fail)
        return s->fail;
    if (n > cap)
        n = cap;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return 0;
}

/* APPEND INBOX {declared} with the source, serialized; returns the rc. */
static int stream_case(source *src, uint64_t declared, qr_cmd_literal_mode mode)
{
    qr_cmd *c = new_cmd("APPEND", 0);
    int rc;

    qr_cmd_add_mailbox(c, "INBOX");
    CHECK_INT_EQ(qr_cmd_add_literal_stream(c, declared, source_read, src, 0), 0);
    qr_dynbuf_free(&last_wire);
    qr_dynbuf_init(&last_wire, 1024);
    rc = wire_into(c, "A1", mode, &last_wire);
    qr_cmd_free(c);
    return rc;
}

static void test_stream_exact_body(void)
{
    source s = {"Subject: streamed\r\n\r\nbody\r\n", 27, 0, 0, 0};

    CHECK_INT_EQ(stream_case(&s, 27, SYNC), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&last_wire),
                 "A1 APPEND INBOX {27}\r\n<+>Subject: streamed\r\n\r\nbody\r\n\r\n");
    s.pos = 0;
    CHECK_INT_EQ(stream_case(&s, 27, PLUS), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&last_wire),
                 "A1 APPEND INBOX {27+}\r\nSubject: streamed\r\n\r\nbody\r\n\r\n");
}

static void test_stream_short_and_long_bodies_fail(void)
{
    source s = {"0123456789", 10, 0, 0, 0};

    /* the source ends after 10 of 12 bytes */
    CHECK_INT_EQ(stream_case(&s, 12, PLUS), QR_EINVAL);
    CHECK_STR_EQ(qr_dynbuf_str(&last_wire), "A1 APPEND INBOX {12+}\r\n0123456789");
    /* the source has 10 bytes, 8 were declared: caught before the final CRLF */
    s.pos = 0;
    CHECK_INT_EQ(stream_case(&s, 8, PLUS), QR_EINVAL);
    CHECK_STR_EQ(qr_dynbuf_str(&last_wire), "A1 APPEND INBOX {8+}\r\n01234567");
    /* an error of the source comes back as it is */
    s.pos = 0;
    s.fail = QR_EIO;
    CHECK_INT_EQ(stream_case(&s, 10, PLUS), QR_EIO);
}

static void test_stream_eagain_and_single_use(void)
{
    source s = {"abc", 3, 0, 2, 0};
    qr_cmd *c = new_cmd("APPEND", 0);
    qr_cmdw w;
    qr_chunk ch;
    char buf[8];
    size_t got = 99;

    qr_cmd_add_mailbox(c, "INBOX");
    qr_cmd_add_literal_stream(c, 3, source_read, &s, QR_CMD_LITERAL_BINARY);
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "T", PLUS), 0);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0); /* tag */
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0); /* APPEND INBOX SP */
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0); /* ~{3+} */
    CHECK_MEM_EQ(ch.ptr, ch.len, "~{3+}\r\n", 7);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0);
    CHECK_INT_EQ(ch.kind, QR_CHUNK_PULL);
    CHECK_UINT_EQ(ch.remaining, 3);
    CHECK_INT_EQ(qr_cmdw_pull(&w, buf, sizeof(buf), &got), QR_EAGAIN);
    CHECK_UINT_EQ(got, 0);
    CHECK_INT_EQ(qr_cmdw_pull(&w, buf, sizeof(buf), &got), QR_EAGAIN);
    CHECK_INT_EQ(qr_cmdw_pull(&w, buf, 2, &got), 0);
    CHECK_MEM_EQ(buf, got, "ab", 2);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0);
    CHECK_INT_EQ(ch.kind, QR_CHUNK_PULL);
    CHECK_UINT_EQ(ch.remaining, 1);
    CHECK_INT_EQ(qr_cmdw_pull(&w, buf, sizeof(buf), &got), 0);
    CHECK_MEM_EQ(buf, got, "c", 1);
    s.again = 1; /* the end check itself may have to wait */
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), QR_EAGAIN);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0);
    CHECK_MEM_EQ(ch.ptr, ch.len, "\r\n", 2);
    CHECK_INT_EQ(qr_cmdw_next(&w, &ch), 0);
    CHECK_INT_EQ(ch.kind, QR_CHUNK_END);
    /* a stream cannot be replayed */
    CHECK_INT_EQ(qr_cmdw_init(&w, c, "T2", PLUS), QR_EINVAL);
    CHECK_STR_EQ(render(c, MINUS, QR_LOG_DEBUG), "A1 APPEND INBOX ~{3+}");
    qr_cmd_free(c);

    c = new_cmd("X", 0);
    CHECK_INT_EQ(qr_cmd_add_literal_stream(c, 1, NULL, NULL, 0), QR_EINVAL);
    qr_cmd_free(c);
    c = new_cmd("X", 0);
    CHECK_INT_EQ(qr_cmd_add_literal_stream(c, 1, source_read, &s, QR_CMD_LITERAL_BORROW),
                 QR_EINVAL);
    qr_cmd_free(c);
    c = new_cmd("X", 0);
    CHECK_INT_EQ(qr_cmd_add_literal_stream(c, UINT64_MAX, source_read, &s, 0), QR_EINVAL);
    qr_cmd_free(c);
}

/* --- UID set splitting -------------------------------------------------- */

typedef struct pieces {
    char text[16][128]; /* each command, rendered */
    int n;              /* how many */
    int stop_at;        /* return QR_EUSER at this piece (1-based), 0 never */
} pieces;

static int collect(qr_cmd *piece, void *payload)
{
    pieces *p = payload;
    qr_buf b = QR_BUF_INIT;
    int rc = qr_cmd_render(piece, NULL, SYNC, QR_LOG_DEBUG, &b);

    if (rc < 0) { /* allocation-failure runs */
        qr_cmd_free(piece);
        return rc;
    }
    if (p->n < 16)
        snprintf(p->text[p->n], sizeof(p->text[0]), "%s", b.ptr);
    p->n++;
    qr_buf_dispose(&b);
    qr_cmd_free(piece);
    return p->n == p->stop_at ? QR_EUSER : 0;
}

static qr_cmd *fetch_template(const qr_uidset *set)
{
    qr_cmd *c = new_cmd("UID FETCH", 0);

    qr_cmd_add_uidset(c, set);
    qr_cmd_add_raw(c, "(FLAGS)");
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    return c;
}

static void test_uidset_split_under_budget(void)
{
    qr_uidset *odd = uids(1, 39, 2); /* 1,3,5,...,39 */
    qr_cmd *c = fetch_template(odd);
    pieces p;

    CHECK_STR_EQ(render(c, SYNC, QR_LOG_DEBUG),
                 "A1 UID FETCH 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39 (FLAGS)");
    /* "UID FETCH " + " (FLAGS)" = 18 bytes, so 22 for each piece */
    memset(&p, 0, sizeof(p));
    CHECK_INT_EQ(qr_cmd_split_uidset(c, odd, 40, collect, &p), 0);
    CHECK_INT_EQ(p.n, 3);
    CHECK_STR_EQ(p.text[0], "UID FETCH 1,3,5,7,9,11,13,15,17 (FLAGS)");
    CHECK_STR_EQ(p.text[1], "UID FETCH 19,21,23,25,27,29,31 (FLAGS)");
    CHECK_STR_EQ(p.text[2], "UID FETCH 33,35,37,39 (FLAGS)");
    CHECK(strlen(p.text[0]) <= 40 && strlen(p.text[1]) <= 40 && strlen(p.text[2]) <= 40);

    /* everything fits: one command, equal to the template */
    memset(&p, 0, sizeof(p));
    CHECK_INT_EQ(qr_cmd_split_uidset(c, odd, 8192, collect, &p), 0);
    CHECK_INT_EQ(p.n, 1);
    CHECK_STR_EQ(p.text[0],
                 "UID FETCH 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39 (FLAGS)");

    /* the callback stops the walk */
    memset(&p, 0, sizeof(p));
    p.stop_at = 2;
    CHECK_INT_EQ(qr_cmd_split_uidset(c, odd, 40, collect, &p), QR_EUSER);
    CHECK_INT_EQ(p.n, 2);
    qr_uidset_free(odd);
    qr_cmd_free(c);
}

static void test_uidset_split_edges(void)
{
    qr_uidset *small = uids(5, 5, 1), *wide = uids(1, 1, 1), *empty = NULL;
    qr_cmd *c = fetch_template(small), *lit = new_cmd("X", 0);
    pieces p;

    CHECK_INT_EQ(qr_uidset_add_range(wide, 4294967294u, 4294967295u), 0);
    /* room for 3 bytes only, but "5" fits whole */
    memset(&p, 0, sizeof(p));
    CHECK_INT_EQ(qr_cmd_split_uidset(c, small, 18 + 3, collect, &p), 0);
    CHECK_INT_EQ(p.n, 1);
    CHECK_STR_EQ(p.text[0], "UID FETCH 5 (FLAGS)");
    /* the pieces come from the set given, not from the template's */
    memset(&p, 0, sizeof(p));
    CHECK_INT_EQ(qr_cmd_split_uidset(c, wide, 18 + 21, collect, &p), 0);
    CHECK_INT_EQ(p.n, 2);
    CHECK_STR_EQ(p.text[0], "UID FETCH 1 (FLAGS)");
    CHECK_STR_EQ(p.text[1], "UID FETCH 4294967294:4294967295 (FLAGS)");
    /* too small for any piece */
    memset(&p, 0, sizeof(p));
    CHECK_INT_EQ(qr_cmd_split_uidset(c, wide, 18 + 3, collect, &p), QR_ELIMIT);
    CHECK_INT_EQ(qr_cmd_split_uidset(c, wide, 18, collect, &p), QR_ELIMIT);
    CHECK_INT_EQ(p.n, 0);
    /* misuse */
    CHECK_INT_EQ(qr_uidset_new(&empty), 0);
    CHECK_INT_EQ(qr_cmd_split_uidset(c, empty, 100, collect, &p), QR_EINVAL);
    CHECK_INT_EQ(qr_cmd_add_uidset(lit, empty), QR_EINVAL);
    qr_cmd_free(lit);
    lit = new_cmd("X", 0);
    CHECK_INT_EQ(qr_cmd_split_uidset(lit, small, 100, collect, &p), QR_EINVAL); /* no set */
    qr_cmd_add_uidset(lit, small);
    qr_cmd_add_literal(lit, "x", 1, 0);
    CHECK_INT_EQ(qr_cmd_split_uidset(lit, small, 100, collect, &p), QR_EINVAL); /* literal */
    CHECK_INT_EQ(p.n, 0);
    qr_uidset_free(small);
    qr_uidset_free(wide);
    qr_uidset_free(empty);
    qr_cmd_free(c);
    qr_cmd_free(lit);
}

static void test_split_keeps_secret_segments(void)
{
    qr_uidset *set = uids(1, 9, 4); /* 1,5,9 */
    qr_cmd *c = new_cmd("X", 0);
    pieces p;

    qr_cmd_set_secret(c, 1);
    qr_cmd_add_atom(c, "hidden");
    qr_cmd_set_secret(c, 0);
    qr_cmd_add_uidset(c, set);
    qr_cmd_add_atom(c, "tail");
    memset(&p, 0, sizeof(p));
    /* "X hidden " + " tail" = 14 fixed, 21 for the set */
    CHECK_INT_EQ(qr_cmd_split_uidset(c, set, 14 + 21, collect, &p), 0);
    CHECK_INT_EQ(p.n, 1);
    CHECK_STR_EQ(p.text[0], "X <redacted> 1,5,9 tail");
    qr_uidset_free(set);
    qr_cmd_free(c);
}

/* --- the invariant, exhaustively over single bytes ---------------------- */

/* Whatever an appender accepted, the command-line bytes are clean. */
static void check_clean(qr_cmd *c)
{
    size_t i;

    for (i = 0; i < c->text.len; i++)
        CHECK(c->text.ptr[i] != '\r' && c->text.ptr[i] != '\n' && c->text.ptr[i] != '\0');
    if (qr_cmd_error(c) == 0)
        (void)wire(c, SYNC); /* checks every TEXT chunk */
    qr_cmd_free(c);
}

static void test_no_cr_lf_nul_outside_literals(void)
{
    unsigned int b;
    qr_cmd *c;

    for (b = 0; b < 256; b++) {
        char s[4] = {'a', (char)b, 'z', '\0'};

        c = new_cmd("X", 0);
        qr_cmd_add_astring(c, s, 3);
        check_clean(c);
        c = new_cmd("X", 0);
        qr_cmd_add_string(c, s, 3);
        check_clean(c);
        c = new_cmd("X", 0);
        qr_cmd_add_atom(c, s);
        check_clean(c);
        c = new_cmd("X", 0);
        qr_cmd_add_raw(c, s);
        check_clean(c);
        c = new_cmd("X", 0);
        qr_cmd_add_flag(c, s);
        check_clean(c);
        c = new_cmd("X", 0);
        qr_cmd_add_mailbox(c, s);
        check_clean(c);
        c = new_cmd("X", QR_CMD_UTF8_ACCEPT);
        qr_cmd_add_mailbox(c, s);
        check_clean(c);
    }
}

/* --- allocation failures ------------------------------------------------ */

static int case_login(void)
{
    qr_cmd *c = NULL;
    qr_dynbuf out;
    qr_buf log = QR_BUF_INIT;
    int rc = qr_cmd_new(&c, "LOGIN", 0);

    if (rc)
        return rc;
    qr_cmd_add_astring(c, "joe smith", 9);
    qr_cmd_set_secret(c, 1);
    qr_cmd_add_astring(c, "p\xc3\xa4ss", 5);
    rc = qr_cmd_error(c);
    if (rc == 0)
        rc = qr_cmd_render(c, "A1", SYNC, QR_LOG_DEBUG, &log);
    qr_dynbuf_init(&out, 1024);
    if (rc == 0)
        rc = wire_into(c, "A1", SYNC, &out);
    if (rc == 0)
        CHECK_STR_EQ(qr_dynbuf_str(&out), "A1 LOGIN \"joe smith\" {5}\r\n<+>p\xc3\xa4ss\r\n");
    qr_dynbuf_free(&out);
    qr_buf_dispose(&log);
    qr_cmd_free(c);
    return rc;
}

static int case_multiappend(void)
{
    static const char *const flags[] = {"\\Seen", "$Junk"};
    qr_cmd *c = NULL;
    int rc = qr_cmd_new(&c, "APPEND", 0);

    if (rc)
        return rc;
    qr_cmd_add_mailbox(c, "Entw\xc3\xbcrfe");
    qr_cmd_add_flags(c, flags, 2);
    qr_cmd_add_date_time_t(c, 1795879967, 0);
    qr_cmd_add_literal(c, msg1, sizeof(msg1) - 1, 0);
    qr_cmd_add_flags(c, flags, 1);
    qr_cmd_add_literal(c, msg1, sizeof(msg1) - 1, QR_CMD_LITERAL_BORROW);
    rc = qr_cmd_error(c);
    qr_cmd_free(c);
    return rc;
}

static int case_split(void)
{
    qr_uidset *set = NULL;
    qr_cmd *c = NULL;
    pieces p;
    uint32_t u;
    int rc = qr_uidset_new(&set);

    for (u = 1; u < 40 && rc == 0; u += 2)
        rc = qr_uidset_add(set, u);
    if (rc == 0)
        rc = qr_cmd_new(&c, "UID FETCH", 0);
    if (rc == 0) {
        qr_cmd_add_uidset(c, set);
        qr_cmd_add_raw(c, "(FLAGS)");
        rc = qr_cmd_error(c);
    }
    memset(&p, 0, sizeof(p));
    if (rc == 0)
        rc = qr_cmd_split_uidset(c, set, 40, collect, &p);
    if (rc == 0)
        CHECK_INT_EQ(p.n, 3);
    qr_cmd_free(c);
    qr_uidset_free(set);
    return rc;
}

static void alloc_loop(int (*fn)(void), const char *name)
{
    unsigned long n, count;
    int rc;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(fn(), 0);
    count = qr_alloc_count();
    CHECK(count > 0);
    printf("# %s: %lu allocation points\n", name, count);
    for (n = 1; n <= count; n++) {
        qr_alloc_fail_at(n, 0);
        rc = fn();
        if (rc != QR_ENOMEM || !qr_alloc_failed())
            printf("# %s: allocation %lu of %lu\n", name, n, count);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK(qr_alloc_failed());
    }
    qr_alloc_fail_at(0, 0);
}

static void test_allocation_failures(void)
{
    alloc_loop(case_login, "login");
    alloc_loop(case_multiappend, "multiappend");
    alloc_loop(case_split, "split");
}

static void test_failed_allocation_rolls_back(void)
{
    /* long enough to make the text buffer grow in the middle of the list */
    static const char *const flags[] = {"\\Seen", "$AVeryLongKeywordNumberOne0123456789",
                                        "$AVeryLongKeywordNumberTwo0123456789"};
    qr_cmd *c = new_cmd("STORE", 0);
    unsigned long n;
    size_t text_len, nsegs;
    int failures = 0;

    qr_cmd_add_number(c, 1);
    text_len = c->text.len;
    nsegs = c->nsegs;
    /* fail every allocation from the first: the flag list must vanish whole */
    for (n = 1; n <= 3; n++) {
        qr_cmd_free(c);
        c = new_cmd("STORE", 0);
        qr_cmd_add_number(c, 1);
        qr_alloc_fail_at(n, 1);
        if (qr_cmd_add_flags(c, flags, 3) == QR_ENOMEM) {
            failures++;
            CHECK_UINT_EQ(c->text.len, text_len);
            CHECK_UINT_EQ(c->nsegs, nsegs);
            CHECK_INT_EQ(c->depth, 0);
            CHECK_INT_EQ(qr_cmd_error(c), QR_ENOMEM);
        }
        qr_alloc_fail_at(0, 0);
    }
    CHECK(failures > 0);
    qr_cmd_free(c);
}

int main(void)
{
    qr_dynbuf_init(&last_wire, 1);
    TAP_RUN(test_login_quoting_literal_in_each_mode);
    TAP_RUN(test_login_log_rendering_is_redacted);
    TAP_RUN(test_select_qresync);
    TAP_RUN(test_uid_store_unchangedsince);
    TAP_RUN(test_append_with_body);
    TAP_RUN(test_multiappend_continuation_points);
    TAP_RUN(test_literal_minus_boundary_and_binary_and_empty);
    TAP_RUN(test_mailbox_utf8_to_modified_utf7);
    TAP_RUN(test_mailbox_invalid_utf8_is_refused);
    TAP_RUN(test_inbox_normalisation);
    TAP_RUN(test_astring_forms);
    TAP_RUN(test_astring_nul_is_refused_and_sticky);
    TAP_RUN(test_refused_atoms);
    TAP_RUN(test_raw_text);
    TAP_RUN(test_names_and_tags);
    TAP_RUN(test_numbers);
    TAP_RUN(test_date_time_formatting);
    TAP_RUN(test_date_time_refusals);
    TAP_RUN(test_flags);
    TAP_RUN(test_lists);
    TAP_RUN(test_stream_exact_body);
    TAP_RUN(test_stream_short_and_long_bodies_fail);
    TAP_RUN(test_stream_eagain_and_single_use);
    TAP_RUN(test_uidset_split_under_budget);
    TAP_RUN(test_uidset_split_edges);
    TAP_RUN(test_split_keeps_secret_segments);
    TAP_RUN(test_no_cr_lf_nul_outside_literals);
    TAP_RUN(test_allocation_failures);
    TAP_RUN(test_failed_allocation_rolls_back);
    qr_dynbuf_free(&last_wire);
    qr_buf_dispose(&last_render);
    return tap_done();
}
