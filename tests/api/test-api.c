/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-api: linked against libqresync.so only (no internal objects), it
 * calls every exported function once, through the public headers, as an
 * outside program would.
 */
#include <qresync/qresync.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"

static void test_version_matches_headers(void)
{
    CHECK_STR_EQ(qr_version(), QR_VERSION_STRING);
    CHECK_INT_EQ(QR_VERSION_NUMBER,
                 QR_VERSION_MAJOR * 10000 + QR_VERSION_MINOR * 100 + QR_VERSION_PATCH);
}

static void test_errors_through_the_shared_library(void)
{
    CHECK_STR_EQ(qr_strerror(QR_EAUTH), "authentication failed");
    CHECK_INT_EQ(qr_error_is_fatal(QR_ECOMPRESS), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_ECAPABILITY), 0);
}

static void test_buf_dispose_accepts_empty_and_borrowed(void)
{
    qr_buf empty = QR_BUF_INIT;
    char mine[] = "not the library's";
    qr_buf borrowed;

    qr_buf_dispose(&empty);
    qr_buf_dispose(NULL);
    borrowed.ptr = mine;
    borrowed.size = strlen(mine);
    borrowed.reserved = 0; /* not owned: dispose must not free it */
    qr_buf_dispose(&borrowed);
    CHECK(borrowed.ptr == NULL);
    CHECK_UINT_EQ(borrowed.size, 0);
}

/* Collects the pieces of qr_uidset_format_split() as "a|b". */
static int api_collect_piece(const char *piece, size_t len, void *payload)
{
    char *text = payload;
    size_t have = strlen(text);

    if (have + len + 2 > 256)
        return -1;
    if (have)
        text[have++] = '|';
    memcpy(text + have, piece, len);
    text[have + len] = '\0';
    return 0;
}

static void test_uidset_through_the_shared_library(void)
{
    qr_uidset *a = NULL, *b = NULL, *c = NULL;
    qr_buf text = QR_BUF_INIT;
    const qr_range *r;
    qr_uidset_iter it;
    char pieces[256] = "";
    uint32_t uid = 0, sum = 0;
    size_t n = 0;

    CHECK_INT_EQ(qr_uidset_new(&a), 0);
    CHECK_INT_EQ(qr_uidset_new(&b), 0);
    if (a == NULL || b == NULL)
        return;
    CHECK_INT_EQ(qr_uidset_add(a, 4), 0);
    CHECK_INT_EQ(qr_uidset_add_range(a, 3, 1), 0);
    CHECK_INT_EQ(qr_uidset_add(a, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_parse(b, "3:6,10", 6), 0);
    CHECK_INT_EQ(qr_uidset_parse(b, "*", 1), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_contains(a, 4), 1);
    CHECK_UINT_EQ(qr_uidset_count(b), 5);
    r = qr_uidset_ranges(a, &n);
    CHECK_UINT_EQ(n, 1);
    CHECK(r != NULL && r[0].lo == 1 && r[0].hi == 4);

    CHECK_INT_EQ(qr_uidset_copy(&c, a), 0);
    CHECK_INT_EQ(qr_uidset_equal(a, c), 1);
    CHECK_INT_EQ(qr_uidset_union(c, b), 0);           /* 1:6,10 */
    CHECK_INT_EQ(qr_uidset_difference(c, a), 0);      /* 5:6,10 */
    CHECK_INT_EQ(qr_uidset_intersection(c, b), 0);    /* 5:6,10 */
    CHECK_INT_EQ(qr_uidset_remove(c, 10), 0);         /* 5:6 */
    CHECK_INT_EQ(qr_uidset_remove_range(b, 4, 5), 0); /* 3,6,10 */
    CHECK_INT_EQ(qr_uidset_format(c, &text), 0);
    CHECK_STR_EQ(text.ptr, "5:6");
    qr_buf_dispose(&text);
    CHECK_INT_EQ(qr_uidset_format_split(b, 21, api_collect_piece, pieces), 0);
    CHECK_STR_EQ(pieces, "3,6,10");

    qr_uidset_iter_init(&it, b);
    while (qr_uidset_iter_next(&it, &uid))
        sum += uid;
    CHECK_UINT_EQ(sum, 19);
    qr_uidset_clear(b);
    CHECK_UINT_EQ(qr_uidset_count(b), 0);
    qr_uidset_free(a);
    qr_uidset_free(b);
    qr_uidset_free(c);
    qr_uidset_free(NULL);
}

/* Pull callback for test_cmd_through_the_shared_library. */
static int api_read_body(void *buf, size_t cap, size_t *got, void *payload)
{
    (void)buf;
    (void)cap;
    (void)payload;
    *got = 0;
    return 0;
}

/* Counts and frees the commands of qr_cmd_split_uidset(). */
static int api_count_piece(qr_cmd *piece, void *payload)
{
    (*(int *)payload)++;
    qr_cmd_free(piece);
    return 0;
}

static void test_cmd_through_the_shared_library(void)
{
    static const char *const flags[] = {"\\Seen"};
    qr_cmd *c = NULL, *s = NULL;
    qr_uidset *set = NULL;
    qr_buf line = QR_BUF_INIT;
    struct tm tm;
    int pieces = 0;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 126;
    tm.tm_mday = 1;
    CHECK_INT_EQ(qr_cmd_new(&c, "APPEND", 0), 0);
    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    if (c == NULL || set == NULL)
        return;
    CHECK_INT_EQ(qr_cmd_add_mailbox(c, "inbox"), 0);
    CHECK_INT_EQ(qr_cmd_add_flags(c, flags, 1), 0);
    CHECK_INT_EQ(qr_cmd_list_open(c), 0);
    CHECK_INT_EQ(qr_cmd_add_flag(c, "$Junk"), 0);
    CHECK_INT_EQ(qr_cmd_list_close(c), 0);
    CHECK_INT_EQ(qr_cmd_add_date_time(c, &tm, 0), 0);
    CHECK_INT_EQ(qr_cmd_add_date_time_t(c, 0, 0), 0);
    CHECK_INT_EQ(qr_cmd_add_date(c, 2026, 11, 5), 0);
    CHECK_INT_EQ(qr_cmd_add_atom(c, "X"), 0);
    CHECK_INT_EQ(qr_cmd_add_raw(c, "1:*"), 0);
    CHECK_INT_EQ(qr_cmd_add_astring(c, "a b", 3), 0);
    CHECK_INT_EQ(qr_cmd_add_string(c, "c", 1), 0);
    CHECK_INT_EQ(qr_cmd_add_number(c, 7), 0);
    CHECK_INT_EQ(qr_cmd_add_number64(c, 8), 0);
    qr_cmd_set_secret(c, 1);
    CHECK_INT_EQ(qr_cmd_add_literal(c, "body", 4, 0), 0);
    qr_cmd_set_secret(c, 0);
    CHECK_INT_EQ(qr_cmd_add_literal_stream(c, 0, api_read_body, NULL, 0), 0);
    CHECK_INT_EQ(qr_cmd_error(c), 0);
    CHECK_INT_EQ(qr_cmd_render(c, "A1", QR_CMD_LITERAL_PLUS, QR_LOG_DEBUG, &line), 0);
    CHECK_STR_EQ(line.ptr, "A1 APPEND INBOX (\\Seen) ($Junk) \"01-Jan-2026 00:00:00 +0000\" "
                           "\"01-Jan-1970 00:00:00 +0000\" 5-Nov-2026 X 1:* \"a b\" \"c\" 7 8 "
                           "<redacted> {0+}");
    qr_buf_dispose(&line);
    CHECK_INT_EQ(qr_cmd_add_atom(c, "a b"), QR_EINVAL);

    CHECK_INT_EQ(qr_uidset_add_range(set, 1, 3), 0);
    CHECK_INT_EQ(qr_cmd_new(&s, "UID EXPUNGE", 0), 0);
    CHECK_INT_EQ(qr_cmd_add_uidset(s, set), 0);
    CHECK_INT_EQ(qr_cmd_split_uidset(s, set, 100, api_count_piece, &pieces), 0);
    CHECK_INT_EQ(pieces, 1);
    qr_cmd_free(c);
    qr_cmd_free(s);
    qr_cmd_free(NULL);
    qr_uidset_free(set);
}

/* The response parser through the shared library: every qr_parser_* and
 * qr_resp_* export. */
static int api_on_response(const qr_resp *r, void *payload)
{
    int *seen = (int *)payload;

    if (r->kind == QR_RESP_FETCH && r->u.fetch.uid == 7 && r->u.fetch.modseq == 9)
        (*seen)++;
    return 0;
}

static void test_parser_through_the_shared_library(void)
{
    static const char in[] = "* 1 FETCH (UID 7 MODSEQ (9))\r\n* LIST () \"/\" \"x\r\n";
    qr_parser_options o;
    qr_parser *p = NULL;
    size_t used = 0;
    int seen = 0;

    CHECK_INT_EQ(qr_parser_options_init(&o, QR_PARSER_OPTIONS_VERSION), 0);
    o.callbacks.on_response = api_on_response;
    o.payload = &seen;
    CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
    CHECK_INT_EQ(qr_parser_feed(p, in, 30, &used), 0);
    CHECK_UINT_EQ(used, 30);
    CHECK_UINT_EQ(qr_parser_offset(p), 30);
    CHECK_INT_EQ(seen, 1);
    CHECK_INT_EQ(qr_parser_feed(p, in + 30, sizeof(in) - 31, &used), QR_EPROTO);
    CHECK_INT_EQ(qr_parser_last_error(p)->code, QR_EPROTO);
    CHECK_UINT_EQ(qr_parser_error_offset(p), 46);
    qr_parser_free(p);
    CHECK_STR_EQ(qr_resp_kind_name(QR_RESP_VANISHED), "VANISHED");
    CHECK_STR_EQ(qr_resp_cond_name(QR_COND_BYE), "BYE");
    CHECK_STR_EQ(qr_resp_code_name(QR_CODE_APPENDUID), "APPENDUID");
}

/* --- session (libqresync/session) --- */
static int api_session_done(qr_session *s, const qr_session_result *res, void *payload)
{
    (void)s;
    ((int *)payload)[res->status == 0 ? 0 : 1]++;
    return 0;
}

static void test_session_through_the_shared_library(void)
{
    static const char greeting[] = "* OK [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n";
    static const char replies[] = "A1 OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\nA2 OK\r\n"
                                  "* CAPABILITY IMAP4rev1 UIDPLUS\r\nA3 OK\r\nA4 OK\r\n"
                                  "* BYE bye\r\n";
    const qr_cap need[] = {QR_CAP_UIDPLUS};
    qr_session_options o;
    qr_session_cmd_opts co;
    qr_session *s = NULL;
    qr_cmd *c = NULL;
    qr_iov iov[8];
    size_t n = 0, used = 0, pending = 9, inflight = 9, ncaps = 0, i, total = 0;
    int counts[2] = {0, 0};

    CHECK_INT_EQ(qr_session_options_init(&o, QR_SESSION_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(qr_session_cmd_opts_init(&co, QR_SESSION_CMD_OPTS_VERSION), 0);
    CHECK_INT_EQ(qr_session_new(&s, &o), 0);
    CHECK_INT_EQ(qr_session_feed(s, greeting, sizeof(greeting) - 1, &used), 0);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    CHECK_INT_EQ(qr_session_caps_known(s), 1);
    CHECK_INT_EQ(qr_session_has_cap(s, QR_CAP_UIDPLUS), 1);
    CHECK_INT_EQ(qr_session_has_cap_name(s, "imap4REV1"), 1);
    CHECK(qr_session_cap_list(s, &ncaps) != NULL);
    CHECK_UINT_EQ(ncaps, 2);
    CHECK_INT_EQ(qr_session_require(s, need, 1), 0);
    CHECK_STR_EQ(qr_cap_name(QR_CAP_QRESYNC), "QRESYNC");
    CHECK_INT_EQ(qr_session_login(s, "joe", "pw", api_session_done, counts), 0);
    qr_cmd_new(&c, "NOOP", 0);
    CHECK_INT_EQ(qr_session_submit(s, c, &co, api_session_done, NULL, counts), 0);
    CHECK_INT_EQ(qr_session_capability(s, api_session_done, counts), 0);
    CHECK_INT_EQ(qr_session_noop(s, api_session_done, counts), 0);
    CHECK_INT_EQ(qr_session_logout(s, api_session_done, counts), 0);
    CHECK_INT_EQ(qr_session_want_write(s), 1);
    CHECK_INT_EQ(qr_session_want_read(s), 1);
    CHECK_INT_EQ(qr_session_hold_input(s, 1), 0);
    CHECK_INT_EQ(qr_session_want_read(s), 0);
    CHECK_INT_EQ(qr_session_feed(s, replies, 1, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, 0);
    CHECK_INT_EQ(qr_session_hold_input(s, 0), 0);
    CHECK_INT_EQ(qr_session_want_read(s), 1);
    CHECK_INT_EQ(qr_session_source_ready(s), 0);
    CHECK_INT_EQ(qr_session_hold_input(NULL, 1), QR_EINVAL);
    CHECK_INT_EQ(qr_session_source_ready(NULL), QR_EINVAL);
    /* LOGIN is a barrier: one command goes out first. */
    CHECK_INT_EQ(qr_session_output(s, iov, 8, &n), 0);
    for (i = 0; i < n; i++)
        total += iov[i].len;
    CHECK_INT_EQ(qr_session_consume(s, total), 0);
    CHECK_INT_EQ(qr_session_queue_counts(s, &pending, &inflight), 0);
    CHECK_UINT_EQ(pending, 4);
    CHECK_UINT_EQ(inflight, 1);
    CHECK_INT_EQ(qr_session_feed(s, replies, 42, &used), 0);
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_AUTHENTICATED);
    do {
        total = 0;
        CHECK_INT_EQ(qr_session_output(s, iov, 8, &n), 0);
        for (i = 0; i < n; i++)
            total += iov[i].len;
        qr_session_consume(s, total);
    } while (n > 0);
    qr_session_caps_invalidate(s);
    CHECK_INT_EQ(qr_session_caps_known(s), 0);
    CHECK_INT_EQ(qr_session_cancel_all(s), 1); /* the LOGOUT, behind the others */
    /* BYE with nothing in flight fails the session at once. */
    CHECK_INT_EQ(qr_session_feed(s, replies + 42, sizeof(replies) - 1 - 42, &used), QR_EBYE);
    CHECK(qr_session_selected_get(s) != NULL);
    CHECK_INT_EQ(qr_session_eof(s), QR_EBYE);
    CHECK_INT_EQ(qr_session_last_error(s)->code, QR_EBYE);
    CHECK_INT_EQ(qr_session_abort(s, QR_EIO, "late"), QR_EBYE);
    CHECK_INT_EQ(counts[0], 4);
    CHECK_INT_EQ(counts[1], 1);
    qr_session_free(s);
}

static void relay_api_done(qr_relay *r, const qr_relay_result *res, void *payload)
{
    (void)r;
    (void)res;
    (void)payload;
}

static void test_relay_through_the_shared_library(void)
{
    qr_relay_options o = QR_RELAY_OPTIONS_INIT;
    qr_relay *r = NULL;
    qr_session *a = NULL, *b = NULL;

    CHECK_INT_EQ(qr_relay_options_init(&o, QR_RELAY_OPTIONS_VERSION), 0);
    CHECK_UINT_EQ(o.ring_size, 262144);
    CHECK_INT_EQ(qr_relay_options_init(&o, QR_RELAY_OPTIONS_VERSION + 1), QR_EINVAL);
    o.ring_size = o.max_chunk; /* under 2 * max_chunk */
    CHECK_INT_EQ(qr_relay_new(&r, &o), QR_EINVAL);
    CHECK(r == NULL);
    CHECK_INT_EQ(qr_relay_new(&r, NULL), 0);
    CHECK_INT_EQ(qr_relay_running(r), 0);
    CHECK_INT_EQ(qr_session_new(&a, NULL), 0);
    CHECK_INT_EQ(qr_session_new(&b, NULL), 0);
    CHECK_INT_EQ(qr_relay_start(r, a, 1, a, "INBOX", relay_api_done, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_relay_start(r, a, 0, b, "INBOX", relay_api_done, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_relay_running(r), 0);
    qr_session_free(a);
    qr_session_free(b);
    qr_relay_free(r);
}

static void test_auth_options_through_the_shared_library(void)
{
    qr_auth_options o = QR_AUTH_OPTIONS_INIT;

    o.username = "changed";
    CHECK_INT_EQ(qr_auth_options_init(&o, QR_AUTH_OPTIONS_VERSION), 0);
    CHECK_UINT_EQ(o.version, QR_AUTH_OPTIONS_VERSION);
    CHECK(o.username == NULL && o.mechanisms == NULL && o.token_fn == NULL);
    CHECK_INT_EQ(o.allow_weak, 0);
    CHECK_INT_EQ(o.allow_plaintext, 0);
    CHECK_INT_EQ(qr_auth_options_init(&o, QR_AUTH_OPTIONS_VERSION + 1), QR_EINVAL);
}

static int always(void *payload)
{
    return payload != NULL;
}

static void test_conn_through_the_shared_library(void)
{
    qr_conn_options o = QR_CONN_OPTIONS_INIT;
    qr_conn_traffic_stats t;
    qr_conn *c = NULL;
    qr_loop *loop = NULL;
    size_t zero = 0;
    int dummy = 1;

    CHECK_INT_EQ(qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(o.type, QR_CONN_IMAPS);
    CHECK_INT_EQ(o.starttls, 1);
    CHECK_INT_EQ(o.io_timeout_ms, 30000);
    o.type = QR_CONN_TUNNEL;
    o.command = "printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\\r\\n'; read l; "
                "printf '* BYE bye\\r\\nA1 OK done\\r\\n'";
    o.compress = 0;
    CHECK_INT_EQ(qr_conn_new(&c, &o), 0);
    CHECK(strcmp(qr_conn_place(c), "tunnel printf") > 0);
    CHECK(qr_conn_fd(c) >= 0);
    CHECK(qr_conn_interest(c) != 0);
    CHECK(qr_conn_timeout_ms(c) >= -1);
    CHECK_INT_EQ(qr_conn_process(c, 0), 0);
    CHECK_INT_EQ(qr_conn_connect_wait(c, 10000), 0);
    CHECK_INT_EQ(qr_conn_state_get(c), QR_CONN_READY);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_conn_last_error(c)->code, 0);
    CHECK_INT_EQ(qr_conn_traffic(c, &t), 0);
    CHECK(t.wire_in > 0 && t.tls == 0 && t.compressed == 0);
    CHECK_INT_EQ(qr_loop_new(&loop), 0);
    CHECK_INT_EQ(qr_loop_add(loop, c), 0);
    CHECK_INT_EQ(qr_loop_add(loop, c), QR_EINVAL);
    CHECK_INT_EQ(qr_loop_run_until(loop, always, &dummy, 1000), 0);
    CHECK_INT_EQ(qr_loop_run_count(loop, &zero, 0, 1000), 0);
    CHECK_INT_EQ(qr_loop_remove(loop, c), 0);
    qr_loop_free(loop);
    CHECK_INT_EQ(qr_conn_close(c), 0);
    CHECK_INT_EQ(qr_conn_close_wait(c, 10000), 0);
    CHECK_INT_EQ(qr_conn_state_get(c), QR_CONN_CLOSED);
    qr_conn_free(c);
}

/* Feeds parser events to a mailbox engine. */
static int api_mbox_on_response(const qr_resp *resp, void *payload)
{
    return qr_mbox_engine_feed((qr_mbox_engine *)payload, resp) < 0 ? -1 : 0;
}

static void test_mbox_through_the_shared_library(void)
{
    static const char wire[] = "* OK ready\r\n"
                               "* OK [CLOSED] x\r\n"
                               "* 3 EXISTS\r\n"
                               "* OK [UIDVALIDITY 7] x\r\n"
                               "* VANISHED (EARLIER) 2\r\n"
                               "* 1 FETCH (UID 1 MODSEQ (12) FLAGS ($Junk \\Seen))\r\n"
                               "* 3 FETCH (UID 5 MODSEQ (13) FLAGS ())\r\n"
                               "A1 OK done\r\n";
    qr_mbox_state st = QR_MBOX_STATE_INIT;
    qr_parser_options po = QR_PARSER_OPTIONS_INIT;
    qr_flagset fs = QR_FLAGSET_INIT, other = QR_FLAGSET_INIT;
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    qr_parser *p = NULL;
    qr_qresync_params qp;
    qr_uidset *known = NULL;
    qr_cmd *cmd = NULL;
    qr_buf out = QR_BUF_INIT;
    const qr_flag_update *u;
    size_t n = 0, used = 0, len = 0;
    uint32_t id = 9;

    CHECK_INT_EQ(qr_mbox_state_init(&st, QR_MBOX_STATE_VERSION), 0);
    st.uidvalidity = 7;
    st.uidnext = 4;
    st.highestmodseq = 10;
    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_kwtable_intern(kw, "$junk", 5, &id), 0);
    CHECK_INT_EQ(qr_kwtable_lookup(kw, "$JUNK", 5, &id), 1);
    CHECK_STR_EQ(qr_kwtable_name(kw, id, &len), "$junk");
    CHECK_UINT_EQ(qr_kwtable_count(kw), 1);
    CHECK_UINT_EQ(qr_flag_system_bit("\\Seen", 5), QR_FLAG_SEEN);

    CHECK_INT_EQ(qr_mbox_engine_new(&e, &st, kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_begin_select(e, 1), 0);
    po.callbacks.on_response = api_mbox_on_response;
    po.payload = e;
    CHECK_INT_EQ(qr_parser_new(&p, &po), 0);
    CHECK_INT_EQ(qr_parser_feed(p, wire, sizeof(wire) - 1, &used), 0);
    qr_parser_free(p);
    CHECK_INT_EQ(qr_mbox_engine_phase(e), QR_MBOX_ACTIVE);
    CHECK_INT_EQ(qr_mbox_engine_last_error(e)->code, QR_OK);
    CHECK_UINT_EQ(qr_mbox_engine_state(e)->uidnext, 6);
    CHECK_INT_EQ(qr_mbox_engine_take(e, 0, &c), 0);
    CHECK_INT_EQ(qr_uidset_contains(qr_changes_vanished(c), 2), 1);
    CHECK_INT_EQ(qr_uidset_contains(qr_changes_new_uids(c), 5), 1);
    u = qr_changes_updates(c, &n);
    CHECK_UINT_EQ(n, 1);
    CHECK(u != NULL && u == qr_changes_find(c, 1) && u->modseq == 12);
    CHECK_UINT_EQ(qr_changes_base(c)->highestmodseq, 10);
    CHECK_UINT_EQ(qr_changes_state(c)->highestmodseq, 13);
    CHECK_UINT_EQ(qr_changes_flags(c), 0);
    if (u != NULL) {
        CHECK_INT_EQ(qr_flagset_format(&u->flags, kw, QR_FLAGSET_FORMAT_PARENS, &out), 0);
        CHECK_STR_EQ(out.ptr, "($junk \\Seen)");
        qr_buf_dispose(&out);
        CHECK_INT_EQ(qr_flagset_copy(&fs, &u->flags), 0);
    }
    CHECK_INT_EQ(qr_flagset_add_name(&other, kw, "\\Flagged", 8), 0);
    CHECK_INT_EQ(qr_flagset_add_keyword(&other, id), 0);
    CHECK_INT_EQ(qr_flagset_has_keyword(&other, id), 1);
    CHECK_INT_EQ(qr_flagset_union(&fs, &other), 0);
    CHECK_UINT_EQ(fs.sys, QR_FLAG_SEEN | QR_FLAG_FLAGGED);
    qr_flagset_difference(&fs, &other);
    CHECK_INT_EQ(qr_flagset_equal(&fs, &other, 0), 0);
    qr_flagset_clear(&other);
    other.sys = QR_FLAG_SEEN;
    CHECK_INT_EQ(qr_flagset_equal(&fs, &other, 0), 1);
    qr_flagset_dispose(&fs);
    qr_flagset_dispose(&other);
    qr_changes_free(c);
    qr_mbox_engine_free(e);

    CHECK_INT_EQ(qr_uidset_new(&known), 0);
    CHECK_INT_EQ(qr_uidset_add_range(known, 1, 3), 0);
    CHECK_INT_EQ(qr_mbox_qresync_params(&qp, &st, known), 0);
    CHECK_INT_EQ(qr_cmd_new(&cmd, "SELECT", 0), 0);
    CHECK_INT_EQ(qr_cmd_add_mailbox(cmd, "INBOX"), 0);
    CHECK_INT_EQ(qr_mbox_qresync_append(cmd, &qp), 0);
    CHECK_INT_EQ(qr_cmd_render(cmd, NULL, QR_CMD_LITERAL_PLUS, QR_LOG_INFO, &out), 0);
    CHECK_STR_EQ(out.ptr, "SELECT INBOX (QRESYNC (7 10 1:3 (1:3 1:3)))");
    qr_buf_dispose(&out);
    qr_cmd_free(cmd);
    qr_mbox_qresync_params_dispose(&qp);
    qr_uidset_free(known);
    qr_kwtable_free(kw);
}

/* --- typed commands (commands.h) ------------------------------------------ */

static size_t api_cmds_done;

static int api_done(qr_session *s, const qr_session_result *r, void *p)
{
    (void)s;
    (void)p;
    api_cmds_done += r->status == QR_ECANCELED ? 1 : 1000;
    return 0;
}

static int api_list_done(qr_session *s, const qr_session_result *r, const qr_imap_mailbox *m,
                         size_t n, void *p)
{
    (void)m;
    (void)n;
    return api_done(s, r, p);
}

static int api_status_done(qr_session *s, const qr_session_result *r, const qr_mailbox_status *st,
                           void *p)
{
    (void)st;
    return api_done(s, r, p);
}

static int api_select_done(qr_session *s, const qr_session_result *r,
                           const qr_imap_select_result *sel, void *p)
{
    (void)sel;
    return api_done(s, r, p);
}

static int api_store_done(qr_session *s, const qr_session_result *r, const qr_uidset *m, void *p)
{
    (void)m;
    return api_done(s, r, p);
}

static int api_search_done(qr_session *s, const qr_session_result *r, const qr_uidset *u, int hm,
                           uint64_t m, int e, void *p)
{
    (void)u;
    (void)hm;
    (void)m;
    (void)e;
    return api_done(s, r, p);
}

static int api_append_done(qr_session *s, const qr_session_result *r, uint32_t v, const uint32_t *u,
                           size_t n, void *p)
{
    (void)v;
    (void)u;
    (void)n;
    return api_done(s, r, p);
}

static int api_enable_done(qr_session *s, const qr_session_result *r, const char *const *e,
                           size_t n, void *p)
{
    (void)e;
    (void)n;
    return api_done(s, r, p);
}

/* Every typed command once: the exact lines sent, then cancelled by free. */
static void test_commands_through_the_shared_library(void)
{
    static const char greeting[] = "* OK [CAPABILITY IMAP4rev1 LITERAL+ LIST-EXTENDED LIST-STATUS "
                                   "UIDPLUS NOTIFY MULTIAPPEND ESEARCH CONDSTORE] hi\r\n";
    static const char *const caps[] = {"QRESYNC"};
    static const char *const fl[] = {"\\Seen"};
    qr_imap_list_options lo = QR_IMAP_LIST_OPTIONS_INIT;
    qr_imap_fetch_options fo = QR_IMAP_FETCH_OPTIONS_INIT;
    qr_imap_store_options so = QR_IMAP_STORE_OPTIONS_INIT;
    qr_imap_search_options qo = QR_IMAP_SEARCH_OPTIONS_INIT;
    qr_imap_notify_spec ns = QR_IMAP_NOTIFY_SPEC_INIT;
    qr_imap_append_msg am;
    qr_session *s = NULL;
    qr_uidset *set = NULL;
    qr_cmd *raw = NULL;
    char out[2048];
    size_t used = 0, len = 0, n = 0, i;
    qr_iov iov[64];

    CHECK_INT_EQ(qr_imap_list(NULL, &lo, NULL, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_session_new(&s, NULL), 0);
    CHECK_INT_EQ(qr_session_feed(s, greeting, sizeof(greeting) - 1, &used), 0);
    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    CHECK_INT_EQ(qr_uidset_add_range(set, 1, 3), 0);
    lo.ret = QR_LIST_RET_SUBSCRIBED;
    lo.status_items = QR_STATUS_UIDNEXT;
    CHECK_INT_EQ(qr_imap_list(s, &lo, api_list_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_status(s, "INBOX", QR_STATUS_MESSAGES, api_status_done, NULL), 0);
    fo.items = QR_FETCH_ITEM_FLAGS | QR_FETCH_ITEM_BODY;
    fo.changedsince = 7;
    CHECK_INT_EQ(qr_imap_uid_fetch(s, set, &fo, api_done, NULL), 0);
    so.mode = QR_STORE_ADD;
    so.silent = 1;
    so.flags = fl;
    so.nflags = 1;
    so.use_unchangedsince = 1;
    so.unchangedsince = 9;
    CHECK_INT_EQ(qr_imap_uid_store(s, set, &so, api_store_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_uid_expunge(s, set, NULL, api_done, NULL), 0);
    qo.modseq = 5;
    qo.esearch = 1;
    CHECK_INT_EQ(qr_imap_uid_search(s, &qo, api_search_done, NULL), 0);
    memset(&am, 0, sizeof(am));
    am.data = "hi";
    am.len = 2;
    CHECK_INT_EQ(qr_imap_append(s, "INBOX", &am, 1, 0, api_append_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_create(s, "a", api_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_delete(s, "a", api_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_rename(s, "a", "b", api_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_subscribe(s, "b", 1, api_done, NULL), 0);
    ns.personal = QR_NOTIFY_MAILBOX_NAME;
    CHECK_INT_EQ(qr_imap_notify(s, &ns, NULL, api_done, NULL), 0);
    CHECK_INT_EQ(qr_cmd_new(&raw, "NOOP", 0), 0);
    CHECK_INT_EQ(qr_imap_raw(s, raw, 0, NULL, api_done, NULL), 0);
    CHECK_INT_EQ(qr_session_output(s, iov, 64, &n), 0);
    for (i = 0; i < n && len + iov[i].len < sizeof(out); i++) {
        memcpy(out + len, iov[i].base, iov[i].len);
        len += iov[i].len;
    }
    out[len] = '\0';
    CHECK_STR_EQ(out, "A1 LIST \"\" * RETURN (SUBSCRIBED STATUS (UIDNEXT))\r\n"
                      "A2 STATUS INBOX (MESSAGES)\r\n"
                      "A3 UID FETCH 1:3 (UID FLAGS BODY.PEEK[]) (CHANGEDSINCE 7)\r\n"
                      "A4 UID STORE 1:3 (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Seen)\r\n"
                      "A5 UID EXPUNGE 1:3\r\n"
                      "A6 UID SEARCH RETURN (ALL) MODSEQ 5\r\n"
                      "A7 APPEND INBOX {2+}\r\nhi\r\n"
                      "A8 CREATE a\r\n"
                      "A9 DELETE a\r\n"
                      "A10 RENAME a b\r\n"
                      "A11 SUBSCRIBE b\r\n"
                      "A12 NOTIFY SET (personal (MailboxName))\r\n"
                      "A13 NOOP\r\n");
    CHECK_INT_EQ(qr_imap_enable(s, caps, 1, api_enable_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_select(s, "INBOX", QR_SELECT_CONDSTORE, NULL, NULL, api_select_done, NULL),
                 0);
    CHECK_INT_EQ(qr_imap_unselect(s, 0, api_done, NULL), 0);
    CHECK_INT_EQ(qr_imap_idle(s, NULL, api_done, NULL), QR_ECAPABILITY);
    CHECK_INT_EQ(qr_imap_idle_done(s), QR_EINVAL);
    api_cmds_done = 0;
    qr_session_free(s);
    CHECK_UINT_EQ(api_cmds_done, 16);
    qr_uidset_free(set);
}

/* The sync engine: a server without LIST-EXTENDED is refused with the
 * reference's message, after the database file was created and locked. */
static void pull_api_log(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                         void *payload)
{
    char *last = payload;

    (void)cat;
    (void)len;
    snprintf(last, 256, "%d:%s", (int)level, text);
}

static void test_pull_through_the_shared_library(void)
{
    qr_conn_options o = QR_CONN_OPTIONS_INIT;
    qr_pull_options po;
    qr_conn *c = NULL;
    qr_pull *p = NULL;
    char dir[] = "/tmp/qr-api-pull-XXXXXX", path[64], last[256] = "";

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/state", dir);
    CHECK_INT_EQ(qr_pull_options_init(&po, QR_PULL_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(qr_pull_options_init(&po, QR_PULL_OPTIONS_VERSION + 1), QR_EINVAL);
    CHECK_INT_EQ(qr_pull_new(&p, &po), QR_EINVAL); /* no state file, no deliver callback */
    CHECK(p == NULL);
    po.statefile = path;
    po.flags = QR_PULL_NO_DELIVERY;
    po.log_fn = pull_api_log;
    po.log_payload = last;
    CHECK_INT_EQ(qr_pull_new(&p, &po), 0);
    o.type = QR_CONN_TUNNEL;
    o.compress = 0;
    o.command = "printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\\r\\n'; read t rest; "
                "printf '%s NO [NONEXISTENT] no such mailbox\\r\\n' \"$t\"; sleep 5";
    CHECK_INT_EQ(qr_conn_new(&c, &o), 0);
    CHECK_INT_EQ(qr_pull_attach(p, c), QR_EINVAL); /* the state file is not open yet */
    CHECK_INT_EQ(qr_pull_run(p), QR_EINVAL);
    CHECK_INT_EQ(qr_pull_logout(p), QR_EINVAL);
    CHECK_INT_EQ(qr_pull_open(p), 0);
    CHECK_INT_EQ(qr_pull_attach(p, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_pull_attach(p, c), 0);
    CHECK(qr_pull_selected(p) == NULL);
    CHECK_INT_EQ(qr_pull_run(p), QR_ENO);
    CHECK_STR_EQ(last, "0:ERROR: NO no such mailbox"); /* no code, as the reference */
    CHECK_INT_EQ(qr_pull_last_error(p)->code, QR_ENO);
    CHECK_INT_EQ(qr_pull_idle(p, 1), QR_EINVAL); /* never got past the SELECT */
    CHECK_UINT_EQ(qr_pull_stats_get(p)->delivered, 0);
    qr_pull_cancel(p);
    qr_pull_cancel(NULL);
    CHECK_INT_EQ(qr_pull_logout(p), QR_ENO); /* the earlier failure */
    qr_pull_free(p);
    qr_pull_free(NULL);
    qr_conn_free(c);
    unlink(path);
    rmdir(dir);
}

static void sync_api_log(const qr_sync_log_line *line, void *payload)
{
    char *last = payload;

    if (line->level == QR_LOG_ERROR)
        snprintf(last, 256, "%d:%s", (int)line->component, line->text);
}

static void test_sync_through_the_shared_library(void)
{
    qr_conn_options o = QR_CONN_OPTIONS_INIT;
    qr_sync_options so;
    qr_conn *c[2] = {NULL, NULL};
    qr_sync *s = NULL;
    char dir[] = "/tmp/qr-api-sync-XXXXXX", db[64], last[256] = "";
    struct stat stb;
    int i;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof(db), "%s/db.sqlite", dir);
    CHECK_INT_EQ(qr_sync_options_init(&so, QR_SYNC_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(qr_sync_options_init(&so, QR_SYNC_OPTIONS_VERSION + 1), QR_EINVAL);
    CHECK_INT_EQ(qr_sync_new(&s, &so), QR_EINVAL); /* no connections, no database */
    CHECK(s == NULL);
    o.type = QR_CONN_TUNNEL;
    o.compress = 0;
    o.command = "printf '* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] hi\\r\\n'; sleep 5";
    for (i = 0; i < 2; i++)
        CHECK_INT_EQ(qr_conn_new(&c[i], &o), 0);
    so.conn[0] = c[0];
    so.database = db;
    CHECK_INT_EQ(qr_sync_new(&s, &so), QR_EINVAL); /* one connection without the other */
    so.conn[0] = NULL;
    so.log_fn = sync_api_log;
    so.log_payload = last;
    CHECK_INT_EQ(qr_sync_new(&s, &so), 0);
    CHECK_INT_EQ(qr_sync_run(s), QR_EINVAL); /* no connections yet */
    CHECK_INT_EQ(qr_sync_repair(s), QR_EINVAL);
    CHECK_INT_EQ(qr_sync_delete(s, QR_SYNC_TARGET_LOCAL), QR_EINVAL); /* no names */
    CHECK_INT_EQ(qr_sync_rename(s, QR_SYNC_TARGET_DATABASE), QR_EINVAL);
    CHECK_INT_EQ(qr_sync_idle(s, 1), QR_EINVAL); /* never connected */
    qr_sync_cancel(NULL);
    CHECK_INT_EQ(qr_sync_open(s), 0);
    CHECK_INT_EQ(qr_sync_attach(s, c[0], c[0]), QR_EINVAL);
    CHECK_INT_EQ(qr_sync_attach(s, c[0], c[1]), 0);
    CHECK_INT_EQ(qr_sync_attach(s, c[0], c[1]), QR_EINVAL);
    CHECK_INT_EQ(stat(db, &stb), 0);
    CHECK(qr_sync_selected(s, QR_SYNC_LOCAL) == NULL);
    CHECK_INT_EQ(qr_sync_run(s), QR_ECAPABILITY);
    qr_sync_cancel(s);
    CHECK_INT_EQ(qr_sync_idle(s, 1), QR_EINVAL); /* the pass failed before connecting */
    CHECK_STR_EQ(last, "0:Non LIST-EXTENDED-capable IMAP server.");
    CHECK_INT_EQ(qr_sync_last_error(s)->code, QR_ECAPABILITY);
    CHECK_STR_EQ(qr_sync_last_error(s)->message, "Non LIST-EXTENDED-capable IMAP server.");
    CHECK_INT_EQ(qr_sync_error_component(s), QR_SYNC_COMP_NONE);
    CHECK_INT_EQ((int)qr_sync_stats_get(s)->mailboxes, 0);
    qr_sync_free(s);
    for (i = 0; i < 2; i++)
        qr_conn_free(c[i]);
    unlink(db);
    rmdir(dir);
}

/* A one-connection SMTP peer in a child process: greeting, EHLO with
 * PIPELINING, one pipelined transaction, QUIT. Returns the child's pid. */
static void api_smtp_read_until(int fd, const char *end)
{
    char buf[4096];
    size_t n = 0;

    while (n + 1 < sizeof(buf)) {
        ssize_t r = read(fd, buf + n, 1);

        if (r <= 0)
            _exit(1);
        n += (size_t)r;
        buf[n] = '\0';
        if (n >= strlen(end) && strcmp(buf + n - strlen(end), end) == 0)
            return;
    }
    _exit(1);
}

static pid_t api_smtp_peer(int lfd)
{
    static const char *const script[][2] = {
        {NULL, "220 api.test ESMTP\r\n"},
        {"\r\n", "250-api.test\r\n250 PIPELINING\r\n"},
        {"DATA\r\n", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n"},
        {"\r\n.\r\n", "250 2.0.0 queued\r\n"},
        {"QUIT\r\n", "221 bye\r\n"},
    };
    pid_t pid = fork();
    size_t i;
    int fd;

    if (pid != 0)
        return pid;
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        _exit(1);
    for (i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        if (script[i][0] != NULL)
            api_smtp_read_until(fd, script[i][0]);
        if (write(fd, script[i][1], strlen(script[i][1])) < 0)
            _exit(1);
    }
    _exit(0);
}

static int api_smtp_body(void *buf, size_t cap, size_t *got, void *payload)
{
    const char **p = payload;
    size_t n = strlen(*p) < cap ? strlen(*p) : cap;

    memcpy(buf, *p, n);
    *p += n;
    *got = n;
    return 0;
}

static void test_smtp_through_the_shared_library(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    qr_smtp_options o;
    qr_smtp *s = NULL;
    const char *body = "Subject: api\r\n\r\n.hi\n";
    char port[16];
    int lfd, status = -1;
    pid_t pid;

    CHECK_INT_EQ(qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION + 1), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(o.starttls, QR_SMTP_STARTTLS_OFFERED);
    CHECK_INT_EQ(o.io_timeout_ms, 300000);
    CHECK_INT_EQ(qr_smtp_new(NULL, &o), QR_EINVAL);
    o.helo = "bad\r\nRSET";
    CHECK_INT_EQ(qr_smtp_new(&s, &o), QR_EINVAL);
    CHECK(s == NULL);
    CHECK(qr_smtp_last_error(NULL)->code != 0);
    CHECK_INT_EQ(qr_smtp_last_reply(NULL)->code, 0);

    /* a closed port: bind one, note it, close it */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
    snprintf(port, sizeof(port), "%u", (unsigned)ntohs(sa.sin_port));
    close(lfd);
    o.helo = "api.client";
    o.port = port;
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    CHECK_INT_EQ(qr_smtp_connect(s), QR_EIO);
    CHECK(strncmp(qr_smtp_last_error(s)->message, "smtp 127.0.0.1:", 15) == 0);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d", 0, 0, 0, api_smtp_body, &body), QR_EOF);
    CHECK_INT_EQ(qr_smtp_quit(s), 0);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d", 0, 0, 0, api_smtp_body, &body), QR_EINVAL);
    qr_smtp_free(s);
    s = NULL;

    /* a scripted peer */
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = 0;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 1) == 0);
    len = sizeof(sa);
    CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
    snprintf(port, sizeof(port), "%u", (unsigned)ntohs(sa.sin_port));
    pid = api_smtp_peer(lfd);
    close(lfd);
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    CHECK_INT_EQ(qr_smtp_connect(s), 0);
    CHECK_INT_EQ(qr_smtp_has_ext(s, "pipelining"), 1);
    CHECK_INT_EQ(qr_smtp_has_ext(s, "8BITMIME"), 0);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c\r\nRSET", 0, 0, 0, api_smtp_body, &body), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d", 0, 0, 0, api_smtp_body, &body), 0);
    CHECK_INT_EQ(qr_smtp_last_reply(s)->code, 250);
    CHECK_STR_EQ(qr_smtp_last_reply(s)->text, "2.0.0 queued");
    CHECK_INT_EQ(qr_smtp_last_error(s)->code, 0);
    CHECK_INT_EQ(qr_smtp_quit(s), 0);
    CHECK_INT_EQ(qr_smtp_last_reply(s)->code, 221);
    qr_smtp_free(s);
    qr_smtp_free(NULL);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    TAP_RUN(test_version_matches_headers);
    TAP_RUN(test_errors_through_the_shared_library);
    TAP_RUN(test_buf_dispose_accepts_empty_and_borrowed);
    TAP_RUN(test_uidset_through_the_shared_library);
    TAP_RUN(test_cmd_through_the_shared_library);
    TAP_RUN(test_parser_through_the_shared_library);
    TAP_RUN(test_session_through_the_shared_library);
    TAP_RUN(test_relay_through_the_shared_library);
    TAP_RUN(test_auth_options_through_the_shared_library);
    TAP_RUN(test_mbox_through_the_shared_library);
    TAP_RUN(test_conn_through_the_shared_library);
    TAP_RUN(test_commands_through_the_shared_library);
    TAP_RUN(test_pull_through_the_shared_library);
    TAP_RUN(test_sync_through_the_shared_library);
    TAP_RUN(test_smtp_through_the_shared_library);
    return tap_done();
}
