/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pull-dovecot: the one-way pull engine (include/qresync/pull.h) against
 * the rig's Dovecot tunnel store, through the public API only (suite
 * dovecot). Run as `rig.py run --stores 1 --skip-exit 0 -- pull-dovecot`;
 * with the argument `noesearch` (and `--drop-capability ESEARCH`) only the
 * purge cases run, and check the SEARCH form used without ESEARCH.
 *
 * Each case uses its own mailbox and state file. Messages go into the
 * store with `rig.py mail store0 append` (dates given, so INTERNALDATE is
 * known); the deliver callback keeps what it gets and the test compares it
 * with the store's bytes (`rig.py mail store0 body`), the state file byte
 * for byte, \Seen through `UID SEARCH UNSEEN` on a connection of its own,
 * and the command texts through the connection's wire log.
 *
 * Covers: the first pull (bytes, senders, dates, 8-bit flag, log lines,
 * \Seen, the file), an incremental pull, a crash in the middle (a hard
 * delivery error: the delivered UIDs stay in the file and are skipped
 * next time), a temporary failure and its retry, purge with and without
 * ESEARCH, purge-after 0, --no-delivery, IDLE delivering a new message
 * within a second and a cancel during IDLE, a UIDVALIDITY change refused,
 * 20 MiB and 1 GiB messages through the spill file with flat memory, and
 * the Perl reference (/usr/bin/pullimap) reading our file, us reading its
 * file, and the lock excluding it.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <qresync/qresync.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

#define WAIT_MS 120000

#if defined(__SANITIZE_ADDRESS__)
#define QR_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QR_TEST_ASAN 1
#endif
#endif
#ifndef QR_TEST_ASAN
#define QR_TEST_ASAN 0
#endif

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "";
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the rig --------------------------------------------------------------- */

/* Run a shell command; the number after `key` (or on the first line). */
static long run_number(const char *cmd, const char *key)
{
    char line[1024];
    long v = -1;
    FILE *p = popen(cmd, "r");

    if (p == NULL)
        return -1;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *k = key != NULL ? strstr(line, key) : line;

        if (k != NULL && v < 0)
            v = strtol(k + (key != NULL ? strlen(key) : 0), NULL, 10);
    }
    if (pclose(p) != 0)
        return -1;
    return v;
}

static int run_rc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run_rc(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void rig_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", env("QR_RIG_DIR"), name);
}

static int create_mailbox(const char *mbox)
{
    return run_rc("'%s' mail store0 create '%s'", env("QR_RIG_CLI"), mbox);
}

/* A small message; `extra` headers (CRLF-terminated) go first. */
static int write_small(const char *path, const char *extra, const char *subject, const char *body)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    fprintf(f, "%sSubject: %s\r\nMessage-ID: <%s@pull.test>\r\n\r\n%s", extra, subject, subject,
            body);
    return fclose(f);
}

static long append_file(const char *mbox, const char *file, const char *date)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "'%s' mail store0 append '%s' '%s' --date '%s'", env("QR_RIG_CLI"),
             mbox, file, date);
    return run_number(cmd, NULL);
}

/* Append a small message from `From: <a@b.c>`; its UID. */
static long append_simple(const char *mbox, const char *subject, const char *date)
{
    char file[1024];

    rig_path(file, sizeof(file), "msg.eml");
    if (write_small(file, "From: <a@b.c>\r\n", subject, "body\r\n") != 0)
        return -1;
    return append_file(mbox, file, date);
}

static long mailbox_status(const char *mbox, const char *item)
{
    char cmd[1024], key[64];

    snprintf(cmd, sizeof(cmd), "'%s' mail store0 status '%s'", env("QR_RIG_CLI"), mbox);
    snprintf(key, sizeof(key), "\"%s\": ", item);
    return run_number(cmd, key);
}

/* The store's bytes of a message (malloc'd), length in *len. */
static char *store_body(const char *mbox, uint32_t uid, size_t *len)
{
    char cmd[1024];
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' mail store0 body '%s' %u", env("QR_RIG_CLI"), mbox,
             (unsigned)uid);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

            if (nb == NULL)
                break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, p);

        if (got == 0)
            break;
        n += got;
    }
    pclose(p);
    *len = n;
    return buf;
}

/* --- the state file ------------------------------------------------------- */

static void state_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/state-%s", env("QR_RIG_DIR"), name);
}

/* The file as numbers: count, or -1. */
static int state_read(const char *path, uint32_t *v, int cap)
{
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    int n = 0;

    if (f == NULL)
        return -1;
    while (fread(b, 1, 4, f) == 4) {
        if (n < cap)
            v[n] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        n++;
    }
    fclose(f);
    return n;
}

static void state_write(const char *path, const uint32_t *v, int n)
{
    FILE *f = fopen(path, "wb");
    int i;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    for (i = 0; i < n; i++) {
        unsigned char b[4] = {(unsigned char)(v[i] >> 24), (unsigned char)(v[i] >> 16),
                              (unsigned char)(v[i] >> 8), (unsigned char)v[i]};

        fwrite(b, 1, 4, f);
    }
    fclose(f);
}

/* Check the file holds exactly the n numbers of want. */
static void check_state(const char *path, const uint32_t *want, int n)
{
    uint32_t v[64];
    int got = state_read(path, v, 64), i;

    CHECK_INT_EQ(got, n);
    for (i = 0; i < n && i < got; i++)
        CHECK_UINT_EQ(v[i], want[i]);
}

/* --- a pull and what its callbacks saw ------------------------------------- */

#define MAXMSG 32
#define MAXLOG 256

typedef struct got_msg {
    uint32_t uid;
    char sender[256], date[64];
    char *bytes; /* kept when the run keeps bytes */
    uint64_t size, read;
    uint64_t fnv; /* FNV-1a 64 of the bytes read */
    int eightbit;
    int spilled; /* a spill file was open during the delivery */
    double when;
} got_msg;

typedef struct run {
    qr_conn *c;
    qr_pull *p;
    got_msg m[MAXMSG];
    int n;
    uint32_t defer[8]; /* answer QR_EAGAIN for these UIDs */
    int ndefer;
    uint32_t fail_uid; /* answer QR_EUSER for this UID */
    int keep_bytes;
    int sleep_ms;          /* each delivery takes this long */
    const char *spill_dir; /* look for an open spill file there */
    int ends;
    char *log[MAXLOG]; /* pull log lines, "L S text": level, selected (1/0) */
    int nlog;
    char *wire[MAXLOG]; /* C: lines without the tag */
    int nwire;
} run;

static uint64_t fnv_update(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV_INIT 14695981039346656037ull

static int fds_into(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char path[600], target[1024];
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strncmp(target, dir, strlen(dir)) == 0 && target[strlen(dir)] == '/')
            n++;
    }
    closedir(d);
    return n;
}

static int deliver(const qr_pull_message *m, void *payload)
{
    run *r = payload;
    got_msg *g;
    char buf[65536];
    int i;

    for (i = 0; i < r->ndefer; i++)
        if (r->defer[i] == m->uid)
            return QR_EAGAIN;
    if (m->uid == r->fail_uid)
        return QR_EUSER;
    if (r->n >= MAXMSG)
        return QR_ERROR;
    g = &r->m[r->n++];
    memset(g, 0, sizeof(*g));
    g->uid = m->uid;
    snprintf(g->sender, sizeof(g->sender), "%s", m->sender);
    snprintf(g->date, sizeof(g->date), "%s", m->internaldate);
    g->size = m->size;
    g->eightbit = m->eightbit;
    g->fnv = FNV_INIT;
    g->spilled = r->spill_dir != NULL && fds_into(r->spill_dir) > 0;
    if (r->keep_bytes)
        g->bytes = malloc(m->size + 1);
    for (;;) {
        size_t got = 0;
        int rc = m->read(buf, sizeof(buf), &got, m->read_payload);

        if (rc != 0)
            return rc;
        if (got == 0)
            break;
        if (g->bytes != NULL)
            memcpy(g->bytes + g->read, buf, got);
        g->fnv = fnv_update(g->fnv, buf, got);
        g->read += got;
    }
    if (r->sleep_ms > 0)
        usleep((useconds_t)r->sleep_ms * 1000);
    g->when = now_s();
    return 0;
}

static int end_cb(void *payload)
{
    ((run *)payload)->ends++;
    return 0;
}

static void pull_log(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                     void *payload)
{
    run *r = payload;
    char *line;

    (void)cat;
    if (r->nlog >= MAXLOG || (line = malloc(len + 8)) == NULL)
        return;
    snprintf(line, len + 8, "%d %d %s", (int)level, qr_pull_selected(r->p) != NULL, text);
    r->log[r->nlog++] = line;
}

static void conn_log(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                     void *payload)
{
    run *r = payload;
    const char *sp;

    (void)level;
    if (cat != QR_LOG_WIRE_OUT || len < 3 || strncmp(text, "C: ", 3) != 0 || r->nwire >= MAXLOG)
        return;
    sp = strchr(text + 3, ' '); /* after the tag */
    r->wire[r->nwire++] = strdup(sp != NULL ? sp + 1 : text + 3);
}

static int has_log(const run *r, const char *line)
{
    int i;

    for (i = 0; i < r->nlog; i++)
        if (strcmp(r->log[i], line) == 0)
            return 1;
    return 0;
}

static int has_wire(const run *r, const char *line)
{
    int i;

    for (i = 0; i < r->nwire; i++)
        if (strcmp(r->wire[i], line) == 0)
            return 1;
    return 0;
}

static void dump_logs(const run *r)
{
    int i;

    for (i = 0; i < r->nlog; i++)
        printf("#   log: %s\n", r->log[i]);
    for (i = 0; i < r->nwire; i++)
        printf("#   C: %s\n", r->wire[i]);
}

static int io_timeout_ms = 60000; /* of the next connections */

static qr_conn *open_conn(run *r)
{
    qr_conn_options o;
    qr_conn *c = NULL;

    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.type = QR_CONN_TUNNEL;
    o.command = env("QR_RIG_STORE0_COMMAND");
    o.null_stderr = 1;
    o.io_timeout_ms = io_timeout_ms;
    o.log_fn = conn_log;
    o.log_payload = r;
    o.log_level = QR_LOG_DEBUG;
    if (qr_conn_new(&c, &o) != 0)
        return NULL;
    return c;
}

/* A pull of mailbox `mbox` with its state file; nothing run yet. */
static int run_open(run *r, const char *mbox, unsigned flags, int purge, unsigned long days)
{
    qr_pull_options o;
    char path[1024];
    int rc;

    memset(r, 0, sizeof(*r));
    r->keep_bytes = 1;
    state_path(path, sizeof(path), mbox);
    qr_pull_options_init(&o, QR_PULL_OPTIONS_VERSION);
    o.flags = flags;
    o.statefile = path;
    o.mailbox = mbox;
    o.purge = purge;
    o.purge_after = days;
    o.deliver = (flags & QR_PULL_NO_DELIVERY) ? NULL : deliver;
    o.end = end_cb;
    o.payload = r;
    o.log_fn = pull_log;
    o.log_payload = r;
    o.log_level = QR_LOG_DEBUG;
    if ((rc = qr_pull_new(&r->p, &o)) != 0)
        return rc;
    if ((rc = qr_pull_open(r->p)) != 0)
        return rc;
    r->c = open_conn(r);
    if (r->c == NULL)
        return QR_ENOMEM;
    return qr_pull_attach(r->p, r->c);
}

static void run_close(run *r)
{
    int i;

    qr_pull_free(r->p);
    qr_conn_free(r->c);
    for (i = 0; i < r->n; i++)
        free(r->m[i].bytes);
    for (i = 0; i < r->nlog; i++)
        free(r->log[i]);
    for (i = 0; i < r->nwire; i++)
        free(r->wire[i]);
    memset(r, 0, sizeof(*r));
}

/* Open, run once, log out; the run's code. */
static int run_once(run *r, const char *mbox, unsigned flags, int purge, unsigned long days)
{
    int rc = run_open(r, mbox, flags, purge, days);

    if (rc == 0)
        rc = qr_pull_run(r->p);
    if (rc == 0)
        rc = qr_pull_logout(r->p);
    if (rc != 0) {
        printf("# run on %s: %d %s\n", mbox, rc,
               r->p != NULL ? qr_pull_last_error(r->p)->message : "");
        dump_logs(r);
    }
    return rc;
}

/* --- \Seen, through a connection of our own ------------------------------- */

typedef struct seen_q {
    int done, status;
    char uids[256];
} seen_q;

static int seen_untagged(qr_session *s, const qr_resp *resp, void *payload)
{
    seen_q *q = payload;
    size_t i;

    (void)s;
    if (resp->kind == QR_RESP_SEARCH)
        for (i = 0; i < resp->u.search.count; i++) {
            size_t l = strlen(q->uids);

            snprintf(q->uids + l, sizeof(q->uids) - l, "%s%u", l ? "," : "",
                     (unsigned)resp->u.search.numbers[i]);
        }
    return 0;
}

static int seen_done(qr_session *s, const qr_session_result *res, void *payload)
{
    seen_q *q = payload;

    (void)s;
    q->done++;
    if (res->status != 0)
        q->status = res->status;
    return 0;
}

static int seen_pred(void *payload)
{
    return ((seen_q *)payload)->done >= 2;
}

/* The UIDs without \Seen, as "1,3" ("" for none, "?" on failure). */
static void unseen(const char *mbox, char *out, size_t cap)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    qr_loop *loop = NULL;
    qr_cmd *cmd = NULL;
    seen_q q;

    memset(&q, 0, sizeof(q));
    snprintf(out, cap, "?");
    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.type = QR_CONN_TUNNEL;
    o.command = env("QR_RIG_STORE0_COMMAND");
    o.null_stderr = 1;
    if (qr_conn_new(&c, &o) != 0 || qr_loop_new(&loop) != 0 || qr_loop_add(loop, c) != 0)
        goto out;
    qr_cmd_new(&cmd, "EXAMINE", 0);
    qr_cmd_add_astring(cmd, mbox, strlen(mbox));
    if (qr_imap_raw(qr_conn_session(c), cmd, QR_CLAIM_AUTO, NULL, seen_done, &q) != 0)
        goto out;
    qr_cmd_new(&cmd, "UID SEARCH", 0);
    qr_cmd_add_raw(cmd, "UNSEEN");
    if (qr_imap_raw(qr_conn_session(c), cmd, QR_CLAIM(QR_RESP_SEARCH), seen_untagged, seen_done,
                    &q) != 0)
        goto out;
    if (qr_loop_run_until(loop, seen_pred, &q, WAIT_MS) == 0 && q.status == 0)
        snprintf(out, cap, "%s", q.uids);
out:
    qr_loop_free(loop);
    qr_conn_free(c);
}

static void check_unseen(const char *mbox, const char *want)
{
    char got[256];

    unseen(mbox, got, sizeof(got));
    CHECK_STR_EQ(got, want);
}

/* --- cases -------------------------------------------------------------------- */

static const char *date1 = "02-Jan-2020 03:04:05 +0000";

static void test_first_pull(void)
{
    char file[1024], path[1024], line[512];
    uint32_t want[2];
    long uv;
    run r;
    int i;

    CHECK_INT_EQ(create_mailbox("first"), 0);
    rig_path(file, sizeof(file), "m.eml");
    write_small(file, "From: \"A\" <some.one@example.org>\r\n", "m1", "body 1\r\n.dot\r\n");
    CHECK_INT_EQ(append_file("first", file, "2020-01-02T03:04:05Z"), 1);
    write_small(file, "From: <x@y.z>\r\nSender: we ird <\"we ird\"@ex.org>\r\n", "m2",
                "caf\xc3\xa9\r\n");
    CHECK_INT_EQ(append_file("first", file, "2020-01-02T03:04:05Z"), 2);
    write_small(file, "From: <j\xc3\xb6rg@ex.org>\r\n", "m3", "no final CRLF");
    CHECK_INT_EQ(append_file("first", file, "2020-01-02T03:04:05Z"), 3);
    uv = mailbox_status("first", "UIDVALIDITY");
    CHECK(uv > 0);

    CHECK_INT_EQ(run_once(&r, "first", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 3);
    for (i = 0; i < r.n && i < 3; i++) {
        size_t len = 0;
        char *b = store_body("first", (uint32_t)(i + 1), &len);

        CHECK_UINT_EQ(r.m[i].uid, i + 1);
        CHECK_STR_EQ(r.m[i].date, date1);
        CHECK_UINT_EQ(r.m[i].size, len);
        CHECK_UINT_EQ(r.m[i].read, len);
        CHECK(b != NULL && r.m[i].bytes != NULL);
        if (b != NULL && r.m[i].bytes != NULL)
            CHECK_MEM_EQ(r.m[i].bytes, r.m[i].read, b, len);
        free(b);
    }
    CHECK_STR_EQ(r.m[0].sender, "some.one@example.org");
    CHECK_STR_EQ(r.m[1].sender, "\"we ird\"@ex.org");
    CHECK_STR_EQ(r.m[2].sender, ""); /* 8-bit local part */
    CHECK_INT_EQ(r.m[0].eightbit, 0);
    CHECK_INT_EQ(r.m[1].eightbit, 1);
    CHECK_INT_EQ(r.ends, 1);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->delivered, 3);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->delivered_bytes, r.m[0].size + r.m[1].size + r.m[2].size);
    CHECK(has_log(&r, "3 0 Update last clean state for first: ()"));
    snprintf(line, sizeof(line),
             "3 1 Update last clean state for first: (UIDVALIDITY %ld UIDNEXT 4)", uv);
    CHECK(has_log(&r, line));
    CHECK(has_log(&r, "2 1 UID 1 from <some.one@example.org> (02-Jan-2020 03:04:05 +0000)"));
    CHECK(has_log(&r, "2 1 UID 2 from <\"we ird\"@ex.org> (02-Jan-2020 03:04:05 +0000)"));
    CHECK(has_log(&r, "2 1 UID 3 from <> (02-Jan-2020 03:04:05 +0000)"));
    CHECK(has_wire(&r, "SELECT first"));
    CHECK(has_wire(&r, "UID FETCH 1:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    CHECK(has_wire(&r, "UID STORE 1:3 +FLAGS.SILENT (\\Seen)"));
    CHECK(has_wire(&r, "LOGOUT"));
    CHECK(qr_pull_selected(r.p) == NULL); /* logged out */
    run_close(&r);
    state_path(path, sizeof(path), "first");
    want[0] = (uint32_t)uv;
    want[1] = 4;
    check_state(path, want, 2);
    check_unseen("first", "");
}

static void test_incremental_pull(void)
{
    char path[1024];
    uint32_t want[2];
    run r;

    CHECK_INT_EQ(append_simple("first", "m4", "2020-01-02T03:04:05Z"), 4);
    CHECK_INT_EQ(append_simple("first", "m5", "2020-01-02T03:04:05Z"), 5);
    CHECK_INT_EQ(run_once(&r, "first", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 2);
    CHECK_UINT_EQ(r.m[0].uid, 4);
    CHECK_UINT_EQ(r.m[1].uid, 5);
    CHECK_STR_EQ(r.m[0].sender, "a@b.c");
    CHECK(has_wire(&r, "UID FETCH 4:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    CHECK(has_wire(&r, "UID STORE 4:5 +FLAGS.SILENT (\\Seen)"));
    run_close(&r);
    /* nothing new: a FETCH is not even sent, the file stays */
    CHECK_INT_EQ(run_once(&r, "first", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 0);
    CHECK_INT_EQ(r.ends, 1);
    CHECK(!has_wire(&r, "UID FETCH 6:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    run_close(&r);
    state_path(path, sizeof(path), "first");
    want[0] = (uint32_t)mailbox_status("first", "UIDVALIDITY");
    want[1] = 6;
    check_state(path, want, 2);
    check_unseen("first", "");
}

/* A hard delivery error at UID 3 ends the run like the reference's die:
 * UIDs 1 and 2 stay listed in the file, nothing is \Seen; the next run
 * skips them, marks them \Seen with the new ones. */
static void test_crash_then_ignore_list(void)
{
    char path[1024];
    uint32_t want[4];
    int i;
    run r;

    CHECK_INT_EQ(create_mailbox("crash"), 0);
    for (i = 1; i <= 4; i++)
        CHECK_INT_EQ(append_simple("crash", "c", "2020-01-02T03:04:05Z"), i);
    want[0] = (uint32_t)mailbox_status("crash", "UIDVALIDITY");
    CHECK_INT_EQ(run_open(&r, "crash", 0, 0, 0), 0);
    r.fail_uid = 3;
    CHECK_INT_EQ(qr_pull_run(r.p), QR_EUSER);
    CHECK_INT_EQ(r.n, 2);
    CHECK_INT_EQ(r.ends, 0);
    CHECK_INT_EQ(qr_pull_last_error(r.p)->code, QR_EUSER);
    run_close(&r);
    state_path(path, sizeof(path), "crash");
    want[1] = 1;
    want[2] = 1;
    want[3] = 2;
    check_state(path, want, 4);
    check_unseen("crash", "1,2,3,4");

    CHECK_INT_EQ(run_once(&r, "crash", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 2);
    CHECK_UINT_EQ(r.m[0].uid, 3);
    CHECK_UINT_EQ(r.m[1].uid, 4);
    CHECK(has_wire(&r, "UID FETCH 3:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    CHECK(has_wire(&r, "UID STORE 1:4 +FLAGS.SILENT (\\Seen)"));
    run_close(&r);
    want[1] = 5;
    check_state(path, want, 2);
    check_unseen("crash", "");

    /* UIDs appended by hand, as after a crash right after a write */
    CHECK_INT_EQ(append_simple("crash", "c", "2020-01-02T03:04:05Z"), 5);
    CHECK_INT_EQ(append_simple("crash", "c", "2020-01-02T03:04:05Z"), 6);
    CHECK_INT_EQ(append_simple("crash", "c", "2020-01-02T03:04:05Z"), 7);
    want[2] = 6;
    state_write(path, want, 3);
    CHECK_INT_EQ(run_once(&r, "crash", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 2);
    CHECK_UINT_EQ(r.m[0].uid, 5);
    CHECK_UINT_EQ(r.m[1].uid, 7);
    CHECK(has_wire(&r, "UID FETCH 5,7:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    CHECK(has_wire(&r, "UID STORE 5:7 +FLAGS.SILENT (\\Seen)"));
    run_close(&r);
    want[1] = 8;
    check_state(path, want, 2);
}

/* QR_EAGAIN for UID 2: not recorded, not \Seen; UIDNEXT stays at 2 with
 * 3 and 4 listed; the next pull retries 2 only. */
static void test_temporary_failure_then_retry(void)
{
    char path[1024];
    uint32_t want[4];
    int i;
    run r;

    CHECK_INT_EQ(create_mailbox("defer"), 0);
    for (i = 1; i <= 4; i++)
        CHECK_INT_EQ(append_simple("defer", "d", "2020-01-02T03:04:05Z"), i);
    want[0] = (uint32_t)mailbox_status("defer", "UIDVALIDITY");
    CHECK_INT_EQ(run_open(&r, "defer", 0, 1, 0), 0); /* purge-after 0 must spare UID 2 */
    r.defer[r.ndefer++] = 2;
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    CHECK_INT_EQ(r.n, 3);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->deferred, 1);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->delivered, 3);
    CHECK(has_wire(&r, "UID STORE 1,3:4 +FLAGS.SILENT (\\Seen)"));
    CHECK(has_wire(&r, "UID STORE 1 +FLAGS.SILENT (\\Deleted)"));
    CHECK(has_wire(&r, "UID EXPUNGE 1"));
    state_path(path, sizeof(path), "defer");
    want[1] = 2;
    want[2] = 3;
    want[3] = 4;
    check_state(path, want, 4);
    check_unseen("defer", "2");
    /* the retry, in the same session (as the idle mode would) */
    r.ndefer = 0;
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    CHECK_INT_EQ(r.n, 4);
    CHECK_UINT_EQ(r.m[3].uid, 2);
    CHECK(has_wire(&r, "UID FETCH 2,5:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    CHECK(has_wire(&r, "UID STORE 2:4 +FLAGS.SILENT (\\Seen)"));
    CHECK(has_wire(&r, "UID STORE 1:4 +FLAGS.SILENT (\\Deleted)"));
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    run_close(&r);
    want[1] = 5;
    check_state(path, want, 2);
    CHECK_INT_EQ(mailbox_status("defer", "MESSAGES"), 0);
}

static void date_before(unsigned days, char *buf, size_t cap)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL) - (time_t)days * 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(buf, cap, "%02d-%s-%04d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
}

static void test_purge(int esearch)
{
    const char *mbox = esearch ? "purge" : "purge-nes";
    char line[256], date[32];
    run r;

    CHECK_INT_EQ(create_mailbox(mbox), 0);
    CHECK_INT_EQ(append_simple(mbox, "old1", "2020-01-02T03:04:05Z"), 1);
    CHECK_INT_EQ(append_simple(mbox, "new", "2099-01-02T03:04:05Z"), 2);
    CHECK_INT_EQ(append_simple(mbox, "old2", "2021-05-06T03:04:05Z"), 3);
    CHECK_INT_EQ(run_once(&r, mbox, 0, 1, 30), 0);
    CHECK_INT_EQ(r.n, 3);
    date_before(30, date, sizeof(date));
    if (esearch)
        snprintf(line, sizeof(line), "UID SEARCH RETURN (COUNT ALL) UID 1:3 BEFORE %s", date);
    else
        snprintf(line, sizeof(line), "UID SEARCH UID 1:3 BEFORE %s", date);
    CHECK(has_wire(&r, line));
    CHECK(has_log(&r, "2 1 Removing 2 UID(s) 1,3"));
    CHECK(has_wire(&r, "UID STORE 1,3 +FLAGS.SILENT (\\Deleted)"));
    CHECK(has_wire(&r, "UID EXPUNGE 1,3"));
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->purged, 2);
    run_close(&r);
    CHECK_INT_EQ(mailbox_status(mbox, "MESSAGES"), 1);
    /* nothing old left: a search, no log, no STORE */
    CHECK_INT_EQ(run_once(&r, mbox, 0, 1, 30), 0);
    CHECK(has_wire(&r, line));
    CHECK(!has_log(&r, "2 1 Removing 0 UID(s) "));
    CHECK_INT_EQ(r.nlog > 0, 1);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->purged, 0);
    {
        int i, stores = 0;

        for (i = 0; i < r.nwire; i++)
            stores += strstr(r.wire[i], "\\Deleted") != NULL;
        CHECK_INT_EQ(stores, 0);
    }
    run_close(&r);
    CHECK_INT_EQ(mailbox_status(mbox, "MESSAGES"), 1);
}

static void test_purge_esearch(void)
{
    test_purge(1);
}

static void test_purge_without_esearch(void)
{
    test_purge(0);
}

static void test_purge_after_zero(void)
{
    int i;
    run r;

    CHECK_INT_EQ(create_mailbox("purge0"), 0);
    CHECK_INT_EQ(append_simple("purge0", "a", "2099-01-02T03:04:05Z"), 1);
    CHECK_INT_EQ(append_simple("purge0", "b", "2099-01-02T03:04:05Z"), 2);
    CHECK_INT_EQ(run_once(&r, "purge0", 0, 1, 0), 0);
    CHECK_INT_EQ(r.n, 2);
    CHECK(has_wire(&r, "UID STORE 1:2 +FLAGS.SILENT (\\Deleted)"));
    CHECK(has_wire(&r, "UID EXPUNGE 1:2"));
    for (i = 0; i < r.nwire; i++)
        CHECK(strncmp(r.wire[i], "UID SEARCH", 10) != 0);
    for (i = 0; i < r.nlog; i++)
        CHECK(strstr(r.log[i], "Removing") == NULL);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->purged, 2);
    run_close(&r);
    CHECK_INT_EQ(mailbox_status("purge0", "MESSAGES"), 0);
}

static void test_no_delivery(void)
{
    char path[1024];
    uint32_t want[2];
    run r;

    CHECK_INT_EQ(create_mailbox("nodeliv"), 0);
    CHECK_INT_EQ(append_simple("nodeliv", "a", "2020-01-02T03:04:05Z"), 1);
    CHECK_INT_EQ(append_simple("nodeliv", "b", "2020-01-02T03:04:05Z"), 2);
    CHECK_INT_EQ(run_once(&r, "nodeliv", QR_PULL_NO_DELIVERY, 0, 0), 0);
    CHECK_INT_EQ(r.n, 0);
    CHECK_UINT_EQ(qr_pull_stats_get(r.p)->delivered, 2);
    CHECK(has_wire(&r, "UID FETCH 1:4294967295 (ENVELOPE INTERNALDATE)"));
    CHECK(has_wire(&r, "UID STORE 1:2 +FLAGS.SILENT (\\Seen)"));
    CHECK(has_log(&r, "2 1 UID 2 from <a@b.c> (02-Jan-2020 03:04:05 +0000)"));
    run_close(&r);
    state_path(path, sizeof(path), "nodeliv");
    want[0] = (uint32_t)mailbox_status("nodeliv", "UIDVALIDITY");
    want[1] = 3;
    check_state(path, want, 2);
    check_unseen("nodeliv", "");
}

static qr_pull *volatile cancel_target;

static void on_alarm(int sig)
{
    (void)sig;
    qr_pull_cancel(cancel_target);
}

static void test_idle(void)
{
    char path[1024];
    int pfd[2];
    double appended = 0, t0;
    pid_t pid;
    run r;
    int rc;

    CHECK_INT_EQ(create_mailbox("idle"), 0);
    CHECK_INT_EQ(append_simple("idle", "a", "2020-01-02T03:04:05Z"), 1);
    /* idle mode never creates the file */
    state_path(path, sizeof(path), "idle");
    CHECK_INT_EQ(run_open(&r, "idle", QR_PULL_IDLE, 0, 0), QR_EIO);
    run_close(&r);
    state_write(path, NULL, 0);
    CHECK_INT_EQ(run_open(&r, "idle", QR_PULL_IDLE, 0, 0), 0);
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    CHECK_INT_EQ(r.n, 1);
    CHECK_INT_EQ(pipe(pfd), 0);
    pid = fork();
    if (pid == 0) {
        double t;

        usleep(700000);
        if (append_simple("idle", "b", "2020-01-02T03:04:05Z") != 2)
            _exit(1);
        t = now_s();
        (void)!write(pfd[1], &t, sizeof(t));
        _exit(0);
    }
    t0 = now_s();
    rc = qr_pull_idle(r.p, 30);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(read(pfd[0], &appended, sizeof(appended)), (int)sizeof(appended));
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    CHECK_INT_EQ(r.n, 2);
    if (r.n == 2) {
        CHECK_UINT_EQ(r.m[1].uid, 2);
        printf("# delivered %.3f s after the APPEND completed (idle %.3f s)\n",
               r.m[1].when - appended, r.m[1].when - t0);
        CHECK(r.m[1].when - appended < 1.0);
    }
    CHECK(has_wire(&r, "IDLE"));
    CHECK(has_wire(&r, "UID FETCH 2:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    /* a timeout without news: nothing pulled */
    t0 = now_s();
    CHECK_INT_EQ(qr_pull_idle(r.p, 1), 0);
    CHECK(now_s() - t0 >= 0.9 && now_s() - t0 < 5);
    CHECK_INT_EQ(r.n, 2);
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    run_close(&r);
    /* an IDLE longer than the connection's inactivity timeout */
    io_timeout_ms = 1000;
    CHECK_INT_EQ(run_open(&r, "idle", QR_PULL_IDLE, 0, 0), 0);
    io_timeout_ms = 60000;
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    t0 = now_s();
    CHECK_INT_EQ(qr_pull_idle(r.p, 3), 0);
    CHECK(now_s() - t0 >= 2.9);
    if (qr_pull_last_error(r.p)->code != 0)
        printf("# %s\n", qr_pull_last_error(r.p)->message);
    /* a cancel (from a signal handler) ends the IDLE cleanly */
    cancel_target = r.p;
    signal(SIGALRM, on_alarm);
    alarm(1);
    t0 = now_s();
    CHECK_INT_EQ(qr_pull_idle(r.p, 30), QR_ECANCELED);
    CHECK(now_s() - t0 < 5);
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    signal(SIGALRM, SIG_DFL);
    run_close(&r);
}

/* Deliveries slower than the connection's inactivity timeout: the input
 * is held while the callback runs, so the connection does not time out. */
static void test_slow_delivery(void)
{
    int i;
    run r;

    CHECK_INT_EQ(create_mailbox("slow"), 0);
    for (i = 1; i <= 3; i++)
        CHECK_INT_EQ(append_simple("slow", "s", "2020-01-02T03:04:05Z"), i);
    io_timeout_ms = 1000;
    CHECK_INT_EQ(run_open(&r, "slow", 0, 0, 0), 0);
    io_timeout_ms = 60000;
    r.sleep_ms = 1500;
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    CHECK_INT_EQ(r.n, 3);
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    if (r.n != 3)
        printf("# %s\n", qr_pull_last_error(r.p)->message);
    run_close(&r);
    check_unseen("slow", "");
}

static void test_uidvalidity_change(void)
{
    char path[1024], line[512];
    uint32_t st[2];
    run r;

    CHECK_INT_EQ(create_mailbox("uv"), 0);
    CHECK_INT_EQ(append_simple("uv", "a", "2020-01-02T03:04:05Z"), 1);
    state_path(path, sizeof(path), "uv");
    st[0] = (uint32_t)mailbox_status("uv", "UIDVALIDITY") + 1;
    st[1] = 1;
    state_write(path, st, 2);
    CHECK_INT_EQ(run_open(&r, "uv", 0, 0, 0), 0);
    CHECK_INT_EQ(qr_pull_run(r.p), QR_EUIDVALIDITY);
    snprintf(line, sizeof(line),
             "0 0 ERROR: UIDVALIDITY changed! (%u != %u)  Need to invalidate the UID cache for uv.",
             (unsigned)st[0], (unsigned)st[0] - 1);
    CHECK(has_log(&r, line));
    CHECK_INT_EQ(r.n, 0);
    CHECK_INT_EQ(qr_pull_last_error(r.p)->code, QR_EUIDVALIDITY);
    run_close(&r);
    check_state(path, st, 2);
    check_unseen("uv", "1");
    /* a short file: corrupted, not logged */
    state_write(path, st, 1);
    CHECK_INT_EQ(truncate(path, 6), 0);
    CHECK_INT_EQ(run_open(&r, "uv", 0, 0, 0), 0);
    CHECK_INT_EQ(qr_pull_run(r.p), QR_EPROTO);
    CHECK_STR_EQ(qr_pull_last_error(r.p)->message, "Corrupted state file!");
    CHECK_INT_EQ(r.nlog, 0);
    run_close(&r);
}

/* --- big messages ---------------------------------------------------------- */

static long vm_kib(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtol(line + strlen(key), NULL, 10);
    fclose(f);
    return v;
}

static void reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");

    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

/* A message of about `size` bytes (CRLF lines of 80), its FNV-1a 64. */
static int write_big(const char *path, uint64_t size, uint64_t *fnv, uint64_t *len)
{
    static char chunk[65520];
    char head[256];
    FILE *f = fopen(path, "wb");
    uint64_t done = 0;
    size_t i;
    int n;

    if (f == NULL)
        return -1;
    for (i = 0; i + 80 <= sizeof(chunk); i += 80) {
        memset(chunk + i, 'a' + (char)((i / 80) % 26), 78);
        chunk[i + 78] = '\r';
        chunk[i + 79] = '\n';
    }
    n = snprintf(head, sizeof(head), "From: <big@example.org>\r\nSubject: big\r\n\r\n");
    fwrite(head, 1, (size_t)n, f);
    *fnv = fnv_update(FNV_INIT, head, (size_t)n);
    *len = (uint64_t)n;
    while (done < size) {
        size_t k = size - done < sizeof(chunk) ? (size_t)(size - done) / 80 * 80 : sizeof(chunk);

        if (k == 0 || fwrite(chunk, 1, k, f) != k)
            break;
        *fnv = fnv_update(*fnv, chunk, k);
        done += k;
    }
    *len += done;
    return fclose(f);
}

static void big_case(const char *mbox, uint64_t size)
{
    char file[1024], spill[1024];
    uint64_t fnv = 0, len = 0;
    long before, after;
    double t0;
    run r;

    rig_path(spill, sizeof(spill), "spill");
    mkdir(spill, 0700);
    setenv("TMPDIR", spill, 1);
    CHECK_INT_EQ(create_mailbox(mbox), 0);
    rig_path(file, sizeof(file), "big.eml");
    CHECK_INT_EQ(write_big(file, size, &fnv, &len), 0);
    CHECK_INT_EQ(append_file(mbox, file, "2020-01-02T03:04:05Z"), 1);
    unlink(file);
    CHECK_INT_EQ(run_open(&r, mbox, 0, 0, 0), 0);
    r.keep_bytes = 0;
    r.spill_dir = spill;
    reset_hwm();
    before = vm_kib("VmHWM:");
    t0 = now_s();
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    after = vm_kib("VmHWM:");
    printf("# %" PRIu64 " bytes pulled in %.1f s; VmHWM %ld KiB before, %ld KiB after\n", len,
           now_s() - t0, before, after);
#if QR_TEST_ASAN
    printf("# peak RSS not bounded under AddressSanitizer\n");
#else
    CHECK(before > 0 && after - before < 16 * 1024);
#endif
    CHECK_INT_EQ(r.n, 1);
    CHECK_UINT_EQ(r.m[0].size, len);
    CHECK_UINT_EQ(r.m[0].read, len);
    CHECK_UINT_EQ(r.m[0].fnv, fnv);
    CHECK_INT_EQ(r.m[0].spilled, 1);  /* through an unnamed file in TMPDIR ... */
    CHECK_INT_EQ(fds_into(spill), 0); /* ... closed since */
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    run_close(&r);
    unsetenv("TMPDIR");
}

static void test_big_20mib(void)
{
    big_case("big20", 20u << 20);
}

static void test_big_1gib(void)
{
    big_case("big1g", (uint64_t)1 << 30);
}

/* --- the Perl reference ------------------------------------------------------ */

/* Write the reference's configuration for `mbox` (state file = ours). */
static void perl_config(const char *mbox)
{
    char dir[1024], path[1100], state[1024];
    FILE *f;

    rig_path(dir, sizeof(dir), "xdg");
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/pullimap", dir);
    mkdir(path, 0700);
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("XDG_DATA_HOME", dir, 1);
    snprintf(path, sizeof(path), "%s/pullimap/config", dir);
    state_path(state, sizeof(state), mbox);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fprintf(f,
            "[acct]\ntype = tunnel\ncommand = %s\nnull-stderr = YES\nmailbox = %s\n"
            "statefile = %s\n",
            env("QR_RIG_STORE0_COMMAND"), mbox, state);
    fclose(f);
}

/* Run `pullimap ARGS acct`, its stderr into out; the exit status. */
static int perl_run(const char *args, char *out, size_t cap)
{
    char errf[1024];
    FILE *f;
    size_t n;
    int rc;

    rig_path(errf, sizeof(errf), "perl.err");
    rc = run_rc("/usr/bin/pullimap %s acct 2>'%s'", args, errf);
    out[0] = '\0';
    f = fopen(errf, "r");
    if (f != NULL) {
        n = fread(out, 1, cap - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    return rc;
}

static void test_perl_reads_our_file(void)
{
    char path[1024], out[4096];
    uint32_t want[4];
    int i;
    run r;

    CHECK_INT_EQ(create_mailbox("interop"), 0);
    for (i = 1; i <= 4; i++)
        CHECK_INT_EQ(append_simple("interop", "i", "2020-01-02T03:04:05Z"), i);
    want[0] = (uint32_t)mailbox_status("interop", "UIDVALIDITY");
    CHECK_INT_EQ(run_open(&r, "interop", 0, 0, 0), 0);
    r.defer[r.ndefer++] = 2;
    CHECK_INT_EQ(qr_pull_run(r.p), 0);
    CHECK_INT_EQ(qr_pull_logout(r.p), 0);
    run_close(&r);
    state_path(path, sizeof(path), "interop");
    want[1] = 2;
    want[2] = 3;
    want[3] = 4;
    check_state(path, want, 4);
    /* the reference skips 3 and 4, takes 2 */
    perl_config("interop");
    CHECK_INT_EQ(perl_run("--no-delivery", out, sizeof(out)), 0);
    CHECK(strstr(out, "acct(interop): UID 2 from <a@b.c> (02-Jan-2020 03:04:05 +0000)\n") != NULL);
    CHECK(strstr(out, "UID 3 from") == NULL && strstr(out, "UID 4 from") == NULL);
    want[1] = 5;
    check_state(path, want, 2);
    check_unseen("interop", "");
    if (strstr(out, "UID 2 from") == NULL)
        printf("# pullimap said: %s\n", out);
}

static void test_we_read_perl_file(void)
{
    char path[1024], out[4096];
    uint32_t want[2];
    run r;

    /* the reference starts the file */
    CHECK_INT_EQ(create_mailbox("interop2"), 0);
    CHECK_INT_EQ(append_simple("interop2", "p", "2020-01-02T03:04:05Z"), 1);
    perl_config("interop2");
    CHECK_INT_EQ(perl_run("--no-delivery", out, sizeof(out)), 0);
    state_path(path, sizeof(path), "interop2");
    want[0] = (uint32_t)mailbox_status("interop2", "UIDVALIDITY");
    want[1] = 2;
    check_state(path, want, 2);
    /* we go on from it */
    CHECK_INT_EQ(append_simple("interop2", "q", "2020-01-02T03:04:05Z"), 2);
    CHECK_INT_EQ(run_once(&r, "interop2", 0, 0, 0), 0);
    CHECK_INT_EQ(r.n, 1);
    CHECK_UINT_EQ(r.m[0].uid, 2);
    CHECK(has_wire(&r, "UID FETCH 2:4294967295 (ENVELOPE INTERNALDATE BODY.PEEK[])"));
    /* while we hold the lock, the reference cannot run */
    CHECK_INT_EQ(qr_pull_open(r.p), 0);
    {
        char want_msg[1200];
        int rc = perl_run("--no-delivery", out, sizeof(out));

        snprintf(want_msg, sizeof(want_msg), "Can't lock %s: Resource temporarily unavailable",
                 path);
        CHECK(rc != 0);
        CHECK(strstr(out, want_msg) != NULL);
        if (strstr(out, want_msg) == NULL)
            printf("# pullimap said: %s\n", out);
    }
    run_close(&r);
    want[1] = 3;
    check_state(path, want, 2);
}

int main(int argc, char **argv)
{
    int noesearch = argc > 1 && strcmp(argv[1], "noesearch") == 0;

    if (env("QR_RIG_STORE0_COMMAND")[0] == '\0') {
        printf("1..0 # SKIP not run by rig.py (no QR_RIG_STORE0_COMMAND)\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (noesearch) {
        TAP_RUN(test_purge_without_esearch);
        TAP_RUN(test_purge_after_zero);
        return tap_done();
    }
    TAP_RUN(test_first_pull);
    TAP_RUN(test_incremental_pull);
    TAP_RUN(test_crash_then_ignore_list);
    TAP_RUN(test_temporary_failure_then_retry);
    TAP_RUN(test_purge_esearch);
    TAP_RUN(test_purge_after_zero);
    TAP_RUN(test_no_delivery);
    TAP_RUN(test_idle);
    TAP_RUN(test_slow_delivery);
    TAP_RUN(test_uidvalidity_change);
    TAP_RUN(test_big_20mib);
    if (getenv("QR_PULL_TEST_NO_1GIB") == NULL)
        TAP_RUN(test_big_1gib);
    TAP_RUN(test_perl_reads_our_file);
    TAP_RUN(test_we_read_perl_file);
    return tap_done();
}
