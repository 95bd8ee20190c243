/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-conn-dovecot: qr_conn against the rig's real Dovecot (suite
 * dovecot). Run as `rig.py run --daemon --stores 1 --compress
 * --skip-exit 0 -- test-conn-dovecot`.
 *
 * Covers: IMAPS verified with the rig's CA; IMAP + STARTTLS; the PREAUTH
 * tunnel with COMPRESS (wire vs plain counters); PLAIN, LOGIN and
 * SCRAM-SHA-256; a wrong password (QR_EAUTH with the server's text and
 * the place); COMPRESS on the daemon; the rig's SPKI pin accepted, a
 * wrong one refused; ENABLE QRESYNC; 1,000 NOOPs in flight through the
 * loop, each completed exactly once; SOCKS5 through a real microsocks
 * (socks5 and socks5h, with and without credentials); no password in
 * DEBUG logs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <qresync/conn.h>
#include <qresync/loop.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "session/setup_p.h"

#define WAIT_MS 20000

static char logbuf[65536];
static size_t loglen;

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    (void)level;
    (void)cat;
    (void)payload;
    if (loglen + len + 2 < sizeof(logbuf)) {
        memcpy(logbuf + loglen, text, len);
        loglen += len;
        logbuf[loglen++] = '\n';
        logbuf[loglen] = '\0';
    }
}

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL ? v : "";
}

/* Options for the daemon: type, port, the rig's CA and first user. */
static void daemon_opts(qr_conn_options *o, qr_conn_type type)
{
    qr_conn_options_init(o, QR_CONN_OPTIONS_VERSION);
    o->type = type;
    o->host = env("QR_RIG_HOST");
    o->port = env(type == QR_CONN_IMAPS ? "QR_RIG_IMAPS_PORT" : "QR_RIG_IMAP_PORT");
    o->ssl_cafile = env("QR_RIG_CAFILE");
    o->username = env("QR_RIG_USER");
    o->password = env("QR_RIG_PASSWORD");
    o->compress = 0;
    o->io_timeout_ms = 10000;
    o->connect_timeout_ms = 10000;
    o->log_fn = log_fn;
    o->log_level = QR_LOG_DEBUG;
}

/* Connect; 0 or the code (its message printed as a diagnostic). */
static int connect_conn(qr_conn **c, const qr_conn_options *o)
{
    int rc;

    loglen = 0;
    rc = qr_conn_new(c, o);
    if (rc == 0)
        rc = qr_conn_connect_wait(*c, WAIT_MS);
    if (rc != 0 && *c != NULL)
        printf("# %s\n", qr_conn_last_error(*c)->message);
    return rc;
}

static size_t noops_done;
static size_t peak_in_flight;

static int count_done(qr_session *s, const qr_session_result *r, void *payload)
{
    size_t inflight = 0;

    qr_session_queue_counts(s, NULL, &inflight);
    if (inflight + 1 > peak_in_flight)
        peak_in_flight = inflight + 1;
    if (payload != NULL)
        ((int *)payload)[0] += r->status == 0 ? 1 : 1000000;
    noops_done++;
    return 0;
}

/* Run n NOOPs through a loop; 0 when every one completed OK once. */
static int run_noops(qr_conn *c, size_t n)
{
    int *seen = calloc(n, sizeof(*seen));
    qr_loop *loop = NULL;
    size_t i;
    int rc, bad = 0;

    noops_done = 0;
    peak_in_flight = 0;
    for (i = 0; i < n; i++)
        if (qr_session_noop(qr_conn_session(c), count_done, &seen[i]) != 0)
            bad++;
    qr_loop_new(&loop);
    qr_loop_add(loop, c);
    rc = qr_loop_run_count(loop, &noops_done, n, 60000);
    for (i = 0; i < n; i++)
        if (seen[i] != 1)
            bad++;
    qr_loop_free(loop);
    free(seen);
    return rc != 0 ? rc : bad;
}

static void close_free(qr_conn *c)
{
    CHECK_INT_EQ(qr_conn_close_wait(c, WAIT_MS), 0);
    CHECK_INT_EQ(qr_conn_state_get(c), QR_CONN_CLOSED);
    qr_conn_free(c);
}

static void test_imaps_verified(void)
{
    qr_conn_options o;
    qr_conn_traffic_stats t;
    qr_conn *c = NULL;

    daemon_opts(&o, QR_CONN_IMAPS);
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    qr_conn_traffic(c, &t);
    CHECK_INT_EQ(t.tls, 1);
    CHECK(t.wire_in > t.plain_in); /* TLS overhead */
    CHECK_INT_EQ(run_noops(c, 3), 0);
    CHECK(strstr(logbuf, env("QR_RIG_PASSWORD")) == NULL); /* redacted at DEBUG */
    CHECK(strstr(logbuf, "AUTHENTICATE PLAIN") != NULL);
    close_free(c);
}

static void test_starttls(void)
{
    qr_conn_options o;
    qr_conn_traffic_stats t;
    qr_conn *c = NULL;

    daemon_opts(&o, QR_CONN_IMAP);
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    qr_conn_traffic(c, &t);
    CHECK_INT_EQ(t.tls, 1);
    CHECK(strstr(logbuf, "STARTTLS") != NULL);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_has_cap(qr_conn_session(c), QR_CAP_STARTTLS), 0); /* fresh list */
    CHECK_INT_EQ(run_noops(c, 2), 0);
    close_free(c);
}

static void test_tunnel_compress(void)
{
    qr_conn_options o;
    qr_conn_traffic_stats t;
    qr_conn *c = NULL;

    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.type = QR_CONN_TUNNEL;
    o.command = env("QR_RIG_STORE0_COMMAND");
    o.null_stderr = 1;
    o.compress = 1;
    o.log_fn = log_fn;
    o.log_level = QR_LOG_DEBUG;
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(run_noops(c, 50), 0);
    qr_conn_traffic(c, &t);
    CHECK_INT_EQ(t.compressed, 1);
    CHECK(t.compr_in > 0 && t.compr_out > 0);
    CHECK(t.wire_in < t.plain_in);   /* NOOP answers compress well */
    CHECK(t.wire_out < t.plain_out); /* and so do the commands */
    CHECK(strstr(logbuf, "COMPRESS DEFLATE") != NULL);
    close_free(c);
}

static void auth_with(const char *mechs)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    char want[64];

    daemon_opts(&o, QR_CONN_IMAPS);
    o.auth = mechs;
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    snprintf(want, sizeof(want), "authenticated with %s", mechs);
    if (strstr(logbuf, want) == NULL)
        printf("# log:\n%s", logbuf);
    CHECK(strstr(logbuf, want) != NULL);
    CHECK(strstr(logbuf, env("QR_RIG_PASSWORD")) == NULL);
    close_free(c);
}

static void test_auth_plain(void)
{
    auth_with("PLAIN");
}

static void test_auth_login(void)
{
    auth_with("LOGIN");
}

static void test_auth_scram(void)
{
    auth_with("SCRAM-SHA-256");
}

static void test_wrong_password(void)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    const qr_error *e;

    daemon_opts(&o, QR_CONN_IMAPS);
    o.password = "not-the-password";
    CHECK_INT_EQ(connect_conn(&c, &o), QR_EAUTH);
    e = qr_conn_last_error(c);
    CHECK_INT_EQ(e->code, QR_EAUTH);
    CHECK(strstr(e->message, env("QR_RIG_IMAPS_PORT")) != NULL);
    CHECK(strstr(e->message, "NO") != NULL);
    CHECK(e->resp_text != NULL && strstr(e->resp_text, "uthentication failed") != NULL);
    CHECK_INT_EQ(qr_conn_state_get(c), QR_CONN_FAILED);
    CHECK_INT_EQ(qr_conn_fd(c), -1);
    CHECK_INT_EQ(qr_conn_process(c, 0), QR_EAUTH);
    qr_conn_free(c);
}

static void test_compress_daemon(void)
{
    qr_conn_options o;
    qr_conn_traffic_stats t;
    qr_conn *c = NULL;

    daemon_opts(&o, QR_CONN_IMAPS);
    o.compress = 1;
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(run_noops(c, 20), 0);
    qr_conn_traffic(c, &t);
    CHECK_INT_EQ(t.compressed, 1);
    CHECK(t.compr_in < t.plain_in);
    close_free(c);
}

static void test_pins(void)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    char pin[200];

    snprintf(pin, sizeof(pin), "sha256$%064d sha256$%s", 0, env("QR_RIG_SPKI_SHA256"));
    daemon_opts(&o, QR_CONN_IMAPS);
    o.ssl_fingerprint = pin; /* the right one among several */
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    close_free(c);

    snprintf(pin, sizeof(pin), "sha256$%064d", 1);
    daemon_opts(&o, QR_CONN_IMAPS);
    o.ssl_fingerprint = pin;
    CHECK_INT_EQ(connect_conn(&c, &o), QR_ETLS);
    CHECK(strstr(logbuf, "Fingerprint doesn't match") != NULL);
    qr_conn_free(c);

    daemon_opts(&o, QR_CONN_IMAP); /* STARTTLS too */
    o.ssl_fingerprint = pin;
    CHECK_INT_EQ(connect_conn(&c, &o), QR_ETLS);
    qr_conn_free(c);
}

static void test_enable_qresync(void)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    static const qr_cap need[] = {QR_CAP_QRESYNC, QR_CAP_UIDPLUS};

    daemon_opts(&o, QR_CONN_IMAPS);
    o.enable = "QRESYNC";
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK(strstr(logbuf, "ENABLE QRESYNC") != NULL);
    CHECK_INT_EQ(qr_session_setup_enabled(qr_conn_session(c), "qresync"), 1);
    CHECK_INT_EQ(qr_session_require(qr_conn_session(c), need, 2), 0);
    close_free(c);
}

static void test_pipeline_1000(void)
{
    qr_conn_options o;
    qr_conn *c = NULL;

    daemon_opts(&o, QR_CONN_IMAPS);
    o.log_fn = NULL;
    o.compress = 1;
    o.max_in_flight = 1000;
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(run_noops(c, 1000), 0);
    CHECK_UINT_EQ(noops_done, 1000);
    printf("# peak in flight: %zu\n", peak_in_flight);
    CHECK(peak_in_flight > 500); /* really pipelined, not one by one */
    close_free(c);
}

/* --- SOCKS5 through microsocks -------------------------------------------------- */

static pid_t socks_pid;
static char socks_port[16];

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void start_socks(int with_auth)
{
    snprintf(socks_port, sizeof(socks_port), "%d", free_port());
    socks_pid = fork();
    if (socks_pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1); /* microsocks talks; TAP must stay clean */
        dup2(null, 2);
        if (with_auth)
            execlp("microsocks", "microsocks", "-i", "127.0.0.1", "-p", socks_port, "-u", "pxuser",
                   "-P", "pxpass", (char *)NULL);
        else
            execlp("microsocks", "microsocks", "-i", "127.0.0.1", "-p", socks_port, (char *)NULL);
        _exit(127);
    }
    usleep(200000);
}

static void stop_socks(void)
{
    kill(socks_pid, SIGTERM);
    waitpid(socks_pid, NULL, 0);
}

static void via_proxy(const char *scheme, const char *cred, const char *host)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    char uri[128];

    snprintf(uri, sizeof(uri), "%s://%s127.0.0.1:%s", scheme, cred, socks_port);
    daemon_opts(&o, QR_CONN_IMAPS);
    o.host = host;
    o.proxy = uri;
    CHECK_INT_EQ(connect_conn(&c, &o), 0);
    CHECK_INT_EQ(qr_session_state_get(qr_conn_session(c)), QR_SESSION_AUTHENTICATED);
    close_free(c);
}

static void test_socks5(void)
{
    start_socks(0);
    via_proxy("socks5", "", "127.0.0.1");
    via_proxy("socks5", "", "localhost");
    via_proxy("socks5h", "", "localhost");
    stop_socks();
}

static void test_socks5_auth(void)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    char uri[128];

    start_socks(1);
    via_proxy("socks5", "pxuser:pxpass@", "127.0.0.1");
    via_proxy("socks5h", "pxuser:pxpass@", "localhost");
    snprintf(uri, sizeof(uri), "socks5://pxuser:wrong@127.0.0.1:%s", socks_port);
    daemon_opts(&o, QR_CONN_IMAPS);
    o.proxy = uri;
    CHECK(connect_conn(&c, &o) < 0);
    CHECK(strstr(qr_conn_last_error(c)->message, "SOCKSv5 ERROR") != NULL);
    qr_conn_free(c);
    stop_socks();
}

int main(void)
{
    if (getenv("QR_RIG_IMAPS_PORT") == NULL) {
        printf("1..0 # SKIP not run under tests/rig/rig.py\n");
        return 0;
    }
    signal(SIGPIPE, SIG_DFL); /* the library must not need SIG_IGN */
    TAP_RUN(test_imaps_verified);
    TAP_RUN(test_starttls);
    TAP_RUN(test_tunnel_compress);
    TAP_RUN(test_auth_plain);
    TAP_RUN(test_auth_login);
    TAP_RUN(test_auth_scram);
    TAP_RUN(test_wrong_password);
    TAP_RUN(test_compress_daemon);
    TAP_RUN(test_pins);
    TAP_RUN(test_enable_qresync);
    TAP_RUN(test_pipeline_1000);
    TAP_RUN(test_socks5);
    TAP_RUN(test_socks5_auth);
    return tap_done();
}
