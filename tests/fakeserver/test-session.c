/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-session: the sans-IO session against the scripted fake server.
 *
 * Most scenarios are functions of the split size: each runs once with the
 * server's bytes delivered whole and once one byte at a time, checks exact
 * client bytes and outcomes both times, and the two recorder logs must be
 * identical.
 */
#include <qresync/session.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "fakeserver.h"

/* --- helpers ------------------------------------------------------------------ */

typedef struct logcap {
    char text[16384]; /* "C: ..." / "S: ..." lines, one per log call */
    size_t len;       /* bytes in text */
} logcap;

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    logcap *lc = payload;

    (void)level;
    (void)cat;
    if (lc->len + len + 2 >= sizeof(lc->text))
        return;
    memcpy(lc->text + lc->len, text, len);
    lc->len += len;
    lc->text[lc->len++] = '\n';
    lc->text[lc->len] = '\0';
}

static qr_session *mk_full(fs_rec *rec, unsigned int window, logcap *lc, qr_log_level level)
{
    qr_session_options o;
    qr_session *s = NULL;

    qr_session_options_init(&o, QR_SESSION_OPTIONS_VERSION);
    o.max_in_flight = window;
    o.on_unsolicited = fs_rec_unsolicited;
    o.payload = rec;
    if (lc != NULL) {
        o.log_fn = log_fn;
        o.log_payload = lc;
        o.log_level = level;
    }
    if (qr_session_new(&s, &o) != 0)
        abort();
    return s;
}

static qr_session *mk(fs_rec *rec)
{
    return mk_full(rec, 128, NULL, QR_LOG_INFO);
}

/* Submit a command built from a name and raw arguments. */
static int submit_raw(qr_session *s, const char *name, const char *args, fs_rec *rec, int untagged)
{
    qr_cmd *c = NULL;
    int rc;

    qr_cmd_new(&c, name, 0);
    if (args != NULL)
        qr_cmd_add_raw(c, args);
    rc = qr_session_submit(s, c, NULL, fs_rec_done, untagged ? fs_rec_untagged : NULL, rec);
    if (rc != 0)
        qr_cmd_free(c);
    return rc;
}

#define RUN_SCRIPT(fs, ...)                                                                        \
    do {                                                                                           \
        static const char *const script_[] = {__VA_ARGS__, NULL};                                  \
        if (fs_run((fs), script_) != 0)                                                            \
            printf("# %s\n", (fs)->err);                                                           \
        CHECK((fs)->err[0] == '\0');                                                               \
    } while (0)

/* Run a scenario whole and byte by byte; both logs must match. */
static void both(void (*fn)(size_t split, fs_rec *rec))
{
    static fs_rec a, b;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    fn(0, &a);
    fn(1, &b);
    CHECK_STR_EQ(a.text, b.text);
}

#define GREETING "send * OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hi\\r\\n"

/* Greet with GREETING and forget the greeting's own event. */
static void greet(fakeserver *fs, fs_rec *rec)
{
    RUN_SCRIPT(fs, GREETING);
    CHECK_STR_EQ(rec->text, "unsolicited GREETING OK hi\n");
    memset(rec, 0, sizeof(*rec));
}

/* --- greeting and capabilities ----------------------------------------------------- */

static void scen_greeting_caps(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    const qr_cap need[] = {QR_CAP_UIDPLUS, QR_CAP_QRESYNC, QR_CAP_CONDSTORE};
    size_t n = 0;
    const char *const *list;

    fs_init(&fs, s);
    fs.split = split;
    CHECK_INT_EQ(qr_session_want_read(s), 1);
    CHECK_INT_EQ(qr_session_want_write(s), 0);
    RUN_SCRIPT(&fs, GREETING, "quiet");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_NOT_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    CHECK_INT_EQ(qr_session_caps_known(s), 1);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_LITERALPLUS), 1);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_QRESYNC), 0);
    CHECK_INT_EQ(qr_session_has_cap_name(s, "uidplus"), 1);
    CHECK_INT_EQ(qr_session_has_cap_name(s, "UIDPLUS2"), 0);
    list = qr_session_cap_list(s, &n);
    CHECK_UINT_EQ(n, 3);
    if (n == 3)
        CHECK_STR_EQ(list[1], "LITERAL+");
    CHECK_INT_EQ(qr_session_require(s, need, 1), 0);
    CHECK_INT_EQ(qr_session_require(s, need, 3), QR_ECAPABILITY);
    CHECK_STR_EQ(qr_session_last_error(s)->message, "server lacks QRESYNC CONDSTORE");
    qr_session_caps_invalidate(s);
    CHECK_INT_EQ(qr_session_caps_known(s), 0);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_UIDPLUS), 0);
    CHECK_INT_EQ(qr_session_require(s, need, 1), QR_ECAPABILITY);
    CHECK_STR_EQ(qr_cap_name(QR_CAP_COMPRESS_DEFLATE), "COMPRESS=DEFLATE");
    qr_session_free(s);
}

static void test_greeting_with_capabilities(void)
{
    both(scen_greeting_caps);
}

static void scen_greeting_no_caps(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    /* Submitted before the greeting: waits for setup to finish. */
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), 0);
    RUN_SCRIPT(&fs, "quiet", "send * OK hello\\r\\n", "expect A1 CAPABILITY\\r\\n", "quiet",
               "send * CAPABILITY IMAP4rev1 QRESYNC UIDPLUS\\r\\nA1 OK done\\r\\n",
               "expect A2 NOOP\\r\\n", "send A2 OK noop\\r\\n", "quiet");
    CHECK_INT_EQ(qr_session_ready(s), 1);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_QRESYNC), 1);
    CHECK_STR_EQ(rec->text, "unsolicited GREETING OK hello\ndone A2 OK noop\n");
    qr_session_free(s);
}

static void test_greeting_without_capabilities(void)
{
    both(scen_greeting_no_caps);
}

static void scen_preauth(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    RUN_SCRIPT(&fs, "send * PREAUTH [CAPABILITY IMAP4rev1] welcome back\\r\\n", "quiet");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    qr_session_free(s);
}

static void test_preauth(void)
{
    both(scen_preauth);
}

static void scen_bye_greeting(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    const qr_error *e;
    size_t used;

    fs_init(&fs, s);
    fs.split = split;
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "send * BYE [UNAVAILABLE] too busy\\r\\n", "rc EBYE");
    e = qr_session_last_error(s);
    CHECK_INT_EQ(e->code, QR_EBYE);
    CHECK_STR_EQ(e->resp_text, "too busy");
    CHECK_STR_EQ(e->resp_code, "UNAVAILABLE");
    CHECK_STR_EQ(e->message, "server refused the connection: too busy");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_FAILED);
    CHECK_INT_EQ(qr_session_feed(s, "x", 1, &used), QR_EBYE);
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), QR_EBYE);
    CHECK_INT_EQ(qr_session_want_read(s), 0);
    CHECK_STR_EQ(rec->text, "done - server closed the session (BYE) \n");
    qr_session_free(s);
}

static void test_bye_at_greeting(void)
{
    both(scen_bye_greeting);
}

/* --- LOGIN ------------------------------------------------------------------------ */

static void scen_login_literal_plus(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    CHECK_INT_EQ(qr_session_login(s, "joe", "p\xc3\xa4sswort", fs_rec_done, rec), 0);
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), 0);
    CHECK_INT_EQ(qr_session_want_write(s), 1);
    /* LOGIN is a barrier: the NOOP waits for its reply. */
    RUN_SCRIPT(&fs, "expect A1 LOGIN joe {9+}\\r\\np\\xc3\\xa4sswort\\r\\n", "quiet",
               "send A1 OK [CAPABILITY IMAP4rev1 QRESYNC] welcome\\r\\n", "expect A2 NOOP\\r\\n",
               "send A2 OK\\r\\n");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_QRESYNC), 1);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_LITERALPLUS), 0);
    CHECK_STR_EQ(rec->text, "done A1 OK [CAPABILITY] welcome\ndone A2 OK \n");
    qr_session_free(s);
}

static void test_login_literal_plus(void)
{
    both(scen_login_literal_plus);
}

static void scen_login_sync_literal(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    RUN_SCRIPT(&fs, "send * OK [CAPABILITY IMAP4rev1] hi\\r\\n");
    memset(rec, 0, sizeof(*rec));
    CHECK_INT_EQ(qr_session_login(s, "joe", "p\xc3\xa4sswort", fs_rec_done, rec), 0);
    RUN_SCRIPT(&fs, "expect A1 LOGIN joe {9}\\r\\n", "quiet", "send + go ahead\\r\\n",
               "expect p\\xc3\\xa4sswort\\r\\n", "quiet", "send A1 OK logged in\\r\\n",
               /* no [CAPABILITY] in the OK: the list is dropped and asked again */
               "expect A2 CAPABILITY\\r\\n", "send * CAPABILITY IMAP4rev1 IDLE\\r\\nA2 OK\\r\\n",
               "quiet");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_IDLE), 1);
    CHECK_STR_EQ(rec->text, "done A1 OK logged in\n");
    qr_session_free(s);
}

static void test_login_sync_literal(void)
{
    both(scen_login_sync_literal);
}

static void scen_login_no(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    const qr_error *e;

    fs_init(&fs, s);
    fs.split = split;
    RUN_SCRIPT(&fs, "send * OK [CAPABILITY IMAP4rev1] hi\\r\\n");
    memset(rec, 0, sizeof(*rec));
    qr_session_login(s, "joe", "p\xc3\xa4sswort", fs_rec_done, rec);
    /* NO instead of "+": the literal is never sent. */
    RUN_SCRIPT(&fs, "expect A1 LOGIN joe {9}\\r\\n",
               "send A1 NO [AUTHENTICATIONFAILED] Authentication failed.\\r\\n", "quiet", "rc 0");
    e = qr_session_last_error(s);
    CHECK_INT_EQ(e->code, QR_ENO);
    CHECK_STR_EQ(e->resp_text, "Authentication failed.");
    CHECK_STR_EQ(e->resp_code, "AUTHENTICATIONFAILED");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_NOT_AUTHENTICATED);
    CHECK_STR_EQ(rec->text, "done A1 NO [OTHER] Authentication failed.\n");
    /* The session goes on: a continuation now is a protocol error. */
    RUN_SCRIPT(&fs, "send + what\\r\\n", "rc EPROTO");
    qr_session_free(s);
}

static void test_login_no(void)
{
    both(scen_login_no);
}

static void test_login_disabled(void)
{
    fs_rec rec;
    qr_session *s;
    fakeserver fs;

    memset(&rec, 0, sizeof(rec));
    s = mk(&rec);
    fs_init(&fs, s);
    RUN_SCRIPT(&fs, "send * OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\\r\\n");
    CHECK_INT_EQ(qr_session_login(s, "joe", "x", fs_rec_done, &rec), QR_ECAPABILITY);
    CHECK_INT_EQ(rec.completions, 0);
    qr_session_free(s);
    CHECK_INT_EQ(rec.completions, 0);
}

/* --- pipelining ----------------------------------------------------------------------- */

static void test_pipelining_window(void)
{
    static fs_rec rec;
    qr_session *s;
    fakeserver *fs = calloc(1, sizeof(*fs));
    int i, next_reply = 1, bad_order = 0;
    size_t pending = 0, inflight = 0;
    char line[64];

    memset(&rec, 0, sizeof(rec));
    s = mk_full(&rec, 128, NULL, QR_LOG_INFO);
    fs_init(fs, s);
    greet(fs, &rec);
    for (i = 0; i < 1000; i++)
        CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, &rec), 0);
    qr_session_queue_counts(s, &pending, &inflight);
    CHECK_UINT_EQ(pending, 1000);
    while (next_reply <= 1000) {
        size_t n;
        int k;
        CHECK_INT_EQ(fs_pull(fs), 0);
        qr_session_queue_counts(s, NULL, &inflight);
        CHECK(inflight <= 128);
        /* Answer every command the client sent, in order. */
        n = fs->client_len;
        for (k = 0; n > 0; k++) {
            char *nl = memchr(fs->client, '\n', fs->client_len);
            size_t len = (size_t)(nl - fs->client) + 1;
            snprintf(line, sizeof(line), "A%d NOOP\r\n", next_reply);
            if (len != strlen(line) || memcmp(fs->client, line, len) != 0)
                bad_order++;
            memmove(fs->client, fs->client + len, fs->client_len - len);
            fs->client_len -= len;
            n = fs->client_len;
            snprintf(line, sizeof(line), "A%d OK\r\n", next_reply++);
            CHECK_INT_EQ(fs_send(fs, line, strlen(line)), 0);
        }
        if (k == 0)
            break;
    }
    CHECK_INT_EQ(bad_order, 0);
    CHECK_UINT_EQ(fs->max_in_flight, 128);
    CHECK_INT_EQ(rec.completions, 1000);
    CHECK_INT_EQ(next_reply, 1001);
    qr_session_queue_counts(s, &pending, &inflight);
    CHECK_UINT_EQ(pending + inflight, 0);
    /* Completions came in order, one each. */
    CHECK(strncmp(rec.text, "done A1 OK \ndone A2 OK \n", 24) == 0);
    CHECK(strstr(rec.text, "done A1000 OK \n") != NULL);
    qr_session_free(s);
    CHECK_INT_EQ(rec.completions, 1000);
    free(fs);
}

static void test_window_of_one(void)
{
    fs_rec rec;
    qr_session *s;
    fakeserver fs;

    memset(&rec, 0, sizeof(rec));
    s = mk_full(&rec, 1, NULL, QR_LOG_INFO);
    fs_init(&fs, s);
    greet(&fs, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\n", "quiet", "send A1 OK\\r\\n", "expect A2 NOOP\\r\\n",
               "quiet", "send A2 OK\\r\\n", "quiet");
    CHECK_INT_EQ(rec.completions, 2);
    qr_session_free(s);
}

static void scen_barrier(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    const qr_session_selected *sel;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    submit_raw(s, "NOOP", NULL, rec, 0);
    submit_raw(s, "SELECT", "INBOX", rec, 1);
    submit_raw(s, "NOOP", NULL, rec, 0);
    submit_raw(s, "UID FETCH", "1:* FLAGS", rec, 1);
    /* SELECT waits for the NOOP before it, the others wait for SELECT. */
    RUN_SCRIPT(
        &fs, "expect A1 NOOP\\r\\n", "quiet", "send A1 OK\\r\\n", "expect A2 SELECT INBOX\\r\\n",
        "quiet", "send * 3 EXISTS\\r\\n* OK [UIDVALIDITY 7] v\\r\\n* OK [UIDNEXT 9] n\\r\\n",
        "send * OK [HIGHESTMODSEQ 20] h\\r\\n", "quiet", "send A2 OK [READ-WRITE] selected\\r\\n",
        "expect A3 NOOP\\r\\nA4 UID FETCH 1:* FLAGS\\r\\n",
        "send * 1 FETCH (UID 12 MODSEQ (25) FLAGS ())\\r\\nA3 OK\\r\\nA4 OK\\r\\n");
    sel = qr_session_selected_get(s);
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_SELECTED);
    CHECK_INT_EQ(sel->selected, 1);
    CHECK_INT_EQ(sel->read_only, 0);
    CHECK_UINT_EQ(sel->exists, 3);
    CHECK_UINT_EQ(sel->uidvalidity, 7);
    CHECK_UINT_EQ(sel->uidnext, 13);
    CHECK_UINT_EQ(sel->highestmodseq, 25);
    CHECK_STR_EQ(rec->text, "done A1 OK \n"
                            "untagged EXISTS 3\n"
                            "unsolicited COND OK v\n"
                            "unsolicited COND OK n\n"
                            "unsolicited COND OK h\n"
                            "done A2 OK [READ-WRITE] selected\n"
                            "untagged FETCH 1 uid=12\n"
                            "done A3 OK \n"
                            "done A4 OK \n");
    qr_session_free(s);
}

static void test_barrier_select(void)
{
    both(scen_barrier);
}

/* --- protocol defences ------------------------------------------------------------------ */

static void scen_unknown_tag(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    qr_iov iov[2];
    size_t n, used;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    qr_session_noop(s, fs_rec_done, rec);
    submit_raw(s, "SELECT", "INBOX", rec, 0); /* stays pending behind the NOOPs */
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\nA2 NOOP\\r\\n", "send Z9 OK what\\r\\n", "rc EPROTO");
    CHECK_STR_EQ(rec->text,
                 "done A1 protocol error \ndone A2 protocol error \ndone - protocol error \n");
    CHECK_INT_EQ(rec->completions, 3);
    CHECK_STR_EQ(qr_session_last_error(s)->message, "unknown tag in tagged response for Z9");
    CHECK_INT_EQ(qr_session_feed(s, "A1 OK\r\n", 7, &used), QR_EPROTO);
    CHECK_INT_EQ(qr_session_output(s, iov, 2, &n), QR_EPROTO);
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), QR_EPROTO);
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_FAILED);
    qr_session_free(s);
    CHECK_INT_EQ(rec->completions, 3);
}

static void test_unknown_tag(void)
{
    both(scen_unknown_tag);
}

static void scen_duplicate_tag(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\nA2 NOOP\\r\\n", "send A1 OK one\\r\\nA1 OK again\\r\\n",
               "rc EPROTO");
    CHECK_STR_EQ(qr_session_last_error(s)->message,
                 "unexpected or repeated tagged response for A1");
    CHECK_INT_EQ(rec->completions, 2);
    qr_session_free(s);
}

static void test_duplicate_tag(void)
{
    both(scen_duplicate_tag);
}

static void scen_unsolicited_plus(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\n", "send + idling\\r\\n", "rc EPROTO");
    CHECK_STR_EQ(qr_session_last_error(s)->message, "continuation request nobody waits for");
    CHECK_INT_EQ(rec->completions, 1);
    qr_session_free(s);
}

static void test_unsolicited_continuation(void)
{
    both(scen_unsolicited_plus);
}

static void scen_garbage(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\n", "garbage", "rc EPROTO");
    CHECK_INT_EQ(rec->completions, 1);
    CHECK_INT_EQ(qr_session_last_error(s)->code, QR_EPROTO);
    qr_session_free(s);
}

static void test_garbage(void)
{
    both(scen_garbage);
}

static void scen_bye_mid_session(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\n", "send * BYE [ALERT] shutting down\\r\\n", "rc 0");
    qr_session_noop(s, fs_rec_done, rec); /* not sent after a BYE */
    RUN_SCRIPT(&fs, "quiet", "send A1 OK done\\r\\n", "rc EBYE");
    CHECK_STR_EQ(rec->text, "unsolicited COND BYE shutting down\n"
                            "done A1 OK done\n"
                            "done - server closed the session (BYE) \n");
    CHECK_INT_EQ(rec->completions, 2);
    CHECK_STR_EQ(qr_session_last_error(s)->resp_text, "shutting down");
    qr_session_free(s);
}

static void test_bye_mid_session(void)
{
    both(scen_bye_mid_session);
}

static void scen_logout(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    CHECK_INT_EQ(qr_session_logout(s, fs_rec_done, rec), 0);
    /* Accepted behind the LOGOUT (a barrier), cancelled when it completes. */
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), 0);
    RUN_SCRIPT(&fs, "expect A1 LOGOUT\\r\\n", "quiet");
    CHECK_INT_EQ(qr_session_noop(s, fs_rec_done, rec), QR_EINVAL);
    RUN_SCRIPT(&fs, "send * BYE see you\\r\\nA1 OK bye\\r\\n", "rc 0", "quiet", "close", "rc 0");
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_LOGOUT);
    CHECK_INT_EQ(qr_session_want_read(s), 0);
    CHECK_STR_EQ(rec->text, "unsolicited COND BYE see you\ndone A1 OK bye\ndone - CANCELED \n");
    qr_session_free(s);
}

static void test_logout(void)
{
    both(scen_logout);
}

static void scen_eof(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_noop(s, fs_rec_done, rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\n", "close", "rc EOF");
    CHECK_STR_EQ(rec->text, "done A1 CANCELED \n");
    qr_session_free(s);
}

static void test_eof_mid_session(void)
{
    both(scen_eof);
}

/* --- routing and pausing ----------------------------------------------------------------- */

typedef struct bodyrec {
    fs_rec *rec;   /* where to write */
    char data[64]; /* body bytes seen */
    size_t len;    /* their number */
} bodyrec;

static int body_begin(qr_session *s, const qr_body_info *info, void *payload)
{
    (void)s;
    fs_rec_add(payload, "body-begin %s %u", info->item.ptr, (unsigned int)info->size);
    return 0;
}

static int body_data(qr_session *s, const char *data, size_t len, void *payload)
{
    (void)s;
    fs_rec_add(payload, "body-data %.*s", (int)len, data);
    return 0;
}

static int body_end(qr_session *s, void *payload)
{
    (void)s;
    fs_rec_add(payload, "body-end");
    return 0;
}

static void scen_routing(size_t split, fs_rec *rec)
{
    qr_session *s = mk(rec);
    fakeserver fs;
    qr_session_cmd_opts o;
    qr_cmd *c;

    fs_init(&fs, s);
    fs.split = split;
    greet(&fs, rec);
    qr_session_cmd_opts_init(&o, QR_SESSION_CMD_OPTS_VERSION);
    o.on_body_begin = body_begin;
    o.on_body_end = body_end;
    qr_cmd_new(&c, "UID FETCH", 0);
    qr_cmd_add_raw(c, "5:6 (UID BODY.PEEK[])");
    CHECK_INT_EQ(qr_session_submit(s, c, &o, fs_rec_done, fs_rec_untagged, rec), 0);
    RUN_SCRIPT(&fs, "expect A1 UID FETCH 5:6 (UID BODY.PEEK[])\\r\\n",
               "send * 1 FETCH (UID 5 FLAGS (\\\\Seen))\\r\\n* 4 EXISTS\\r\\n",
               "send * 2 FETCH (UID 6 BODY[] {5}\\r\\nhello)\\r\\n",
               "send A1 OK done\\r\\n* 3 FETCH (UID 9 FLAGS ())\\r\\n");
    /* Only the data callback is absent: bodies still begin and end. */
    CHECK_STR_EQ(rec->text, "untagged FETCH 1 uid=5\n"
                            "unsolicited EXISTS 4\n"
                            "body-begin BODY[] 5\n"
                            "body-end\n"
                            "untagged FETCH 2 uid=6\n"
                            "done A1 OK done\n"
                            "unsolicited FETCH 3 uid=9\n");
    qr_session_free(s);
}

static void test_routing(void)
{
    both(scen_routing);
}

static void test_body_data(void)
{
    fs_rec rec;
    qr_session *s;
    fakeserver fs;
    qr_session_cmd_opts o;
    qr_cmd *c;

    memset(&rec, 0, sizeof(rec));
    s = mk(&rec);
    fs_init(&fs, s);
    greet(&fs, &rec);
    qr_session_cmd_opts_init(&o, QR_SESSION_CMD_OPTS_VERSION);
    o.on_body_data = body_data;
    qr_cmd_new(&c, "UID FETCH", 0);
    qr_cmd_add_raw(c, "6 BODY.PEEK[]");
    qr_session_submit(s, c, &o, fs_rec_done, NULL, &rec);
    RUN_SCRIPT(&fs, "expect A1 UID FETCH 6 BODY.PEEK[]\\r\\n",
               "send * 2 FETCH (UID 6 BODY[] {5}\\r\\nhello)\\r\\nA1 OK\\r\\n");
    CHECK_STR_EQ(rec.text, "body-data hello\ndone A1 OK \n");
    qr_session_free(s);
}

static void test_pause_and_resume(void)
{
    static const char stream[] = "* 1 FETCH (UID 5)\r\n* 2 FETCH (UID 6)\r\nA1 OK done\r\n";
    fs_rec rec;
    qr_session *s;
    fakeserver fs;
    size_t used = 0;

    memset(&rec, 0, sizeof(rec));
    s = mk(&rec);
    fs_init(&fs, s);
    greet(&fs, &rec);
    submit_raw(s, "UID FETCH", "5:6 UID", &rec, 1);
    RUN_SCRIPT(&fs, "expect A1 UID FETCH 5:6 UID\\r\\n");
    rec.pause_on_untagged = 1;
    CHECK_INT_EQ(qr_session_feed(s, stream, sizeof(stream) - 1, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, 19);
    CHECK_STR_EQ(rec.text, "untagged FETCH 1 uid=5\n");
    CHECK_INT_EQ(qr_session_feed(s, stream + used, sizeof(stream) - 1 - used, &used), 0);
    CHECK_UINT_EQ(used, sizeof(stream) - 1 - 19);
    CHECK_STR_EQ(rec.text, "untagged FETCH 1 uid=5\nuntagged FETCH 2 uid=6\ndone A1 OK done\n");
    qr_session_free(s);
}

/* --- cancel, destroy, submit errors -------------------------------------------------------- */

static void test_cancel_all(void)
{
    fs_rec rec;
    qr_session *s;
    fakeserver fs;
    size_t pending, inflight;

    memset(&rec, 0, sizeof(rec));
    s = mk_full(&rec, 2, NULL, QR_LOG_INFO);
    fs_init(&fs, s);
    greet(&fs, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    qr_session_noop(s, fs_rec_done, &rec);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\nA2 NOOP\\r\\n", "quiet");
    CHECK_INT_EQ(qr_session_cancel_all(s), 2);
    CHECK_STR_EQ(rec.text, "done - CANCELED \ndone - CANCELED \n");
    qr_session_queue_counts(s, &pending, &inflight);
    CHECK_UINT_EQ(pending, 0);
    CHECK_UINT_EQ(inflight, 2);
    RUN_SCRIPT(&fs, "send A1 OK\\r\\nA2 OK\\r\\n", "quiet");
    CHECK_INT_EQ(rec.completions, 4);
    CHECK_INT_EQ(qr_session_cancel_all(s), 0);
    qr_session_free(s);
    CHECK_INT_EQ(rec.completions, 4);
}

typedef struct destroyer {
    qr_session *s; /* the session to free */
    fs_rec rec;    /* completions */
} destroyer;

static int done_and_free(qr_session *s, const qr_session_result *res, void *payload)
{
    destroyer *d = payload;

    fs_rec_done(s, res, &d->rec);
    if (d->s != NULL) {
        qr_session_free(d->s);
        /* Still usable inside the callback; a submit is refused. */
        CHECK_INT_EQ(qr_session_noop(d->s, fs_rec_done, &d->rec), QR_EINVAL);
        d->s = NULL;
    }
    return 0;
}

static void test_free_from_completion(void)
{
    static destroyer d;
    qr_session *s;
    fakeserver fs;
    size_t used;

    memset(&d, 0, sizeof(d));
    s = mk(&d.rec);
    d.s = s;
    fs_init(&fs, s);
    greet(&fs, &d.rec);
    qr_session_noop(s, done_and_free, &d);
    qr_session_noop(s, done_and_free, &d);
    qr_session_noop(s, done_and_free, &d);
    RUN_SCRIPT(&fs, "expect A1 NOOP\\r\\nA2 NOOP\\r\\nA3 NOOP\\r\\n");
    /* The session is freed by the first completion, inside this feed. */
    CHECK_INT_EQ(qr_session_feed(s, "A1 OK\r\nA2 OK\r\n", 14, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, 7);
    CHECK_STR_EQ(d.rec.text, "done A1 OK \ndone A2 CANCELED \ndone A3 CANCELED \n");
}

static int unsolicited_free(qr_session *s, const qr_resp *resp, void *payload)
{
    (void)resp;
    (void)payload;
    qr_session_free(s);
    return 0;
}

static void test_free_from_unsolicited(void)
{
    qr_session_options o;
    qr_session *s;
    size_t used;
    static const char in[] = "* OK hi\r\n* OK more\r\n";

    qr_session_options_init(&o, QR_SESSION_OPTIONS_VERSION);
    o.on_unsolicited = unsolicited_free;
    CHECK_INT_EQ(qr_session_new(&s, &o), 0);
    CHECK_INT_EQ(qr_session_feed(s, in, sizeof(in) - 1, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, 9);
}

static void test_submit_errors(void)
{
    fs_rec rec;
    qr_session *s;
    qr_cmd *c;
    qr_session_cmd_opts o;
    qr_session_options so;

    memset(&rec, 0, sizeof(rec));
    s = mk(&rec);
    qr_cmd_new(&c, "SELECT", 0);
    qr_cmd_list_open(c);
    CHECK_INT_EQ(qr_session_submit(s, c, NULL, fs_rec_done, NULL, &rec), QR_EINVAL);
    qr_cmd_list_close(c);
    qr_cmd_add_atom(c, "bad atom"); /* sticky error */
    CHECK_INT_EQ(qr_session_submit(s, c, NULL, fs_rec_done, NULL, &rec), QR_EINVAL);
    qr_cmd_free(c);
    qr_cmd_new(&c, "NOOP", 0);
    qr_session_cmd_opts_init(&o, QR_SESSION_CMD_OPTS_VERSION);
    o.flags = 0x80;
    CHECK_INT_EQ(qr_session_submit(s, c, &o, fs_rec_done, NULL, &rec), QR_EINVAL);
    o.flags = 0;
    o.version = 99;
    CHECK_INT_EQ(qr_session_submit(s, c, &o, fs_rec_done, NULL, &rec), QR_EINVAL);
    CHECK_INT_EQ(qr_session_submit(s, NULL, NULL, fs_rec_done, NULL, &rec), QR_EINVAL);
    CHECK_INT_EQ(qr_session_submit(NULL, c, NULL, fs_rec_done, NULL, &rec), QR_EINVAL);
    qr_cmd_free(c);
    CHECK_INT_EQ(qr_session_login(s, NULL, "x", fs_rec_done, &rec), QR_EINVAL);
    qr_session_free(s);
    CHECK_INT_EQ(rec.completions, 0);
    /* Bad options. */
    qr_session_options_init(&so, QR_SESSION_OPTIONS_VERSION);
    so.tag_prefix = "A1";
    CHECK_INT_EQ(qr_session_new(&s, &so), QR_EINVAL);
    CHECK(s == NULL);
    so.tag_prefix = "abcdefghi";
    CHECK_INT_EQ(qr_session_new(&s, &so), QR_EINVAL);
    so.tag_prefix = "B";
    so.max_in_flight = 0;
    CHECK_INT_EQ(qr_session_new(&s, &so), QR_EINVAL);
    CHECK_INT_EQ(qr_session_options_init(&so, 7), QR_EINVAL);
}

static void test_tag_prefix(void)
{
    fs_rec rec;
    qr_session_options so;
    qr_session *s;
    fakeserver fs;

    memset(&rec, 0, sizeof(rec));
    qr_session_options_init(&so, QR_SESSION_OPTIONS_VERSION);
    so.tag_prefix = "Bz";
    CHECK_INT_EQ(qr_session_new(&s, &so), 0);
    fs_init(&fs, s);
    RUN_SCRIPT(&fs, GREETING);
    qr_session_noop(s, fs_rec_done, &rec);
    RUN_SCRIPT(&fs, "expect Bz1 NOOP\\r\\n", "send Bz1 OK\\r\\n");
    CHECK_INT_EQ(rec.completions, 1);
    qr_session_free(s);
}

/* --- logging ----------------------------------------------------------------------------- */

static void login_log(qr_log_level level, logcap *lc)
{
    fs_rec rec;
    qr_session *s;
    fakeserver fs;

    memset(&rec, 0, sizeof(rec));
    s = mk_full(&rec, 128, lc, level);
    fs_init(&fs, s);
    RUN_SCRIPT(&fs, "send * OK [CAPABILITY IMAP4rev1] h\\x1bi\\r\\n");
    qr_session_login(s, "joe", "s3cret pass", fs_rec_done, &rec);
    submit_raw(s, "UID FETCH", "1 BODY.PEEK[]", &rec, 0);
    RUN_SCRIPT(&fs, "expect A1 LOGIN joe \"s3cret pass\"\\r\\n",
               "send A1 OK [CAPABILITY IMAP4rev1] ok\\r\\n",
               "expect A2 UID FETCH 1 BODY.PEEK[]\\r\\n",
               "send * 1 FETCH (UID 1 BODY[] {4}\\r\\nab\\r\\n)\\r\\nA2 OK\\r\\n");
    qr_session_free(s);
}

static void test_log_redaction(void)
{
    static logcap dbg, trc;

    memset(&dbg, 0, sizeof(dbg));
    memset(&trc, 0, sizeof(trc));
    login_log(QR_LOG_DEBUG, &dbg);
    login_log(QR_LOG_TRACE, &trc);
    CHECK(strstr(dbg.text, "C: A1 LOGIN joe <redacted>\n") != NULL);
    CHECK(strstr(dbg.text, "s3cret") == NULL);
    CHECK(strstr(trc.text, "C: A1 LOGIN joe \"s3cret pass\"\n") != NULL);
    CHECK(strstr(dbg.text, "S: * OK [CAPABILITY IMAP4rev1] h\\x1bi\n") != NULL);
    CHECK(strstr(dbg.text, "S: * 1 FETCH (UID 1 BODY[] {4}\nS: [...])\n") != NULL);
    CHECK(strstr(dbg.text, "S: A2 OK\n") != NULL);
    CHECK(strstr(dbg.text, "\nab") == NULL);
}

/* --- streamed literals ------------------------------------------------------------------ */

typedef struct src {
    int calls;  /* read calls so far */
    size_t off; /* bytes given */
    int ready;  /* 0: answer QR_EAGAIN */
} src;

static int src_read(void *buf, size_t cap, size_t *got, void *payload)
{
    static const char body[] = "0123456789";
    src *x = payload;
    size_t n = 10 - x->off;

    x->calls++;
    if (!x->ready)
        return QR_EAGAIN;
    if (n > 4)
        n = 4;
    if (n > cap)
        n = cap;
    memcpy(buf, body + x->off, n);
    x->off += n;
    *got = n;
    return 0;
}

static void test_stream_literal_backpressure(void)
{
    fs_rec rec;
    qr_session_options so;
    qr_session *s;
    fakeserver fs;
    qr_cmd *c;
    src x;

    memset(&rec, 0, sizeof(rec));
    memset(&x, 0, sizeof(x));
    qr_session_options_init(&so, QR_SESSION_OPTIONS_VERSION);
    so.output_cap = 8;
    CHECK_INT_EQ(qr_session_new(&s, &so), 0);
    fs_init(&fs, s);
    RUN_SCRIPT(&fs, GREETING);
    qr_cmd_new(&c, "APPEND", 0);
    qr_cmd_add_mailbox(c, "Sent");
    qr_cmd_add_literal_stream(c, 10, src_read, &x, 0);
    CHECK_INT_EQ(qr_session_submit(s, c, NULL, fs_rec_done, NULL, &rec), 0);
    qr_session_noop(s, fs_rec_done, &rec);
    /* The source is not ready: the APPEND stops after its announcement and
     * the NOOP waits behind it. */
    RUN_SCRIPT(&fs, "expect A1 APPEND Sent {10+}\\r\\n", "quiet");
    CHECK_INT_EQ(qr_session_want_write(s), 0);
    x.ready = 1;
    /* Ready now: pulled in pieces within the output cap, then the NOOP. */
    RUN_SCRIPT(&fs, "expect 0123456789\\r\\nA2 NOOP\\r\\n",
               "send A1 OK [APPENDUID 7 9] done\\r\\nA2 OK\\r\\n");
    CHECK(x.calls >= 4);
    CHECK_STR_EQ(rec.text, "done A1 OK [APPENDUID] done\ndone A2 OK \n");
    qr_session_free(s);
}

int main(void)
{
    TAP_RUN(test_greeting_with_capabilities);
    TAP_RUN(test_greeting_without_capabilities);
    TAP_RUN(test_preauth);
    TAP_RUN(test_bye_at_greeting);
    TAP_RUN(test_login_literal_plus);
    TAP_RUN(test_login_sync_literal);
    TAP_RUN(test_login_no);
    TAP_RUN(test_login_disabled);
    TAP_RUN(test_pipelining_window);
    TAP_RUN(test_window_of_one);
    TAP_RUN(test_barrier_select);
    TAP_RUN(test_unknown_tag);
    TAP_RUN(test_duplicate_tag);
    TAP_RUN(test_unsolicited_continuation);
    TAP_RUN(test_garbage);
    TAP_RUN(test_bye_mid_session);
    TAP_RUN(test_logout);
    TAP_RUN(test_eof_mid_session);
    TAP_RUN(test_routing);
    TAP_RUN(test_body_data);
    TAP_RUN(test_pause_and_resume);
    TAP_RUN(test_cancel_all);
    TAP_RUN(test_free_from_completion);
    TAP_RUN(test_free_from_unsolicited);
    TAP_RUN(test_submit_errors);
    TAP_RUN(test_tag_prefix);
    TAP_RUN(test_log_redaction);
    TAP_RUN(test_stream_literal_backpressure);
    return tap_done();
}
