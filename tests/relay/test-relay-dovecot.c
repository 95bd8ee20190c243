/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-relay-dovecot: qr_relay between two of the rig's Dovecot tunnel
 * stores (suite dovecot). Run as `rig.py run --stores 2 --skip-exit 0 --
 * test-relay-dovecot`.
 *
 * Covers: a small message streamed straight through (store0 and store1
 * then compare equal through the rig: sha256 of the bytes, flags without
 * \Recent, internal date), with APPENDUID reported; the spill path
 * (QR_RELAY_SINGLE_FETCH) with the spill file seen open under the chosen
 * folder during the relay, never with a name, and closed afterwards; a
 * 100 MiB message with the process's peak RSS growing by less than 16 MiB
 * (VmHWM reset through /proc/self/clear_refs first); the source's tunnel
 * killed mid-body: the destination session fails with QR_ECANCELED, no
 * message is left in store1, the completion fires exactly once.
 *
 * Messages are put in store0 with `rig.py mail store0 append` from files
 * written here in 64 KiB chunks, so the test never holds a body.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <qresync/conn.h>
#include <qresync/loop.h>
#include <qresync/relay.h>
#include <signal.h>
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

/* Run a shell command, return its first output line's number (or -1). */
static long run_number(const char *cmd, const char *key)
{
    char line[512];
    long v = -1;
    FILE *p = popen(cmd, "r");

    if (p == NULL)
        return -1;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *k = key != NULL ? strstr(line, key) : line;

        if (k != NULL && v < 0) {
            k += key != NULL ? strlen(key) : 0;
            v = strtol(k, NULL, 10);
        }
    }
    if (pclose(p) != 0)
        return -1;
    return v;
}

static int run_rc(const char *cmd)
{
    int rc = system(cmd);

    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Write a message of about `size` bytes (CRLF lines) in 64 KiB chunks. */
static int write_message(const char *path, const char *subject, uint64_t size)
{
    static char chunk[65536];
    FILE *f = fopen(path, "wb");
    uint64_t done = 0;
    size_t i;

    if (f == NULL)
        return -1;
    for (i = 0; i + 80 <= sizeof(chunk); i += 80) {
        memset(chunk + i, 'a' + (char)((i / 80) % 26), 78);
        chunk[i + 78] = '\r';
        chunk[i + 79] = '\n';
    }
    fprintf(f, "From: relay@example.org\r\nSubject: %s\r\nMessage-ID: <%s@relay>\r\n\r\n", subject,
            subject);
    while (done < size) {
        size_t n = size - done < 65520 ? (size_t)(size - done) / 80 * 80 : 65520;

        if (n == 0)
            break;
        if (fwrite(chunk, 1, n, f) != n)
            break;
        done += n;
    }
    fprintf(f, "end\r\n");
    return fclose(f) == 0 && done >= size / 80 * 80 ? 0 : -1;
}

/* Put a file into store0's INBOX; the UID or -1. */
static long append_store0(const char *file, const char *flags, const char *date)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "'%s' mail store0 append INBOX '%s' --flags '%s' --date '%s'",
             env("QR_RIG_CLI"), file, flags, date);
    return run_number(cmd, NULL);
}

static long messages_in(const char *store)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "'%s' mail %s status INBOX", env("QR_RIG_CLI"), store);
    return run_number(cmd, "\"MESSAGES\": ");
}

static int stores_equal(void)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "'%s' mail store0 compare store1 >&2", env("QR_RIG_CLI"));
    return run_rc(cmd);
}

static qr_conn *open_store(int i)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    char name[64];

    snprintf(name, sizeof(name), "QR_RIG_STORE%d_COMMAND", i);
    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.type = QR_CONN_TUNNEL;
    o.command = env(name);
    o.null_stderr = 1;
    o.io_timeout_ms = 60000;
    if (qr_conn_new(&c, &o) != 0 || qr_conn_connect_wait(c, WAIT_MS) != 0) {
        printf("# store%d: %s\n", i, c != NULL ? qr_conn_last_error(c)->message : "?");
        qr_conn_free(c);
        return NULL;
    }
    return c;
}

static int cmd_status = 1;

static int simple_done(qr_session *s, const qr_session_result *res, void *payload)
{
    (void)s;
    (void)payload;
    cmd_status = res->status;
    return 0;
}

static int never(void *payload)
{
    (void)payload;
    return 0;
}

static int simple_fired(void *payload)
{
    (void)payload;
    return cmd_status != 1;
}

/* SELECT INBOX on a connection, through the loop. */
static int select_inbox(qr_loop *loop, qr_conn *c)
{
    qr_cmd *cmd = NULL;

    cmd_status = 1;
    qr_cmd_new(&cmd, "SELECT", 0);
    qr_cmd_add_mailbox(cmd, "INBOX");
    if (qr_session_submit(qr_conn_session(c), cmd, NULL, simple_done, NULL, NULL) != 0) {
        qr_cmd_free(cmd);
        return -1;
    }
    if (qr_loop_run_until(loop, simple_fired, NULL, WAIT_MS) != 0)
        return -1;
    return cmd_status;
}

/* One relay run and what the test watches while it goes. */
struct run {
    int fired;             /* completions seen */
    qr_relay_result res;   /* the last one */
    const char *spill_dir; /* watch for an open spill file there, or NULL */
    int spill_seen;        /* an fd pointed into spill_dir while running */
    int spill_named;       /* ... and that file had a name */
    qr_conn *kill_src;     /* kill this connection's tunnel after kill_after bytes */
    qr_conn *dst;          /* the destination (traffic counter) */
    uint64_t kill_after;   /* bytes the destination must have sent first */
    int killed;            /* 1 once killed */
};

static void relay_done(qr_relay *r, const qr_relay_result *res, void *payload)
{
    struct run *run = payload;

    (void)r;
    run->fired++;
    run->res = *res;
}

/* Look for descriptors pointing into dir: count; *named set when one has a name. */
static int fds_into(const char *dir, int *named)
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
        if (strncmp(target, dir, strlen(dir)) == 0 && target[strlen(dir)] == '/') {
            n++;
            if (named != NULL && strstr(target, "(deleted)") == NULL)
                *named = 1;
        }
    }
    closedir(d);
    return n;
}

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Kill the tunnel process of store0 (a child of ours serving store0's conf). */
static int kill_store0_tunnel(void)
{
    char path[600], buf[4096], conf[1024];
    FILE *f;
    int killed = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    snprintf(conf, sizeof(conf), "%s", env("QR_RIG_STORE0_CONF"));
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char *p, *end;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
        for (p = buf; (pid = strtol(p, &end, 10)) > 0; p = end) {
            char cmdline[4096];
            size_t n, i;

            snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
            f = fopen(path, "r");
            if (f == NULL)
                continue;
            n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
            fclose(f);
            for (i = 0; i < n; i++)
                if (cmdline[i] == '\0')
                    cmdline[i] = ' ';
            cmdline[n] = '\0';
            if (conf[0] != '\0' && strstr(cmdline, conf) != NULL && kill((pid_t)pid, SIGKILL) == 0)
                killed++;
        }
    }
    closedir(d);
    return killed;
}

static int run_pred(void *payload)
{
    struct run *run = payload;

    if (run->spill_dir != NULL && fds_into(run->spill_dir, &run->spill_named) > 0)
        run->spill_seen = 1;
    if (run->kill_src != NULL && !run->killed) {
        qr_conn_traffic_stats t;

        qr_conn_traffic(run->dst, &t);
        if (t.plain_out >= run->kill_after) {
            run->killed = 1;
            if (kill_store0_tunnel() != 1)
                printf("# could not kill the store0 tunnel\n");
        }
    }
    return run->fired > 0;
}

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

/* The two connections, INBOX selected on the source, and a loop with both. */
struct pair {
    qr_conn *a, *b;
    qr_loop *loop;
};

static int pair_open(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    p->a = open_store(0);
    p->b = open_store(1);
    if (p->a == NULL || p->b == NULL || qr_loop_new(&p->loop) != 0)
        return -1;
    qr_loop_add(p->loop, p->a);
    qr_loop_add(p->loop, p->b);
    return select_inbox(p->loop, p->a);
}

static void pair_close(struct pair *p, int expect_ok)
{
    if (expect_ok) {
        CHECK_INT_EQ(qr_conn_close_wait(p->a, WAIT_MS), 0);
        CHECK_INT_EQ(qr_conn_close_wait(p->b, WAIT_MS), 0);
    }
    qr_loop_free(p->loop);
    qr_conn_free(p->a);
    qr_conn_free(p->b);
}

/* Relay uid from a to b's INBOX; 0 when the completion fired once. */
static int relay_one(struct pair *p, qr_relay *r, uint32_t uid, struct run *run)
{
    int rc;

    run->fired = 0;
    run->dst = p->b;
    /* Messages appended since the SELECT become visible to the source. */
    cmd_status = 1;
    if (qr_session_noop(qr_conn_session(p->a), simple_done, NULL) != 0 ||
        qr_loop_run_until(p->loop, simple_fired, NULL, WAIT_MS) != 0 || cmd_status != 0)
        return -1;
    rc = qr_relay_start(r, qr_conn_session(p->a), uid, qr_conn_session(p->b), "INBOX", relay_done,
                        run);
    if (rc != 0)
        return rc;
    CHECK_INT_EQ(qr_relay_running(r), 1);
    rc = qr_loop_run_until(p->loop, run_pred, run, WAIT_MS);
    CHECK_INT_EQ(qr_relay_running(r), 0);
    return rc;
}

static void test_stream_small(void)
{
    char file[1024];
    struct pair p;
    struct run run;
    qr_relay *r = NULL;
    long uid;

    memset(&run, 0, sizeof(run));
    snprintf(file, sizeof(file), "%s/small.eml", env("QR_RIG_DIR"));
    CHECK_INT_EQ(write_message(file, "small", 3000), 0);
    uid = append_store0(file, "\\Seen \\Flagged kw1", "2020-01-02T03:04:05Z");
    CHECK(uid > 0);
    CHECK_INT_EQ(pair_open(&p), 0);
    CHECK_INT_EQ(qr_relay_new(&r, NULL), 0);
    CHECK_INT_EQ(relay_one(&p, r, (uint32_t)uid, &run), 0);
    CHECK_INT_EQ(run.fired, 1);
    CHECK_INT_EQ(run.res.status, 0);
    CHECK_INT_EQ(run.res.failed, QR_RELAY_SIDE_NONE);
    CHECK_UINT_EQ(run.res.src_uid, (uint32_t)uid);
    CHECK_UINT_EQ(run.res.dst_uid, 1);
    CHECK(run.res.dst_uidvalidity != 0);
    CHECK_INT_EQ(run.res.spilled, 0);
    CHECK(run.res.size > 3000);
    /* Again from the same relay: a second message, then nothing fires twice. */
    uid = append_store0(file, "", "2021-05-06T07:08:09Z");
    CHECK(uid > 0);
    CHECK_INT_EQ(relay_one(&p, r, (uint32_t)uid, &run), 0);
    CHECK_INT_EQ(run.res.status, 0);
    CHECK_UINT_EQ(run.res.dst_uid, 2);
    /* A UID that does not exist: QR_ENO from the source, nothing appended. */
    CHECK_INT_EQ(relay_one(&p, r, 999, &run), 0);
    CHECK_INT_EQ(run.res.status, QR_ENO);
    CHECK_INT_EQ(run.res.failed, QR_RELAY_SIDE_SOURCE);
    pair_close(&p, 1);
    CHECK_INT_EQ(run.fired, 1);
    qr_relay_free(r);
    CHECK_INT_EQ(stores_equal(), 0);
}

static void test_spill(void)
{
    char file[1024], dir[1024];
    qr_relay_options o = QR_RELAY_OPTIONS_INIT;
    struct pair p;
    struct run run;
    qr_relay *r = NULL;
    long uid;

    memset(&run, 0, sizeof(run));
    snprintf(file, sizeof(file), "%s/spill.eml", env("QR_RIG_DIR"));
    snprintf(dir, sizeof(dir), "%s/spill-dir", env("QR_RIG_DIR"));
    CHECK_INT_EQ(mkdir(dir, 0700), 0);
    CHECK_INT_EQ(write_message(file, "spill", 3u << 20), 0);
    uid = append_store0(file, "\\Answered kw2", "2019-12-31T23:59:59Z");
    CHECK(uid > 0);
    CHECK_INT_EQ(pair_open(&p), 0);
    o.flags = QR_RELAY_SINGLE_FETCH;
    o.spill_dir = dir;
    CHECK_INT_EQ(qr_relay_new(&r, &o), 0);
    run.spill_dir = dir;
    CHECK_INT_EQ(relay_one(&p, r, (uint32_t)uid, &run), 0);
    CHECK_INT_EQ(run.fired, 1);
    CHECK_INT_EQ(run.res.status, 0);
    CHECK_INT_EQ(run.res.spilled, 1);
    CHECK_UINT_EQ(run.res.dst_uid, 3);
    CHECK_INT_EQ(run.spill_seen, 1);      /* the file was used ... */
    CHECK_INT_EQ(run.spill_named, 0);     /* ... never with a name ... */
    CHECK_INT_EQ(fds_into(dir, NULL), 0); /* ... and is closed now */
    CHECK_INT_EQ(entries_in(dir), 0);
    pair_close(&p, 1);
    qr_relay_free(r);
    CHECK_INT_EQ(stores_equal(), 0);
}

static void test_big_rss(void)
{
    char file[1024];
    struct pair p;
    struct run run;
    qr_relay *r = NULL;
    long uid, before, after;
    time_t t0;

    memset(&run, 0, sizeof(run));
    snprintf(file, sizeof(file), "%s/big.eml", env("QR_RIG_DIR"));
    CHECK_INT_EQ(write_message(file, "big", 100u << 20), 0);
    uid = append_store0(file, "\\Seen", "2022-02-03T04:05:06Z");
    CHECK(uid > 0);
    unlink(file);
    CHECK_INT_EQ(pair_open(&p), 0);
    CHECK_INT_EQ(qr_relay_new(&r, NULL), 0);
    reset_hwm();
    before = vm_kib("VmHWM:");
    t0 = time(NULL);
    CHECK_INT_EQ(relay_one(&p, r, (uint32_t)uid, &run), 0);
    after = vm_kib("VmHWM:");
    printf("# 100 MiB relayed in %ld s\n", (long)(time(NULL) - t0));
    printf("# VmHWM %ld KiB before, %ld KiB after (VmRSS %ld KiB)\n", before, after,
           vm_kib("VmRSS:"));
    CHECK(before > 0 && after > 0);
#if QR_TEST_ASAN
    /* AddressSanitizer's quarantine keeps freed blocks (256 MiB by default):
     * peak RSS says nothing about the library there. */
    printf("# peak RSS not bounded under AddressSanitizer\n");
#else
    CHECK(after - before < 16 * 1024);
#endif
    CHECK_INT_EQ(run.fired, 1);
    CHECK_INT_EQ(run.res.status, 0);
    CHECK(run.res.size > (100u << 20));
    CHECK_UINT_EQ(run.res.dst_uid, 4);
    pair_close(&p, 1);
    qr_relay_free(r);
    CHECK_INT_EQ(stores_equal(), 0);
}

static void test_source_dies(void)
{
    char file[1024];
    struct pair p;
    struct run run;
    qr_relay *r = NULL;
    long uid, before;

    memset(&run, 0, sizeof(run));
    snprintf(file, sizeof(file), "%s/dies.eml", env("QR_RIG_DIR"));
    CHECK_INT_EQ(write_message(file, "dies", 8u << 20), 0);
    uid = append_store0(file, "", "2023-01-01T00:00:00Z");
    CHECK(uid > 0);
    unlink(file);
    before = messages_in("store1");
    CHECK(before >= 0);
    CHECK_INT_EQ(pair_open(&p), 0);
    CHECK_INT_EQ(qr_relay_new(&r, NULL), 0);
    run.kill_src = p.a;
    run.kill_after = 1u << 20;
    CHECK_INT_EQ(relay_one(&p, r, (uint32_t)uid, &run), 0);
    CHECK_INT_EQ(run.killed, 1);
    CHECK_INT_EQ(run.fired, 1);
    CHECK(run.res.status != 0);
    CHECK_INT_EQ(run.res.failed, QR_RELAY_SIDE_SOURCE);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(p.b)), QR_SESSION_FAILED);
    CHECK_INT_EQ(qr_session_last_error(qr_conn_session(p.b))->code, QR_ECANCELED);
    /* Nothing more fires while the connections wind down. */
    qr_loop_run_until(p.loop, never, NULL, 500);
    CHECK_INT_EQ(run.fired, 1);
    pair_close(&p, 0);
    qr_relay_free(r);
    CHECK_INT_EQ(messages_in("store1"), before);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("QR_RIG_STORE1_COMMAND") == NULL) {
        printf("1..0 # SKIP needs rig.py run --stores 2\n");
        return 0;
    }
    TAP_RUN(test_stream_small);
    TAP_RUN(test_spill);
    TAP_RUN(test_big_rss);
    TAP_RUN(test_source_dies);
    return tap_done();
}
