/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-commands-dovecot: the typed commands (commands.h) against the
 * rig's real Dovecot (suite dovecot). Run as `rig.py run --daemon
 * --stores 1 --skip-exit 0 -- test-commands-dovecot` (the daemon over
 * IMAPS and STARTTLS, and the tunnel store), and with
 * `--drop-capability LIST-STATUS -- test-commands-dovecot fallback`
 * (only the tunnel store, whose LIST-STATUS is gone: the per-mailbox
 * STATUS fallback).
 *
 * Each scenario starts from fresh mailboxes named after the connection
 * and asserts exact results: ENABLE; CREATE (and a repeated CREATE's NO);
 * SUBSCRIBE; APPEND and a 3-message MULTIAPPEND with APPENDUID UIDs; an
 * APPEND to a missing mailbox with [TRYCREATE]; LIST with SUBSCRIBED,
 * CHILDREN and STATUS (LIST-STATUS or the fallback, forced too); STATUS;
 * SELECT CONDSTORE; UID FETCH of every item with exact body bytes; UID
 * STORE and UNCHANGEDSINCE with a stale modseq reporting MODIFIED; UID
 * SEARCH and ESEARCH with dates and MODSEQ; UID EXPUNGE; SELECT QRESYNC
 * returning the VANISHED (EARLIER) set; UID FETCH CHANGEDSINCE VANISHED;
 * EXAMINE read-only; NOTIFY SET receiving a STATUS after another
 * connection appends; NOTIFY NONE; IDLE receiving the EXISTS of another
 * connection's APPEND, then DONE; raw NAMESPACE; RENAME, DELETE, a UTF-8
 * name round trip; UNSELECT, CLOSE, NOOP, LOGOUT.
 */
#include "config.h"

#include <qresync/commands.h>
#include <qresync/conn.h>
#include <qresync/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

#define WAIT_MS 20000

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "";
}

static int notify_unsolicited(qr_session *s, const qr_resp *r, void *payload);

/* --- one connection and its loop ------------------------------------------ */

static qr_conn *conn;
static qr_loop *loop;
static qr_session *S;
static size_t ndone;    /* completions seen */
static char prefix[32]; /* mailbox name prefix of the scenario */

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    (void)level;
    (void)cat;
    (void)payload;
    if (getenv("QR_TEST_WIRE") != NULL)
        fprintf(stderr, "%.*s\n", (int)len, text);
}

static int connect_to(const char *what)
{
    qr_conn_options o;
    int rc;

    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    if (strcmp(what, "store") == 0) {
        o.type = QR_CONN_TUNNEL;
        o.command = env("QR_RIG_STORE0_COMMAND");
    } else {
        o.type = strcmp(what, "imaps") == 0 ? QR_CONN_IMAPS : QR_CONN_IMAP;
        o.host = env("QR_RIG_HOST");
        o.port = env(o.type == QR_CONN_IMAPS ? "QR_RIG_IMAPS_PORT" : "QR_RIG_IMAP_PORT");
        o.ssl_cafile = env("QR_RIG_CAFILE");
        o.username = env("QR_RIG_USER");
        o.password = env("QR_RIG_PASSWORD");
    }
    o.compress = 0;
    o.on_unsolicited = notify_unsolicited;
    o.log_fn = log_fn;
    o.log_level = QR_LOG_DEBUG;
    o.io_timeout_ms = 10000;
    o.connect_timeout_ms = 10000;
    rc = qr_conn_new(&conn, &o);
    if (rc == 0)
        rc = qr_conn_connect_wait(conn, WAIT_MS);
    if (rc != 0) {
        printf("# connect %s: %s\n", what, conn ? qr_conn_last_error(conn)->message : "");
        return rc;
    }
    S = qr_conn_session(conn);
    qr_loop_new(&loop);
    qr_loop_add(loop, conn);
    return 0;
}

/* Run until ndone reaches target. */
static int wait_done(size_t target)
{
    int rc = qr_loop_run_count(loop, &ndone, target, WAIT_MS);

    if (rc != 0)
        printf("# wait: %s\n", qr_strerror(rc));
    return rc;
}

static void disconnect(void)
{
    qr_loop_free(loop);
    loop = NULL;
    CHECK_INT_EQ(qr_conn_close_wait(conn, WAIT_MS), 0);
    qr_conn_free(conn);
    conn = NULL;
}

static char *name(const char *suffix)
{
    static char buf[8][128];
    static int i;

    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s%s", prefix, suffix);
    return buf[i];
}

/* --- plain completions ------------------------------------------------------ */

static int last_status;
static qr_code_kind last_code;
static char last_code_name[64];

static int plain_done(qr_session *s, const qr_session_result *r, void *payload)
{
    (void)s;
    (void)payload;
    last_status = r->status;
    last_code = r->code != NULL ? r->code->kind : QR_CODE_NONE;
    snprintf(last_code_name, sizeof(last_code_name), "%s",
             r->code != NULL && r->code->name.ptr != NULL ? r->code->name.ptr : "");
    if (r->status != 0)
        printf("# %s: %s\n", r->tag ? r->tag : "-", r->text);
    ndone++;
    return 0;
}

/* Run one plain command and return its status. */
#define RUN_PLAIN(call) ((call) == 0 && wait_done(ndone + 1) == 0 ? last_status : -999)

/* --- ENABLE ------------------------------------------------------------------- */

static char enabled[256];

static int enable_done(qr_session *s, const qr_session_result *r, const char *const *names,
                       size_t n, void *payload)
{
    size_t i;

    (void)s;
    (void)payload;
    enabled[0] = '\0';
    for (i = 0; i < n; i++) {
        strcat(enabled, names[i]);
        strcat(enabled, i + 1 < n ? " " : "");
    }
    last_status = r->status;
    ndone++;
    return 0;
}

/* --- APPEND ------------------------------------------------------------------- */

static uint32_t app_uidvalidity;
static uint32_t app_uids[8];
static size_t app_n;
static uint32_t box_uidvalidity; /* UIDVALIDITY of Box */

static int append_done(qr_session *s, const qr_session_result *r, uint32_t uidvalidity,
                       const uint32_t *uids, size_t n, void *payload)
{
    (void)s;
    (void)payload;
    last_status = r->status;
    last_code = r->code != NULL ? r->code->kind : QR_CODE_NONE;
    app_uidvalidity = uidvalidity;
    app_n = n;
    memcpy(app_uids, uids, (n < 8 ? n : 8) * sizeof(*uids));
    ndone++;
    return 0;
}

static const char *const bodies[4] = {
    "From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n",
    "From: b@example.org\r\nSubject: two\r\n\r\nsecond\r\n",
    "From: c@example.org\r\nSubject: three\r\n\r\nthird body, longer\r\n",
    "From: d@example.org\r\nSubject: four\r\n\r\n4\r\n",
};

/* A body source for streamed literals: bytes of a string. */
typedef struct src {
    const char *p; /* the rest */
    size_t left;   /* bytes left */
} src;

static int src_read(void *buf, size_t cap, size_t *got, void *payload)
{
    src *sr = payload;
    size_t n = sr->left < cap ? sr->left : cap;

    memcpy(buf, sr->p, n);
    sr->p += n;
    sr->left -= n;
    *got = n;
    return 0;
}

static void test_append(void)
{
    static const char *const seen[] = {"\\Seen", "$Label1", "\\Recent"};
    qr_imap_append_msg m[3];
    src sr = {bodies[3], 0};
    size_t i;

    memset(m, 0, sizeof(m));
    m[0].data = bodies[0];
    m[0].len = strlen(bodies[0]);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_append(S, name("Box"), m, 1, 0, append_done, NULL)), 0);
    CHECK_UINT_EQ(app_n, 1);
    CHECK_UINT_EQ(app_uids[0], 1);
    CHECK(app_uidvalidity != 0);
    box_uidvalidity = app_uidvalidity;
    CHECK(qr_session_has_cap(S, QR_CAP_MULTIAPPEND));
    for (i = 0; i < 3; i++) {
        m[i].flags = i == 0 ? seen : NULL;
        m[i].nflags = i == 0 ? 3 : 0;
        m[i].has_date = 1;
        m[i].date = 1577934245 + (time_t)i; /* 2020-01-02T03:04:05Z */
        m[i].tz_minutes = 60;
        m[i].data = bodies[i + 1];
        m[i].len = strlen(bodies[i + 1]);
    }
    sr.left = strlen(bodies[3]);
    m[2].data = NULL;
    m[2].len = 0;
    m[2].read = src_read;
    m[2].read_payload = &sr;
    m[2].size = sr.left;
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_append(S, name("Box"), m, 3, 0, append_done, NULL)), 0);
    CHECK_UINT_EQ(app_n, 3);
    CHECK_UINT_EQ(app_uids[0], 2);
    CHECK_UINT_EQ(app_uids[1], 3);
    CHECK_UINT_EQ(app_uids[2], 4);
    /* one APPEND per message, pipelined */
    m[0] = m[1];
    CHECK_INT_EQ(
        RUN_PLAIN(qr_imap_append(S, name("Other"), m, 2, QR_APPEND_NO_MULTI, append_done, NULL)),
        0);
    CHECK_UINT_EQ(app_uids[0], 1);
    CHECK_UINT_EQ(app_uids[1], 2);
    /* a missing mailbox: NO [TRYCREATE] */
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_append(S, name("Missing"), m, 1, 0, append_done, NULL)), QR_ENO);
    CHECK_INT_EQ(last_code, QR_CODE_TRYCREATE);
}

/* --- LIST and STATUS ---------------------------------------------------------- */

typedef struct seen_box {
    char name[128];       /* decoded */
    char raw[128];        /* raw */
    int delimiter;        /* delimiter */
    unsigned int attrs;   /* QR_MBOX_ATTR_* */
    qr_mailbox_status st; /* status */
} seen_box;

static seen_box boxes[32];
static size_t nboxes;

static int list_done(qr_session *s, const qr_session_result *r, const qr_imap_mailbox *mb, size_t n,
                     void *payload)
{
    size_t i;

    (void)s;
    (void)payload;
    last_status = r->status;
    nboxes = 0;
    for (i = 0; i < n && i < 32; i++) {
        snprintf(boxes[i].name, sizeof(boxes[i].name), "%s", mb[i].name);
        snprintf(boxes[i].raw, sizeof(boxes[i].raw), "%s", mb[i].raw);
        boxes[i].delimiter = mb[i].delimiter;
        boxes[i].attrs = mb[i].attrs;
        boxes[i].st = mb[i].status;
        nboxes++;
    }
    ndone++;
    return 0;
}

static const seen_box *find_box(const char *nm)
{
    size_t i;

    for (i = 0; i < nboxes; i++)
        if (strcmp(boxes[i].name, nm) == 0)
            return &boxes[i];
    return NULL;
}

static int list_prefix(unsigned int ret, unsigned int items, unsigned int flags)
{
    qr_imap_list_options o = QR_IMAP_LIST_OPTIONS_INIT;
    const char *pat = name("*");

    o.patterns = &pat;
    o.npatterns = 1;
    o.ret = ret;
    o.status_items = items;
    o.flags = flags;
    return RUN_PLAIN(qr_imap_list(S, &o, list_done, NULL));
}

static qr_mailbox_status st1;

static int status_done(qr_session *s, const qr_session_result *r, const qr_mailbox_status *st,
                       void *payload)
{
    (void)s;
    (void)payload;
    last_status = r->status;
    st1 = *st;
    ndone++;
    return 0;
}

/* LIST the scenario's mailboxes with STATUS; check Box's values. */
static void check_list(unsigned int flags, uint64_t hms)
{
    const unsigned int items =
        QR_STATUS_MESSAGES | QR_STATUS_UIDNEXT | QR_STATUS_UIDVALIDITY | QR_STATUS_HIGHESTMODSEQ;
    const seen_box *b;

    CHECK_INT_EQ(list_prefix(QR_LIST_RET_SUBSCRIBED | QR_LIST_RET_CHILDREN, items, flags), 0);
    CHECK_UINT_EQ(nboxes, 3);
    b = find_box(name("Box"));
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK_INT_EQ(b->delimiter, '/');
    CHECK_UINT_EQ(b->attrs & (QR_MBOX_ATTR_SUBSCRIBED | QR_MBOX_ATTR_HASCHILDREN),
                  QR_MBOX_ATTR_SUBSCRIBED | QR_MBOX_ATTR_HASCHILDREN);
    CHECK_UINT_EQ(b->st.present, items);
    CHECK_UINT_EQ(b->st.messages, 4);
    CHECK_UINT_EQ(b->st.uidnext, 5);
    CHECK_UINT_EQ(b->st.uidvalidity, box_uidvalidity);
    CHECK(b->st.highestmodseq == hms);
    b = find_box(name("Box/Sub"));
    CHECK(b != NULL && b->st.messages == 0 && b->st.uidnext == 1 &&
          b->attrs == (QR_MBOX_ATTR_HASNOCHILDREN));
    b = find_box(name("Other"));
    CHECK(b != NULL && b->st.messages == 2 && b->st.uidnext == 3);
}

static void test_list_status(int fallback_only)
{
    const unsigned int items =
        QR_STATUS_MESSAGES | QR_STATUS_UIDNEXT | QR_STATUS_UIDVALIDITY | QR_STATUS_HIGHESTMODSEQ;
    uint64_t hms;

    CHECK_INT_EQ(RUN_PLAIN(qr_imap_status(S, name("Box"), items, status_done, NULL)), 0);
    CHECK_UINT_EQ(st1.present, items);
    CHECK_UINT_EQ(st1.messages, 4);
    CHECK_UINT_EQ(st1.uidnext, 5);
    CHECK_UINT_EQ(st1.uidvalidity, box_uidvalidity);
    CHECK(st1.highestmodseq > 0);
    hms = st1.highestmodseq;
    CHECK_INT_EQ(qr_session_has_cap(S, QR_CAP_LIST_STATUS), !fallback_only);
    check_list(0, hms);                      /* LIST-STATUS, or the fallback */
    check_list(QR_LIST_FORCE_FALLBACK, hms); /* always the fallback */
    if (fallback_only) {
        qr_imap_list_options o = QR_IMAP_LIST_OPTIONS_INIT;

        o.status_items = items;
        o.flags = QR_LIST_NO_FALLBACK;
        CHECK_INT_EQ(qr_imap_list(S, &o, list_done, NULL), QR_ECAPABILITY);
    }
}

/* --- SELECT ------------------------------------------------------------------- */

static qr_imap_select_result selr;
static char sel_flags[256];
static qr_uidset *vanished_earlier;
static size_t sel_fetches;

static int sel_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)s;
    (void)payload;
    if (r->kind == QR_RESP_VANISHED && r->u.vanished.earlier)
        qr_uidset_union(vanished_earlier, r->u.vanished.set);
    if (r->kind == QR_RESP_FETCH)
        sel_fetches++;
    return 0;
}

static int select_done(qr_session *s, const qr_session_result *r, const qr_imap_select_result *sel,
                       void *payload)
{
    size_t i;

    (void)s;
    (void)payload;
    last_status = r->status;
    selr = *sel;
    sel_flags[0] = '\0';
    for (i = 0; i < sel->nflags; i++) {
        strcat(sel_flags, sel->flags[i]);
        strcat(sel_flags, " ");
    }
    selr.flags = NULL;
    selr.permanentflags = NULL;
    ndone++;
    return 0;
}

/* --- FETCH -------------------------------------------------------------------- */

typedef struct fetched {
    uint32_t uid;     /* UID */
    uint64_t modseq;  /* MODSEQ */
    char flags[128];  /* flags joined */
    int64_t date;     /* internal date */
    uint64_t size;    /* RFC822.SIZE */
    char subject[64]; /* ENVELOPE subject */
    char body[256];   /* body bytes */
    size_t body_len;  /* their number */
} fetched;

static fetched fx[8];
static size_t nfx;
static char cur_body[256];
static size_t cur_len;
static uint32_t body_uid;
static qr_uidset *fetch_vanished;

static int on_fetch(qr_session *s, const qr_resp_fetch *f, void *payload)
{
    fetched *x;
    size_t i;

    (void)s;
    (void)payload;
    if (nfx >= 8)
        return 0;
    x = &fx[nfx++];
    memset(x, 0, sizeof(*x));
    x->uid = f->uid;
    x->modseq = f->modseq;
    for (i = 0; i < f->flags.count; i++) {
        strcat(x->flags, f->flags.items[i].ptr);
        strcat(x->flags, " ");
    }
    x->date = f->internaldate_time;
    x->size = f->rfc822_size;
    if (f->envelope != NULL && f->envelope->subject.ptr != NULL)
        snprintf(x->subject, sizeof(x->subject), "%s", f->envelope->subject.ptr);
    if (f->nbodies > 0 && body_uid == f->uid) {
        memcpy(x->body, cur_body, cur_len);
        x->body_len = cur_len;
    }
    return 0;
}

static int on_vanished(qr_session *s, const qr_resp_vanished *v, void *payload)
{
    (void)s;
    (void)payload;
    qr_uidset_union(fetch_vanished, v->set);
    return 0;
}

static int body_begin(qr_session *s, const qr_body_info *info, void *payload)
{
    (void)s;
    (void)payload;
    cur_len = 0;
    body_uid = info->uid;
    return 0;
}

static int body_data(qr_session *s, const char *data, size_t len, void *payload)
{
    (void)s;
    (void)payload;
    if (cur_len + len <= sizeof(cur_body)) {
        memcpy(cur_body + cur_len, data, len);
        cur_len += len;
    }
    return 0;
}

static const fetched *find_fx(uint32_t uid)
{
    size_t i;

    for (i = 0; i < nfx; i++)
        if (fx[i].uid == uid)
            return &fx[i];
    return NULL;
}

static int fetch_range(uint32_t lo, uint32_t hi, unsigned int items, uint64_t changedsince,
                       int vanished)
{
    qr_imap_fetch_options o = QR_IMAP_FETCH_OPTIONS_INIT;
    qr_uidset *set = NULL;
    int rc;

    qr_uidset_new(&set);
    qr_uidset_add_range(set, lo, hi);
    o.items = items;
    o.changedsince = changedsince;
    o.vanished = vanished;
    o.on_fetch = on_fetch;
    o.on_vanished = on_vanished;
    o.on_body_begin = body_begin;
    o.on_body_data = body_data;
    nfx = 0;
    rc = RUN_PLAIN(qr_imap_uid_fetch(S, set, &o, plain_done, NULL));
    qr_uidset_free(set);
    return rc;
}

static void test_fetch(void)
{
    const fetched *f;
    uint32_t u;

    CHECK_INT_EQ(fetch_range(1, 4, 0x3f, 0, 0), 0);
    CHECK_UINT_EQ(nfx, 4);
    for (u = 1; u <= 4; u++) {
        f = find_fx(u);
        CHECK(f != NULL);
        if (f == NULL)
            continue;
        CHECK_MEM_EQ(f->body, f->body_len, bodies[u - 1], strlen(bodies[u - 1]));
        CHECK_UINT_EQ(f->size, strlen(bodies[u - 1]));
        CHECK(f->modseq > 0);
        if (u >= 2)
            CHECK_INT_EQ((int)(f->date - 1577934245), (int)(u - 2));
    }
    f = find_fx(2);
    CHECK(f != NULL && strstr(f->flags, "\\Seen") && strstr(f->flags, "$Label1"));
    f = find_fx(3);
    CHECK(f != NULL && strcmp(f->subject, "three") == 0);
}

/* --- STORE -------------------------------------------------------------------- */

static char modified[64];
static size_t store_fetches;

static int store_fetch(qr_session *s, const qr_resp_fetch *f, void *payload)
{
    (void)s;
    (void)f;
    (void)payload;
    store_fetches++;
    return 0;
}

static int store_done(qr_session *s, const qr_session_result *r, const qr_uidset *mod,
                      void *payload)
{
    qr_buf b = QR_BUF_INIT;

    (void)s;
    (void)payload;
    last_status = r->status;
    modified[0] = '\0';
    if (mod != NULL && qr_uidset_format(mod, &b) == 0)
        snprintf(modified, sizeof(modified), "%s", b.ptr);
    qr_buf_dispose(&b);
    ndone++;
    return 0;
}

static int store_one(uint32_t uid, qr_store_mode mode, int silent, const char *flag, int unch,
                     uint64_t since)
{
    qr_imap_store_options o = QR_IMAP_STORE_OPTIONS_INIT;
    qr_uidset *set = NULL;
    int rc;

    qr_uidset_new(&set);
    qr_uidset_add(set, uid);
    o.mode = mode;
    o.silent = silent;
    o.flags = &flag;
    o.nflags = 1;
    o.use_unchangedsince = unch;
    o.unchangedsince = since;
    o.on_fetch = store_fetch;
    store_fetches = 0;
    rc = RUN_PLAIN(qr_imap_uid_store(S, set, &o, store_done, NULL));
    qr_uidset_free(set);
    return rc;
}

/* --- SEARCH ------------------------------------------------------------------- */

static char found[64];
static int found_has_modseq, found_esearch;
static uint64_t found_modseq;

static int search_done(qr_session *s, const qr_session_result *r, const qr_uidset *uids,
                       int has_modseq, uint64_t modseq, int esearch, void *payload)
{
    qr_buf b = QR_BUF_INIT;

    (void)s;
    (void)payload;
    last_status = r->status;
    found[0] = '\0';
    if (qr_uidset_count(uids) > 0 && qr_uidset_format(uids, &b) == 0)
        snprintf(found, sizeof(found), "%s", b.ptr);
    qr_buf_dispose(&b);
    found_has_modseq = has_modseq;
    found_modseq = modseq;
    found_esearch = esearch;
    ndone++;
    return 0;
}

static void test_search(uint64_t flagged_modseq)
{
    qr_imap_search_options o = QR_IMAP_SEARCH_OPTIONS_INIT;
    int e;

    for (e = 0; e < 2; e++) {
        memset(&o, 0, sizeof(o));
        o.version = QR_IMAP_SEARCH_OPTIONS_VERSION;
        o.esearch = e;
        o.since[0] = 2021, o.since[1] = 1, o.since[2] = 1;
        CHECK_INT_EQ(RUN_PLAIN(qr_imap_uid_search(S, &o, search_done, NULL)), 0);
        CHECK_STR_EQ(found, "1");
        CHECK_INT_EQ(found_esearch, e);
        o.since[0] = 0;
        o.before[0] = 2020, o.before[1] = 1, o.before[2] = 3;
        CHECK_INT_EQ(RUN_PLAIN(qr_imap_uid_search(S, &o, search_done, NULL)), 0);
        CHECK_STR_EQ(found, "2:4");
        o.before[0] = 0;
        o.modseq = flagged_modseq;
        CHECK_INT_EQ(RUN_PLAIN(qr_imap_uid_search(S, &o, search_done, NULL)), 0);
        CHECK_STR_EQ(found, "1");
        CHECK_INT_EQ(found_has_modseq, 1);
        CHECK(found_modseq == flagged_modseq);
        o.modseq = flagged_modseq + 1000;
        CHECK_INT_EQ(RUN_PLAIN(qr_imap_uid_search(S, &o, search_done, NULL)), 0);
        CHECK_STR_EQ(found, "");
    }
}

/* --- NOTIFY, raw -------------------------------------------------------------- */

static size_t notify_status_seen;
static uint32_t notify_messages;
static char notify_box[128];

static int notify_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)s;
    (void)payload;
    if (r->kind == QR_RESP_STATUS && r->u.status.mailbox.len == strlen(notify_box) &&
        memcmp(r->u.status.mailbox.ptr, notify_box, r->u.status.mailbox.len) == 0) {
        notify_status_seen++;
        notify_messages = r->u.status.messages;
    }
    return 0;
}

static int unsolicited_count_pred(void *payload)
{
    return notify_status_seen >= *(size_t *)payload;
}

static int run_cli_append(const char *target, const char *mailbox)
{
    char cmd[1024];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "python3 %s mail %s append %s >/dev/null", env("QR_RIG_CLI"), target,
             mailbox);
    p = popen(cmd, "w");
    if (p == NULL)
        return -1;
    fputs("From: x@example.org\r\nSubject: other\r\n\r\nother connection\r\n", p);
    return pclose(p);
}

static void test_notify(const char *target)
{
    qr_imap_notify_spec sp = QR_IMAP_NOTIFY_SPEC_INIT;
    const char *mb = name("Box");
    size_t want;

    if (!qr_session_has_cap(S, QR_CAP_NOTIFY)) {
        CHECK_INT_EQ(qr_imap_notify(S, NULL, NULL, plain_done, NULL), QR_ECAPABILITY);
        printf("# NOTIFY not advertised here\n");
        return;
    }
    snprintf(notify_box, sizeof(notify_box), "%s", mb);
    sp.status = 1;
    sp.selected = QR_NOTIFY_MESSAGE_NEW | QR_NOTIFY_MESSAGE_EXPUNGE | QR_NOTIFY_FLAG_CHANGE;
    sp.mailboxes = &mb;
    sp.nmailboxes = 1;
    sp.mailbox_events = sp.selected;
    notify_status_seen = 0;
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_notify(S, &sp, notify_untagged, plain_done, NULL)), 0);
    CHECK_UINT_EQ(notify_status_seen, 1); /* the initial STATUS of SET STATUS */
    CHECK_UINT_EQ(notify_messages, 4);
    want = 2;
    CHECK_INT_EQ(run_cli_append(target, mb), 0);
    CHECK_INT_EQ(qr_loop_run_until(loop, unsolicited_count_pred, &want, WAIT_MS), 0);
    CHECK_UINT_EQ(notify_messages, 5);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_notify(S, NULL, NULL, plain_done, NULL)), 0);
}

static int notify_unsolicited(qr_session *s, const qr_resp *r, void *payload)
{
    return notify_untagged(s, r, payload);
}

static size_t raw_namespaces;

static int raw_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)s;
    (void)payload;
    if (r->kind == QR_RESP_NAMESPACE && r->u.namespace_.personal.count == 1)
        raw_namespaces++;
    return 0;
}

static void test_raw(void)
{
    qr_cmd *cmd = NULL;

    raw_namespaces = 0;
    CHECK_INT_EQ(qr_cmd_new(&cmd, "NAMESPACE", 0), 0);
    CHECK_INT_EQ(
        RUN_PLAIN(qr_imap_raw(S, cmd, QR_CLAIM(QR_RESP_NAMESPACE), raw_untagged, plain_done, NULL)),
        0);
    CHECK_UINT_EQ(raw_namespaces, 1);
}

static int select_box(unsigned int flags, const qr_qresync_params *qp);

/* --- IDLE --------------------------------------------------------------------- */

static uint32_t idle_exists;

static int idle_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    (void)payload;
    if (r->kind == QR_RESP_EXISTS) {
        idle_exists = r->u.number;
        CHECK_INT_EQ(qr_imap_idle_done(s), 0);
    }
    return 0;
}

static int never(void *payload)
{
    (void)payload;
    return 0;
}

/* IDLE on Box (3 messages) sees the EXISTS of another connection's APPEND. */
static void test_idle(const char *target)
{
    size_t target_done;

    CHECK_INT_EQ(select_box(0, NULL), 0);
    CHECK_UINT_EQ(selr.exists, 3);
    idle_exists = 0;
    target_done = ndone + 1;
    CHECK_INT_EQ(qr_imap_idle(S, idle_untagged, plain_done, NULL), 0);
    CHECK_INT_EQ(qr_loop_run_until(loop, never, NULL, 500), QR_EAGAIN);
    CHECK_UINT_EQ(ndone, target_done - 1);
    CHECK_INT_EQ(run_cli_append(target, name("Box")), 0);
    CHECK_INT_EQ(wait_done(target_done), 0);
    CHECK_INT_EQ(last_status, 0);
    CHECK_UINT_EQ(idle_exists, 4);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_unselect(S, 0, plain_done, NULL)), 0);
}

/* --- the scenario ------------------------------------------------------------- */

static int select_box(unsigned int flags, const qr_qresync_params *qp)
{
    return RUN_PLAIN(qr_imap_select(S, name("Box"), flags, qp, sel_untagged, select_done, NULL));
}

static void test_mailboxes(void)
{
    static const char *const caps[] = {"QRESYNC"};

    CHECK_INT_EQ(RUN_PLAIN(qr_imap_enable(S, caps, 1, enable_done, NULL)), 0);
    CHECK_STR_EQ(enabled, "QRESYNC");
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_create(S, name("Box"), plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_create(S, name("Box/Sub"), plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_create(S, name("Other"), plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_create(S, name("Box"), plain_done, NULL)), QR_ENO);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_subscribe(S, name("Box"), 1, plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_subscribe(S, name("Other"), 1, plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_subscribe(S, name("Other"), 0, plain_done, NULL)), 0);
}

/* SELECT CONDSTORE, FETCH, STORE (UNCHANGEDSINCE), SEARCH, EXPUNGE. */
static void test_selected(void)
{
    uint64_t m1, m2;
    const fetched *f;

    CHECK_INT_EQ(select_box(QR_SELECT_CONDSTORE, NULL), 0);
    CHECK_UINT_EQ(selr.uidvalidity, box_uidvalidity);
    CHECK_UINT_EQ(selr.uidnext, 5);
    CHECK_UINT_EQ(selr.exists, 4);
    CHECK_UINT_EQ(selr.present & 0x3fu, 0x3fu);
    CHECK(selr.highestmodseq > 0 && !selr.nomodseq && !selr.read_only);
    CHECK(strstr(sel_flags, "\\Seen ") != NULL && strstr(sel_flags, "$Label1 ") != NULL);
    test_fetch();
    f = find_fx(1);
    m1 = f != NULL ? f->modseq : 0;
    CHECK_INT_EQ(store_one(1, QR_STORE_ADD, 1, "\\Flagged", 0, 0), 0);
    CHECK_STR_EQ(modified, "");
    CHECK_INT_EQ(fetch_range(1, 1, QR_FETCH_ITEM_MODSEQ | QR_FETCH_ITEM_FLAGS, 0, 0), 0);
    CHECK(nfx == 1 && fx[0].modseq > m1 && strstr(fx[0].flags, "\\Flagged") != NULL);
    m2 = fx[0].modseq;
    /* a stale modseq: MODIFIED 1, nothing changed */
    CHECK_INT_EQ(store_one(1, QR_STORE_ADD, 0, "\\Answered", 1, m1), 0);
    CHECK_STR_EQ(modified, "1");
    CHECK_INT_EQ(fetch_range(1, 1, QR_FETCH_ITEM_MODSEQ | QR_FETCH_ITEM_FLAGS, 0, 0), 0);
    CHECK(nfx == 1 && fx[0].modseq == m2 && strstr(fx[0].flags, "\\Answered") == NULL);
    test_search(m2);
    /* a current modseq: the store happens and its FETCH comes back */
    CHECK_INT_EQ(store_one(2, QR_STORE_REMOVE, 0, "$Label1", 1, m2 + 100), 0);
    CHECK_STR_EQ(modified, "");
    CHECK_UINT_EQ(store_fetches, 1);
    CHECK_INT_EQ(store_one(4, QR_STORE_SET, 0, "\\Draft", 0, 0), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_unselect(S, 0, plain_done, NULL)), 0);
}

static qr_session_untagged_fn expunge_seen_fn;
static char expunged[64];

static int expunge_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    qr_buf b = QR_BUF_INIT;

    (void)s;
    (void)payload;
    if (r->kind == QR_RESP_VANISHED && qr_uidset_format(r->u.vanished.set, &b) == 0)
        snprintf(expunged, sizeof(expunged), "%s", b.ptr);
    qr_buf_dispose(&b);
    return 0;
}

/* UID EXPUNGE, then SELECT QRESYNC and FETCH CHANGEDSINCE VANISHED. */
static void test_qresync(void)
{
    qr_qresync_params qp;
    qr_uidset *set = NULL;
    uint64_t hm_b;
    qr_buf b = QR_BUF_INIT;

    CHECK_INT_EQ(
        RUN_PLAIN(qr_imap_status(S, name("Box"), QR_STATUS_HIGHESTMODSEQ, status_done, NULL)), 0);
    hm_b = st1.highestmodseq;
    CHECK_INT_EQ(select_box(0, NULL), 0);
    CHECK_INT_EQ(store_one(3, QR_STORE_ADD, 1, "\\Deleted", 0, 0), 0);
    qr_uidset_new(&set);
    qr_uidset_add(set, 3);
    expunged[0] = '\0';
    expunge_seen_fn = expunge_untagged;
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_uid_expunge(S, set, expunge_seen_fn, plain_done, NULL)), 0);
    CHECK_STR_EQ(expunged, "3");
    qr_uidset_free(set);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_unselect(S, 1, plain_done, NULL)), 0); /* CLOSE */
    memset(&qp, 0, sizeof(qp));
    qp.use_qresync = 1;
    qp.uidvalidity = box_uidvalidity;
    qp.modseq = hm_b;
    qp.known_last = 4;
    qr_uidset_new(&vanished_earlier);
    sel_fetches = 0;
    CHECK_INT_EQ(select_box(0, &qp), 0);
    CHECK_INT_EQ(qr_uidset_format(vanished_earlier, &b), 0);
    CHECK_STR_EQ(b.ptr != NULL ? b.ptr : "", "3");
    qr_buf_dispose(&b);
    qr_uidset_free(vanished_earlier);
    vanished_earlier = NULL;
    CHECK_UINT_EQ(sel_fetches, 0);
    CHECK_UINT_EQ(selr.exists, 3);
    CHECK(selr.highestmodseq > hm_b);
    qr_uidset_new(&fetch_vanished);
    CHECK_INT_EQ(fetch_range(1, 4, QR_FETCH_ITEM_FLAGS, hm_b, 1), 0);
    CHECK_UINT_EQ(nfx, 0);
    CHECK_INT_EQ(qr_uidset_format(fetch_vanished, &b), 0);
    CHECK_STR_EQ(b.ptr != NULL ? b.ptr : "", "3");
    qr_buf_dispose(&b);
    qr_uidset_free(fetch_vanished);
    fetch_vanished = NULL;
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_unselect(S, 0, plain_done, NULL)), 0);
    CHECK_INT_EQ(select_box(QR_SELECT_EXAMINE, NULL), 0);
    CHECK_INT_EQ(selr.read_only, 1);
    CHECK_UINT_EQ(selr.exists, 3);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_unselect(S, 0, plain_done, NULL)), 0);
}

static void test_rename_delete_utf8(void)
{
    const seen_box *b;
    char raw[128];

    CHECK_INT_EQ(RUN_PLAIN(qr_imap_rename(S, name("Box/Sub"), name("Box/Sub2"), plain_done, NULL)),
                 0);
    CHECK_INT_EQ(list_prefix(QR_LIST_RET_SUBSCRIBED, 0, 0), 0);
    CHECK(find_box(name("Box/Sub2")) != NULL && find_box(name("Box/Sub")) == NULL);
    b = find_box(name("Box"));
    CHECK(b != NULL && (b->attrs & QR_MBOX_ATTR_SUBSCRIBED));
    b = find_box(name("Other"));
    CHECK(b != NULL && !(b->attrs & QR_MBOX_ATTR_SUBSCRIBED));
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_delete(S, name("Box/Sub2"), plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_delete(S, name("Box/Sub2"), plain_done, NULL)), QR_ENO);
    CHECK_INT_EQ(last_code, QR_CODE_OTHER);
    CHECK_STR_EQ(last_code_name, "NONEXISTENT");
    CHECK_INT_EQ(RUN_PLAIN(qr_imap_create(S, name("Caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac"),
                                          plain_done, NULL)),
                 0);
    CHECK_INT_EQ(list_prefix(0, 0, 0), 0);
    CHECK(find_box(name("Box/Sub2")) == NULL);
    b = find_box(name("Caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac"));
    snprintf(raw, sizeof(raw), "%sCaf&AOk-/&ZeVnLA-", prefix);
    CHECK(b != NULL);
    if (b != NULL)
        CHECK_STR_EQ(b->raw, raw);
    CHECK(find_box(name("Caf\xc3\xa9")) != NULL);
}

static void scenario(const char *what, const char *target, int fallback_only)
{
    printf("# scenario %s\n", what);
    snprintf(prefix, sizeof(prefix), "T-%s-", what);
    if (connect_to(what) != 0) {
        CHECK(0);
        return;
    }
    test_mailboxes();
    test_append();
    test_list_status(fallback_only);
    test_selected();
    test_qresync();
    test_idle(target);
    test_notify(target);
    test_raw();
    test_rename_delete_utf8();
    CHECK_INT_EQ(RUN_PLAIN(qr_session_noop(S, plain_done, NULL)), 0);
    CHECK_INT_EQ(RUN_PLAIN(qr_session_logout(S, plain_done, NULL)), 0);
    disconnect();
}

static void test_imaps(void)
{
    scenario("imaps", env("QR_RIG_USER"), 0);
}

static void test_starttls(void)
{
    scenario("imap", env("QR_RIG_USER"), 0);
}

static void test_store(void)
{
    scenario("store", "store0", 0);
}

static void test_store_fallback(void)
{
    scenario("store", "store0", 1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fallback") == 0) {
        TAP_RUN(test_store_fallback);
        return tap_done();
    }
    TAP_RUN(test_imaps);
    TAP_RUN(test_starttls);
    TAP_RUN(test_store);
    return tap_done();
}
