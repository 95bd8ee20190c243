/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tunnel layer tests with real child processes (transport/tunnel.c): echo
 * through cat, the shell path and exit statuses, exec failures, the child's
 * signal mask, stderr handling, descriptor hygiene and reaping.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "util/alloc.h"

/* A stack with one tunnel layer running command; 0 or the create error. */
static int open_tunnel(qr_stack *s, qr_errslot *err, const char *command, int null_stderr)
{
    qr_tunnel_options o = {command, null_stderr};
    qr_layer *l = NULL;
    int rc;

    qr_errslot_clear(err);
    qr_stack_init(s, err);
    rc = qr_tunnel_layer_create(&l, s, &o);
    if (rc == 0)
        qr_stack_push(s, l);
    return rc;
}

static int pid_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

static void test_cat_echo_small(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[64];
    int last;

    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 0), 0);
    CHECK_INT_EQ(qr_stack_step(&s), 0);
    CHECK(qr_stack_fd(&s) >= 0);
    CHECK_INT_EQ(qr_stack_interest(&s), 0);
    CHECK_INT_EQ(tt_write_all(&s, "a1 NOOP\r\n", 9), 0);
    CHECK_UINT_EQ(tt_read_some(&s, buf, 9, 64, &last), 9);
    CHECK_MEM_EQ(buf, 9, "a1 NOOP\r\n", 9);
    CHECK_INT_EQ(last, 0);
    CHECK_UINT_EQ(s.traffic.wire_out, 9);
    CHECK_UINT_EQ(s.traffic.wire_in, 9);
    CHECK_UINT_EQ(s.traffic.plain_out, 9);
    CHECK_UINT_EQ(s.traffic.plain_in, 9);
    /* nothing more: QR_EAGAIN, not EOF */
    CHECK_INT_EQ(qr_stack_read(&s, buf, sizeof(buf)), QR_EAGAIN);
    qr_stack_destroy(&s);
}

static void test_cat_echo_1mib_both_ways(void)
{
    size_t len = 1024 * 1024;
    unsigned char *data = malloc(len), *back = malloc(len);
    qr_errslot err;
    qr_stack s;

    tt_random(data, len, 42);
    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 0), 0);
    CHECK_INT_EQ(tt_echo(&s, data, back, len, 7000), 0);
    CHECK(memcmp(data, back, len) == 0);
    CHECK_UINT_EQ(s.traffic.wire_out, len);
    CHECK_UINT_EQ(s.traffic.wire_in, len);
    CHECK_UINT_EQ(s.traffic.plain_in, len);
    qr_stack_destroy(&s);
    free(data);
    free(back);
}

static void test_shell_path_output_then_exit_status(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[64];
    int last, status = -1;

    CHECK_INT_EQ(open_tunnel(&s, &err, "printf 'x\\n'; exit 3", 0), 0);
    CHECK_UINT_EQ(tt_read_to_eof(&s, buf, sizeof(buf), &last), 2);
    CHECK_MEM_EQ(buf, 2, "x\n", 2);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_INT_EQ(qr_errslot_get(&err)->code, QR_EOF);
    CHECK_STR_EQ(qr_errslot_get(&err)->message,
                 "tunnel printf 'x\\n'; exit 3: 0 bytes read (got EOF); "
                 "tunnel command exited with status 3");
    CHECK_INT_EQ(qr_tunnel_layer_status(s.top, &status), 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    /* EOF is sticky */
    CHECK_INT_EQ(qr_stack_read(&s, buf, sizeof(buf)), QR_EOF);
    qr_stack_destroy(&s);
}

static void test_killed_by_signal_reported(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[16];
    int last;

    CHECK_INT_EQ(open_tunnel(&s, &err, "kill -9 $$", 0), 0);
    CHECK_UINT_EQ(tt_read_to_eof(&s, buf, sizeof(buf), &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK(strstr(qr_errslot_get(&err)->message, "; tunnel command killed by signal 9") != NULL);
    qr_stack_destroy(&s);
}

static void test_exec_failure_words_path(void)
{
    static const char expect[] =
        "libqresync tunnel: exec /nonexistent/qr-prog: No such file or directory\n";
    qr_errslot err;
    qr_stack s;
    char buf[256];
    int last, status = -1;
    size_t n;

    /* the trailing 2>&1 sends the child's failure line into the stream */
    CHECK_INT_EQ(open_tunnel(&s, &err, "/nonexistent/qr-prog arg 2>&1", 0), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    CHECK_MEM_EQ(buf, n, expect, sizeof(expect) - 1);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK(strstr(qr_errslot_get(&err)->message, "tunnel command exited with status 255") != NULL);
    CHECK_INT_EQ(qr_tunnel_layer_status(s.top, &status), 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 255);
    qr_stack_destroy(&s);
}

static void test_exec_failure_shell_path(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[64];
    int last;

    CHECK_INT_EQ(open_tunnel(&s, &err, "exec /nonexistent/qr-prog", 1), 0);
    CHECK_UINT_EQ(tt_read_to_eof(&s, buf, sizeof(buf), &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK(strstr(qr_errslot_get(&err)->message, "tunnel command exited with status 127") != NULL);
    qr_stack_destroy(&s);
}

static void test_sigint_blocked_in_child(void)
{
    qr_errslot err;
    qr_stack s;
    char path[64], line[256], buf[4];
    unsigned long long mask = 0;
    int last, found = 0;
    FILE *f;

    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 0), 0);
    /* a round trip proves cat runs (past the child's sigprocmask) */
    CHECK_INT_EQ(tt_write_all(&s, "ping", 4), 0);
    CHECK_UINT_EQ(tt_read_some(&s, buf, 4, 4, &last), 4);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)qr_tunnel_layer_pid(s.top));
    f = fopen(path, "r");
    CHECK(f != NULL);
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            found = 1;
    if (f)
        fclose(f);
    CHECK(found);
    CHECK_UINT_EQ(mask & (1ULL << (SIGINT - 1)), 1ULL << (SIGINT - 1));
    qr_stack_destroy(&s);
}

static void test_null_stderr(void)
{
    char mine[256], buf[256];
    qr_errslot err;
    qr_stack s;
    ssize_t len;
    size_t n;
    int last;

    CHECK_INT_EQ(open_tunnel(&s, &err, "readlink /proc/self/fd/2", 1), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    CHECK_MEM_EQ(buf, n, "/dev/null\n", 10);
    qr_stack_destroy(&s);

    /* without the flag the child shares our stderr */
    len = readlink("/proc/self/fd/2", mine, sizeof(mine) - 2);
    CHECK(len > 0);
    if (len <= 0)
        return;
    mine[len++] = '\n';
    CHECK_INT_EQ(open_tunnel(&s, &err, "readlink /proc/self/fd/2", 0), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    CHECK_MEM_EQ(buf, n, mine, (size_t)len);
    qr_stack_destroy(&s);

    /* the other way round with the 2>&1 rule: stderr into the stream */
    CHECK_INT_EQ(open_tunnel(&s, &err, "readlink /proc/self/fd/2 2>&1", 1), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    CHECK(n > 7 && memcmp(buf, "socket:", 7) == 0);
    qr_stack_destroy(&s);
}

static void test_no_fd_leaks_into_child(void)
{
    int leak1 = dup(0), leak2 = open("/dev/null", O_RDONLY); /* deliberately not CLOEXEC */
    qr_errslot err;
    qr_stack s;
    char buf[256];
    size_t n;
    int last;

    CHECK(leak1 >= 3 && leak2 >= 3);
    CHECK_INT_EQ(open_tunnel(&s, &err, "ls /proc/self/fd", 1), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    /* 0-2 and ls's own directory handle, nothing else */
    CHECK_MEM_EQ(buf, n, "0\n1\n2\n3\n", 8);
    qr_stack_destroy(&s);
    close(leak1);
    close(leak2);
}

static void test_environment_is_inherited(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[64];
    size_t n;
    int last;

    setenv("QR_TUNNEL_TEST_VAR", "hello world", 1);
    CHECK_INT_EQ(open_tunnel(&s, &err, "printenv QR_TUNNEL_TEST_VAR", 0), 0);
    n = tt_read_to_eof(&s, buf, sizeof(buf), &last);
    CHECK_MEM_EQ(buf, n, "hello world\n", 12);
    qr_stack_destroy(&s);
    unsetenv("QR_TUNNEL_TEST_VAR");
}

static void test_child_reaped_on_destroy(void)
{
    qr_errslot err;
    qr_stack s;
    pid_t pid;
    int64_t t0;

    /* cat ends when its socket is shut down */
    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 0), 0);
    pid = qr_tunnel_layer_pid(s.top);
    CHECK(pid > 0);
    CHECK(!pid_gone(pid));
    qr_stack_destroy(&s);
    CHECK(pid_gone(pid));

    /* a child that ignores its stdin gets SIGTERM after the bounded wait */
    CHECK_INT_EQ(open_tunnel(&s, &err, "exec sleep 30", 0), 0);
    pid = qr_tunnel_layer_pid(s.top);
    t0 = qr_now_ms();
    qr_stack_destroy(&s);
    CHECK(pid_gone(pid));
    CHECK(qr_now_ms() - t0 < 5000);
}

static void test_close_then_eof(void)
{
    qr_errslot err;
    qr_stack s;
    char buf[8];
    int last, status = -1;

    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 0), 0);
    CHECK_INT_EQ(qr_stack_close(&s), 0);
    CHECK_UINT_EQ(tt_read_to_eof(&s, buf, sizeof(buf), &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_INT_EQ(qr_tunnel_layer_status(s.top, &status), 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    qr_stack_destroy(&s);
}

static void test_missing_command(void)
{
    qr_errslot err;
    qr_stack s;

    CHECK_INT_EQ(open_tunnel(&s, &err, "", 0), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing tunnel command");
    CHECK(s.top == NULL);
    CHECK_INT_EQ(open_tunnel(&s, &err, " \t\n", 0), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing tunnel command");
    qr_stack_destroy(&s);
}

static void test_allocation_failures(void)
{
    unsigned long n, points;
    qr_errslot err;
    qr_stack s;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 1), 0);
    points = qr_alloc_count();
    qr_stack_destroy(&s);
    for (n = 1; n <= points; n++) {
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(open_tunnel(&s, &err, "cat", 1), QR_ENOMEM);
        CHECK(s.top == NULL);
        qr_alloc_fail_at(0, 0);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL);
    TAP_RUN(test_cat_echo_small);
    TAP_RUN(test_cat_echo_1mib_both_ways);
    TAP_RUN(test_shell_path_output_then_exit_status);
    TAP_RUN(test_killed_by_signal_reported);
    TAP_RUN(test_exec_failure_words_path);
    TAP_RUN(test_exec_failure_shell_path);
    TAP_RUN(test_sigint_blocked_in_child);
    TAP_RUN(test_null_stderr);
    TAP_RUN(test_no_fd_leaks_into_child);
    TAP_RUN(test_environment_is_inherited);
    TAP_RUN(test_child_reaped_on_destroy);
    TAP_RUN(test_close_then_eof);
    TAP_RUN(test_missing_command);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
