/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-session-alloc: every allocation of a few whole sessions fails in
 * turn (qr_alloc_fail_at). At every point the session either fails
 * cleanly (QR_ENOMEM from the call that hit it, or the session fails with
 * QR_ENOMEM and every command completes) or runs to the end; in all cases
 * each accepted command completes exactly once and a refused one never.
 * Leaks and use-after-free show up under ASan (the asan build runs this).
 */
#include <qresync/session.h>
#include <string.h>

#include "../tap.h"
#include "fakeserver.h"
#include "util/alloc.h"

#define NCMDS 6

typedef struct counts {
    int accepted[NCMDS]; /* 1 if the submit returned 0 */
    int done[NCMDS];     /* completions seen */
    int enomem;          /* some call or completion saw QR_ENOMEM */
} counts;

static counts cnt;

static int on_done(qr_session *s, const qr_session_result *res, void *payload)
{
    int *slot = payload;

    (void)s;
    (*slot)++;
    if (res->status == QR_ENOMEM)
        cnt.enomem = 1;
    return 0;
}

static int on_body(qr_session *s, const char *data, size_t len, void *payload)
{
    (void)s;
    (void)data;
    (void)len;
    (void)payload;
    return 0;
}

static void pull(fakeserver *fs)
{
    fs->client_len = 0;
    if (fs_pull(fs) == QR_ENOMEM)
        cnt.enomem = 1;
    fs->client_len = 0;
}

static void send_str(fakeserver *fs, const char *str)
{
    if (fs_send(fs, str, strlen(str)) == QR_ENOMEM)
        cnt.enomem = 1;
}

static int submit(qr_session *s, int i, const char *name, const char *args, int body)
{
    qr_cmd *c = NULL;
    qr_session_cmd_opts o;
    int rc;

    if (qr_cmd_new(&c, name, 0) != 0)
        return QR_ENOMEM;
    if (args != NULL && qr_cmd_add_raw(c, args) != 0) {
        qr_cmd_free(c);
        return QR_ENOMEM;
    }
    qr_session_cmd_opts_init(&o, QR_SESSION_CMD_OPTS_VERSION);
    if (body)
        o.on_body_data = on_body;
    rc = qr_session_submit(s, c, &o, on_done, NULL, &cnt.done[i]);
    if (rc != 0)
        qr_cmd_free(c);
    return rc;
}

/* One whole session; `variant` picks the literal mode and the split. */
static void scenario(int variant)
{
    static fakeserver fs;
    qr_session_options o;
    qr_session *s = NULL;
    int rc;

    qr_session_options_init(&o, QR_SESSION_OPTIONS_VERSION);
    o.max_in_flight = variant == 2 ? 1 : 128;
    rc = qr_session_new(&s, &o);
    if (rc != 0) {
        cnt.enomem = rc == QR_ENOMEM;
        return;
    }
    fs_init(&fs, s);
    fs.split = variant == 1 ? 7 : 0;
    cnt.accepted[0] = qr_session_login(s, "joe", "p\xc3\xa4ss", on_done, &cnt.done[0]) == 0;
    cnt.accepted[1] = qr_session_noop(s, on_done, &cnt.done[1]) == 0;
    cnt.accepted[2] = submit(s, 2, "SELECT", "INBOX", 0) == 0;
    cnt.accepted[3] = submit(s, 3, "UID FETCH", "1:* (UID BODY.PEEK[])", 1) == 0;
    cnt.accepted[4] = qr_session_capability(s, on_done, &cnt.done[4]) == 0;
    cnt.accepted[5] = qr_session_logout(s, on_done, &cnt.done[5]) == 0;
    send_str(&fs, variant == 0 ? "* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n" : "* OK hi\r\n");
    pull(&fs);
    if (variant != 0)
        send_str(&fs, "* CAPABILITY IMAP4rev1 UIDPLUS\r\nA1 OK\r\n");
    pull(&fs);
    send_str(&fs, "+ go\r\n");
    pull(&fs);
    send_str(&fs, variant == 0 ? "A1 OK logged in\r\n" : "A2 OK logged in\r\n");
    pull(&fs);
    send_str(&fs, "* CAPABILITY IMAP4rev1 QRESYNC\r\nA2 OK\r\nA3 OK\r\nA4 OK\r\n");
    pull(&fs);
    send_str(&fs, "* 2 EXISTS\r\n* OK [UIDVALIDITY 3] v\r\nA3 OK [READ-WRITE] s\r\nA4 OK\r\n"
                  "A5 OK\r\n");
    pull(&fs);
    send_str(&fs, "* 1 FETCH (UID 4 BODY[] {3}\r\nabc)\r\nA5 OK\r\nA6 OK\r\nA7 OK\r\n");
    pull(&fs);
    send_str(&fs, "* CAPABILITY IMAP4rev1\r\nA6 OK\r\nA7 OK\r\nA8 OK\r\n");
    pull(&fs);
    send_str(&fs, "* BYE bye\r\nA7 OK\r\nA8 OK\r\nA9 OK\r\n");
    qr_session_eof(s);
    if (qr_session_last_error(s)->code == QR_ENOMEM)
        cnt.enomem = 1;
    qr_session_free(s);
}

static int check_counts(void)
{
    int i, bad = 0;

    for (i = 0; i < NCMDS; i++)
        if (cnt.done[i] != cnt.accepted[i])
            bad++;
    return bad;
}

static void loop(int variant)
{
    unsigned long total, n;
    int failures = 0, ended = 0, i;

    memset(&cnt, 0, sizeof(cnt));
    qr_alloc_fail_at(0, 0);
    scenario(variant);
    total = qr_alloc_count();
    CHECK(total > 10);
    CHECK_INT_EQ(check_counts(), 0);
    CHECK_INT_EQ(cnt.enomem, 0);
    for (i = 0; i < NCMDS; i++)
        CHECK_INT_EQ(cnt.accepted[i], 1);
    for (n = 1; n <= total + 2; n++) {
        memset(&cnt, 0, sizeof(cnt));
        qr_alloc_fail_at(n, 0);
        scenario(variant);
        if (qr_alloc_failed() && !cnt.enomem) {
            /* A failure that nobody reported is fine only if the caller
             * saw a refused submit (the command never entered). */
            int refused = 0;
            for (i = 0; i < NCMDS; i++)
                refused += !cnt.accepted[i];
            if (!refused)
                failures++;
        }
        if (check_counts() != 0) {
            printf("# variant %d point %lu: completions differ\n", variant, n);
            failures++;
        }
        ended++;
    }
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(failures, 0);
    CHECK(ended > 10);
}

static void test_alloc_literal_plus(void)
{
    loop(0);
}

static void test_alloc_sync_literal_split(void)
{
    loop(1);
}

static void test_alloc_window_one(void)
{
    loop(2);
}

static void test_alloc_sticky(void)
{
    unsigned long n;
    int bad = 0;

    for (n = 1; n < 60; n++) {
        memset(&cnt, 0, sizeof(cnt));
        qr_alloc_fail_at(n, 1);
        scenario(0);
        qr_alloc_fail_at(0, 0);
        bad += check_counts() != 0;
    }
    CHECK_INT_EQ(bad, 0);
}

int main(void)
{
    TAP_RUN(test_alloc_literal_plus);
    TAP_RUN(test_alloc_sync_literal_split);
    TAP_RUN(test_alloc_window_one);
    TAP_RUN(test_alloc_sticky);
    return tap_done();
}
