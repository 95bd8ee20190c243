/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for pullimap's state file (libqresync/pull/pull_state.c,
 * spec/pullimap.md §3): the big-endian format byte for byte, the example of
 * §3.1, a file written by the Perl reference (pullimap 0.5.7, interrupted
 * after two deliveries), short reads as `Corrupted state file!`, the POSIX
 * record lock against a second process (our open, and a raw fcntl lock as
 * the Perl tool takes it), idle mode never creating the file, O_DSYNC,
 * close-on-exec and mode 0600, the end-of-pull rewrite with and without a
 * kept list, and qr_pull_open() over the same code. Files live in a
 * mkdtemp folder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <qresync/pull.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "pull/pull_p.h"
#include "util/alloc.h"

static char dir[] = "/tmp/qr-pull-state-XXXXXX";

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");

    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_UINT_EQ(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The whole file into buf; its size, or -1. */
static long read_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

/* Read numbers from byte 0 until the end: count, or the error code. */
static int read_all(const pl_state *st, uint32_t *v, size_t cap, qr_errslot *es)
{
    size_t n = 0;
    int rc;

    for (;;) {
        uint32_t x = 0;

        rc = pl_state_read(st, 4 * (uint64_t)n, &x, es);
        if (rc <= 0)
            return rc < 0 ? rc : (int)n;
        if (n < cap)
            v[n] = x;
        n++;
    }
}

static void test_format_big_endian(void)
{
    static const unsigned char want[] = {0x6b, 0x0a, 0xf5, 0x61, 0x00, 0x00, 0x00, 0x08,
                                         0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe};
    const uint32_t v[] = {1795880289u, 8, 258, 4294967294u};
    unsigned char got[64];
    char path[256];
    qr_errslot es;
    pl_state st;
    struct stat sb;

    path_of(path, sizeof(path), "format");
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), 0);
    CHECK_INT_EQ(stat(path, &sb), 0);
    CHECK_UINT_EQ(sb.st_size, 0);
    CHECK_UINT_EQ(sb.st_mode & 0777, 0600);
    CHECK_INT_EQ(pl_state_write(&st, 0, v, 2, &es), 0);
    CHECK_INT_EQ(pl_state_write(&st, 8, v + 2, 1, &es), 0);
    CHECK_INT_EQ(pl_state_write(&st, 12, v + 3, 1, &es), 0);
    CHECK_INT_EQ(read_bytes(path, got, sizeof(got)), 16);
    CHECK_MEM_EQ(got, 16, want, sizeof(want));
    pl_state_close(&st);
    CHECK_INT_EQ(st.fd, -1);
    unlink(path);
}

static void test_spec_example(void)
{
    static const unsigned char ex[] = {0x6b, 0x0a, 0xf5, 0x61, 0x00, 0x00, 0x00, 0x08};
    uint32_t v[4];
    char path[256];
    qr_errslot es;
    pl_state st;

    path_of(path, sizeof(path), "example");
    write_bytes(path, ex, sizeof(ex));
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 0, &es), 0);
    CHECK_INT_EQ(read_all(&st, v, 4, &es), 2);
    CHECK_UINT_EQ(v[0], 1795880289u);
    CHECK_UINT_EQ(v[1], 8);
    pl_state_close(&st);
    unlink(path);
}

/* Written by /usr/bin/pullimap 0.5.7 against a rig store with 4 messages
 * and an SMTP peer answering 550 to the third DATA: UIDVALIDITY
 * 1795899485, UIDNEXT 1 (the first pull never finished), then UIDs 1 and
 * 2, delivered before it died (`SMTP error: Expected 250, got: 550 no`). */
static void test_perl_written_file(void)
{
    static const unsigned char perl[] = {0x6b, 0x0b, 0x40, 0x5d, 0x00, 0x00, 0x00, 0x01,
                                         0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02};
    uint32_t v[8];
    char path[256];
    qr_errslot es;
    pl_state st;

    path_of(path, sizeof(path), "perl");
    write_bytes(path, perl, sizeof(perl));
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 0, &es), 0);
    CHECK_INT_EQ(read_all(&st, v, 8, &es), 4);
    CHECK_UINT_EQ(v[0], 1795899485u);
    CHECK_UINT_EQ(v[1], 1);
    CHECK_UINT_EQ(v[2], 1);
    CHECK_UINT_EQ(v[3], 2);
    pl_state_close(&st);
    unlink(path);
}

static void test_short_read_is_corruption(void)
{
    static const unsigned char b[12] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    size_t len;
    char path[256];

    path_of(path, sizeof(path), "short");
    for (len = 1; len < sizeof(b); len++) {
        qr_errslot es;
        pl_state st;
        uint32_t v[4];

        if (len % 4 == 0)
            continue;
        write_bytes(path, b, len);
        qr_errslot_clear(&es);
        CHECK_INT_EQ(pl_state_open(&st, path, 0, &es), 0);
        CHECK_INT_EQ(read_all(&st, v, 4, &es), QR_EPROTO);
        CHECK_STR_EQ(qr_errslot_get(&es)->message, "Corrupted state file!");
        pl_state_close(&st);
    }
    unlink(path);
}

/* In a child: try pl_state_open(); exit 0 opened, 1 QR_ELOCKED with the
 * reference's message, 2 anything else. */
static int child_open(const char *path)
{
    pid_t pid = fork();
    int status = -1;

    if (pid == 0) {
        qr_errslot es;
        pl_state st;
        char want[512];
        int rc;

        qr_errslot_clear(&es);
        rc = pl_state_open(&st, path, 1, &es);
        snprintf(want, sizeof(want), "Can't lock %s: %s", path, strerror(EAGAIN));
        if (rc == 0)
            _exit(0);
        _exit(rc == QR_ELOCKED && strcmp(qr_errslot_get(&es)->message, want) == 0 &&
                      qr_errslot_get(&es)->sys_errno == EAGAIN
                  ? 1
                  : 2);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_lock_excludes_another_process(void)
{
    char path[256];
    qr_errslot es;
    pl_state st;

    path_of(path, sizeof(path), "lock");
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), 0);
    CHECK_INT_EQ(child_open(path), 1);
    pl_state_close(&st); /* the lock goes with the descriptor */
    CHECK_INT_EQ(child_open(path), 0);
    unlink(path);
}

/* The Perl tool's lock: fcntl(F_SETLK, {F_WRLCK, SEEK_SET, 0, 0}) held by
 * a child until it is killed. */
static void test_fcntl_lock_of_another_process(void)
{
    int sync_pipe[2];
    char path[256], want[512], c;
    qr_errslot es;
    pl_state st;
    pid_t pid;

    path_of(path, sizeof(path), "perl-lock");
    write_bytes(path, "", 0);
    CHECK_INT_EQ(pipe(sync_pipe), 0);
    pid = fork();
    if (pid == 0) {
        struct flock fl;
        int fd = open(path, O_RDWR);

        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
        (void)!write(sync_pipe[1], &c, 1);
        pause();
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_INT_EQ(read(sync_pipe[0], &c, 1), 1);
    CHECK_INT_EQ(c, 'y');
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), QR_ELOCKED);
    CHECK_INT_EQ(st.fd, -1);
    snprintf(want, sizeof(want), "Can't lock %s: %s", path, strerror(EAGAIN));
    CHECK_STR_EQ(qr_errslot_get(&es)->message, want);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), 0);
    pl_state_close(&st);
    close(sync_pipe[0]);
    close(sync_pipe[1]);
    unlink(path);
}

static void test_idle_mode_never_creates(void)
{
    char path[256], want[512];
    qr_errslot es;
    pl_state st;
    struct stat sb;

    path_of(path, sizeof(path), "missing");
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 0, &es), QR_EIO);
    snprintf(want, sizeof(want), "Can't open %s: %s", path, strerror(ENOENT));
    CHECK_STR_EQ(qr_errslot_get(&es)->message, want);
    CHECK_INT_EQ(qr_errslot_get(&es)->sys_errno, ENOENT);
    CHECK_INT_EQ(stat(path, &sb), -1);
    CHECK_INT_EQ(st.fd, -1);
}

static void test_dsync_and_cloexec(void)
{
    char path[256];
    qr_errslot es;
    pl_state st;
    int fl, fdfl;

    path_of(path, sizeof(path), "flags");
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), 0);
    fl = fcntl(st.fd, F_GETFL);
    fdfl = fcntl(st.fd, F_GETFD);
    CHECK(fl >= 0 && fdfl >= 0);
    CHECK_INT_EQ(fl & O_DSYNC, O_DSYNC);
    CHECK_INT_EQ(fl & O_ACCMODE, O_RDWR);
    CHECK_INT_EQ(fdfl & FD_CLOEXEC, FD_CLOEXEC);
    pl_state_close(&st);
    unlink(path);
}

static void test_finish_keeps_the_list_above_uidnext(void)
{
    static const unsigned char kept[] = {0, 0, 0, 9, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 11};
    static const unsigned char clean[] = {0, 0, 0, 9, 0, 0, 0, 12};
    const uint32_t start[] = {9, 3, 5, 7, 11};
    const uint32_t keep[] = {7, 11};
    unsigned char got[64];
    char path[256];
    qr_errslot es;
    pl_state st;

    path_of(path, sizeof(path), "finish");
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), 0);
    CHECK_INT_EQ(pl_state_write(&st, 0, start, 5, &es), 0);
    CHECK_INT_EQ(pl_state_finish(&st, 6, keep, 2, &es), 0);
    CHECK_INT_EQ(read_bytes(path, got, sizeof(got)), 16);
    CHECK_MEM_EQ(got, 16, kept, sizeof(kept));
    CHECK_INT_EQ(pl_state_finish(&st, 12, NULL, 0, &es), 0);
    CHECK_INT_EQ(read_bytes(path, got, sizeof(got)), 8);
    CHECK_MEM_EQ(got, 8, clean, sizeof(clean));
    pl_state_close(&st);
    unlink(path);
}

static void test_write_error_on_a_read_only_descriptor(void)
{
    const uint32_t v = 1;
    char path[256];
    qr_errslot es;
    pl_state st;

    path_of(path, sizeof(path), "ro");
    write_bytes(path, "", 0);
    pl_state_init(&st);
    st.fd = open(path, O_RDONLY);
    CHECK(st.fd >= 0);
    qr_errslot_clear(&es);
    CHECK_INT_EQ(pl_state_write(&st, 0, &v, 1, &es), QR_EIO);
    CHECK_INT_EQ(strncmp(qr_errslot_get(&es)->message, "write: ", 7), 0);
    CHECK_INT_EQ(pl_state_finish(&st, 1, NULL, 0, &es), QR_EIO);
    pl_state_close(&st);
    unlink(path);
}

static void test_open_allocation_failure(void)
{
    char path[256];
    qr_errslot es;
    pl_state st;
    struct stat sb;

    path_of(path, sizeof(path), "nomem");
    qr_errslot_clear(&es);
    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(pl_state_open(&st, path, 1, &es), QR_ENOMEM);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(st.fd, -1);
    CHECK_INT_EQ(stat(path, &sb), -1);
}

/* qr_pull_open() over the same code: idle mode, then a lock held here. */
static void test_pull_open(void)
{
    qr_pull_options o;
    qr_pull *p = NULL, *q = NULL;
    char path[256];
    struct stat sb;

    path_of(path, sizeof(path), "pull");
    CHECK_INT_EQ(qr_pull_options_init(&o, QR_PULL_OPTIONS_VERSION), 0);
    o.statefile = path;
    o.flags = QR_PULL_IDLE | QR_PULL_NO_DELIVERY;
    CHECK_INT_EQ(qr_pull_new(&p, &o), 0);
    CHECK_INT_EQ(qr_pull_open(p), QR_EIO);
    CHECK_INT_EQ(qr_pull_last_error(p)->code, QR_EIO);
    CHECK_INT_EQ(qr_pull_last_error(p)->sys_errno, ENOENT);
    CHECK_INT_EQ(stat(path, &sb), -1);
    qr_pull_free(p);
    o.flags = QR_PULL_NO_DELIVERY;
    CHECK_INT_EQ(qr_pull_new(&p, &o), 0);
    CHECK_INT_EQ(qr_pull_open(p), 0);
    CHECK_INT_EQ(qr_pull_open(p), 0); /* already open */
    CHECK_INT_EQ(child_open(path), 1);
    CHECK_INT_EQ(qr_pull_new(&q, &o), 0);
    CHECK_INT_EQ(qr_pull_open(q), 0); /* same process: POSIX locks do not exclude it */
    qr_pull_free(q);                  /* and closing q's descriptor drops p's lock */
    CHECK_INT_EQ(child_open(path), 0);
    qr_pull_free(p);
    unlink(path);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    TAP_RUN(test_format_big_endian);
    TAP_RUN(test_spec_example);
    TAP_RUN(test_perl_written_file);
    TAP_RUN(test_short_read_is_corruption);
    TAP_RUN(test_lock_excludes_another_process);
    TAP_RUN(test_fcntl_lock_of_another_process);
    TAP_RUN(test_idle_mode_never_creates);
    TAP_RUN(test_dsync_and_cloexec);
    TAP_RUN(test_finish_keeps_the_list_above_uidnext);
    TAP_RUN(test_write_error_on_a_read_only_descriptor);
    TAP_RUN(test_open_allocation_failure);
    TAP_RUN(test_pull_open);
    rmdir(dir);
    return tap_done();
}
