/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TCP layer tests on loopback (transport/socket.c): connect and echo,
 * bracketed literals, error texts, trying the next address after a refusal
 * or a timeout, keep-alive options, resolver errors, adopted fds.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "util/alloc.h"

static const char *skip_reason; /* set by a test that cannot run here */

/* TAP_RUN, plus a "# SKIP reason" directive when the test set skip_reason. */
static void run_(void (*fn)(void), const char *name)
{
    skip_reason = NULL;
    tap_current_bad = 0;
    fn();
    tap_count++;
    if (tap_current_bad)
        tap_failures++;
    printf("%sok %d - %s%s%s\n", tap_current_bad ? "not " : "", tap_count, name,
           skip_reason ? " # SKIP " : "", skip_reason ? skip_reason : "");
    fflush(stdout);
}

#define RUN(fn) run_(fn, #fn)

/* A listening socket on addr (127.0.0.1 or ::1), port 0; -1 if impossible. */
static int listen_on(int family, int backlog, char port[16])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    }
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
        close(fd);
        return -1;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    snprintf(port, 16, "%u",
             ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                     : ((struct sockaddr_in6 *)&ss)->sin6_port));
    return fd;
}

/* A loopback port nobody listens on (bound, then closed). */
static void closed_port(char port[16])
{
    int fd = listen_on(AF_INET, 1, port);

    close(fd);
}

static int open_tcp(qr_stack *s, qr_errslot *err, const char *host, const char *port, int ka)
{
    qr_socket_options o = {host, port, ka, 5000};
    qr_layer *l = NULL;
    int rc;

    qr_errslot_clear(err);
    qr_stack_init(s, err);
    rc = qr_socket_layer_create(&l, s, &o);
    if (rc == 0)
        qr_stack_push(s, l);
    return rc;
}

/* Stack connected to host:port; echo one exchange through the accepted fd. */
static void echo_once(qr_stack *s, int lfd)
{
    char buf[32];
    int peer, last;

    peer = accept(lfd, NULL, NULL);
    CHECK(peer >= 0);
    if (peer < 0)
        return;
    CHECK_INT_EQ(tt_write_all(s, "a1 CAPABILITY\r\n", 15), 0);
    CHECK_INT_EQ(read(peer, buf, sizeof(buf)), 15);
    CHECK_MEM_EQ(buf, 15, "a1 CAPABILITY\r\n", 15);
    CHECK_INT_EQ(write(peer, "* OK hi\r\n", 9), 9);
    CHECK_UINT_EQ(tt_read_some(s, buf, 9, sizeof(buf), &last), 9);
    CHECK_MEM_EQ(buf, 9, "* OK hi\r\n", 9);
    CHECK_INT_EQ(qr_stack_read(s, buf, sizeof(buf)), QR_EAGAIN);
    close(peer);
    CHECK_INT_EQ(tt_read_some(s, buf, 1, 1, &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
}

static void test_connect_and_echo_ipv4(void)
{
    char port[16], want[96];
    int lfd = listen_on(AF_INET, 4, port);
    qr_errslot err;
    qr_stack s;

    CHECK(lfd >= 0);
    CHECK_INT_EQ(open_tcp(&s, &err, "127.0.0.1", port, 0), 0);
    CHECK_INT_EQ(qr_stack_fd(&s), -1);
    CHECK_INT_EQ(tt_step(&s), 0);
    CHECK(qr_stack_fd(&s) >= 0);
    CHECK_INT_EQ(qr_stack_interest(&s), 0);
    CHECK_INT_EQ(qr_stack_deadline(&s), -1);
    echo_once(&s, lfd);
    snprintf(want, sizeof(want), "read from 127.0.0.1:%s: 0 bytes read (got EOF)", port);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    CHECK_UINT_EQ(s.traffic.wire_out, 15);
    CHECK_UINT_EQ(s.traffic.wire_in, 9);
    CHECK_UINT_EQ(s.traffic.plain_out, 15);
    CHECK_UINT_EQ(s.traffic.plain_in, 9);
    CHECK_INT_EQ(qr_stack_step(&s), 0);
    qr_stack_destroy(&s);
    close(lfd);
}

static void test_bracketed_ipv4_literal(void)
{
    char port[16];
    int lfd = listen_on(AF_INET, 4, port);
    qr_errslot err;
    qr_stack s;

    CHECK_INT_EQ(open_tcp(&s, &err, "[127.0.0.1]", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    echo_once(&s, lfd);
    qr_stack_destroy(&s);
    close(lfd);
}

static void test_ipv6_loopback(void)
{
    char port[16];
    int lfd = listen_on(AF_INET6, 4, port);
    qr_errslot err;
    qr_stack s;

    if (lfd < 0) {
        skip_reason = "no IPv6 loopback";
        return;
    }
    CHECK_INT_EQ(open_tcp(&s, &err, "[::1]", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    echo_once(&s, lfd);
    qr_stack_destroy(&s);
    /* unbracketed IPv6 literal too */
    CHECK_INT_EQ(open_tcp(&s, &err, "::1", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    echo_once(&s, lfd);
    qr_stack_destroy(&s);
    close(lfd);
}

static void check_invalid_literal(const char *host, const char *want)
{
    qr_errslot err;
    qr_stack s;

    CHECK_INT_EQ(open_tcp(&s, &err, host, "143", 0), 0);
    CHECK_INT_EQ(qr_stack_step(&s), QR_EINVAL);
    CHECK_INT_EQ(qr_errslot_get(&err)->code, QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    /* the failure is sticky */
    CHECK_INT_EQ(qr_stack_step(&s), QR_EINVAL);
    CHECK_INT_EQ(qr_stack_fd(&s), -1);
    qr_stack_destroy(&s);
}

static void test_invalid_ip_literal(void)
{
    check_invalid_literal("[imap.example.org]", "Invalid IP literal: imap.example.org");
    check_invalid_literal("[1.2.3]", "Invalid IP literal: 1.2.3");
    check_invalid_literal("[127.0.0.01]", "Invalid IP literal: 127.0.0.01");
    check_invalid_literal("[fe80::1%lo]", "Invalid IP literal: fe80::1%lo");
    check_invalid_literal("[]", "Invalid IP literal: ");
}

static void test_connection_refused(void)
{
    char port[16], want[96];
    qr_errslot err;
    qr_stack s;

    closed_port(port);
    CHECK_INT_EQ(open_tcp(&s, &err, "127.0.0.1", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), QR_EIO);
    snprintf(want, sizeof(want), "Can't connect to 127.0.0.1:%s: %s", port, strerror(ECONNREFUSED));
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    CHECK_INT_EQ(qr_errslot_get(&err)->sys_errno, ECONNREFUSED);
    CHECK_INT_EQ(qr_stack_step(&s), QR_EIO);
    CHECK_INT_EQ(qr_stack_fd(&s), -1);
    qr_stack_destroy(&s);

    /* the host as configured, brackets included */
    CHECK_INT_EQ(open_tcp(&s, &err, "[127.0.0.1]", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), QR_EIO);
    snprintf(want, sizeof(want), "Can't connect to [127.0.0.1]:%s: %s", port,
             strerror(ECONNREFUSED));
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    qr_stack_destroy(&s);
}

static void fill_addr(struct sockaddr_in *a, const char *port)
{
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((uint16_t)atoi(port));
}

static void test_next_address_after_refusal(void)
{
    char good[16], bad[16];
    int lfd = listen_on(AF_INET, 4, good);
    struct sockaddr_in a[2];
    const struct sockaddr *list[2] = {(struct sockaddr *)&a[0], (struct sockaddr *)&a[1]};
    socklen_t lens[2] = {sizeof(a[0]), sizeof(a[1])};
    qr_errslot err;
    qr_stack s;

    closed_port(bad);
    fill_addr(&a[0], bad);
    fill_addr(&a[1], good);
    CHECK_INT_EQ(open_tcp(&s, &err, "multi.test", good, 0), 0);
    CHECK_INT_EQ(qr_socket_layer_set_addrs(s.top, list, lens, 2), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    echo_once(&s, lfd);
    CHECK_INT_EQ(qr_socket_layer_set_addrs(s.top, list, lens, 2), QR_EINVAL);
    qr_stack_destroy(&s);
    close(lfd);
}

/* "localhost" with both ::1 and 127.0.0.1 and only the later one listening. */
static void test_localhost_tries_each_address(void)
{
    struct addrinfo hints, *res = NULL, *ai;
    int n = 0, last_family = 0, lfd;
    char port[16];
    qr_errslot err;
    qr_stack s;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if (getaddrinfo("localhost", "143", &hints, &res) == 0) {
        for (ai = res; ai; ai = ai->ai_next, n++)
            last_family = ai->ai_family;
        freeaddrinfo(res);
    }
    lfd = n >= 2 && res && res->ai_family != last_family ? listen_on(last_family, 4, port) : -1;
    if (lfd < 0) {
        skip_reason = "localhost does not resolve to both IPv6 and IPv4 loopback here";
        return;
    }
    CHECK_INT_EQ(open_tcp(&s, &err, "localhost", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    echo_once(&s, lfd);
    qr_stack_destroy(&s);
    close(lfd);
}

/* A listener whose accept queue is full: new connects hang (SYNs dropped). */
static int full_listener(char port[16], int *fillers, int nfill)
{
    struct sockaddr_in a;
    struct pollfd p;
    int lfd = listen_on(AF_INET, 0, port), i, probe;

    fill_addr(&a, port);
    for (i = 0; i < nfill; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(100 * 1000);
    probe = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(probe, (struct sockaddr *)&a, sizeof(a));
    p.fd = probe;
    p.events = POLLOUT;
    i = poll(&p, 1, 200);
    close(probe);
    if (i != 0) { /* the probe connected or failed: no hanging connect here */
        close(lfd);
        return -1;
    }
    return lfd;
}

static void test_connect_timeout_moves_on(void)
{
    char full[16], good[16], want[96];
    int fillers[3], lfd_full = full_listener(full, fillers, 3), lfd, i;
    struct sockaddr_in a[2];
    const struct sockaddr *list[2] = {(struct sockaddr *)&a[0], (struct sockaddr *)&a[1]};
    socklen_t lens[2] = {sizeof(a[0]), sizeof(a[1])};
    qr_socket_options o = {"slow.test", good, 0, 300};
    qr_layer *l = NULL;
    qr_errslot err;
    qr_stack s;
    int64_t t0, d;

    if (lfd_full < 0) {
        skip_reason = "cannot make a connect hang on loopback here";
        return;
    }
    lfd = listen_on(AF_INET, 4, good);
    fill_addr(&a[0], full);
    fill_addr(&a[1], good);
    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), 0);
    qr_stack_push(&s, l);
    CHECK_INT_EQ(qr_socket_layer_set_addrs(l, list, lens, 2), 0);
    t0 = qr_now_ms();
    CHECK_INT_EQ(qr_stack_step(&s), QR_EAGAIN);
    CHECK_INT_EQ(qr_stack_interest(&s), POLLOUT);
    d = qr_stack_deadline(&s);
    CHECK(d >= t0 + 300 && d <= qr_now_ms() + 300);
    CHECK_INT_EQ(tt_step(&s), 0);
    CHECK(qr_now_ms() - t0 >= 300);
    CHECK_INT_EQ(qr_stack_deadline(&s), -1);
    echo_once(&s, lfd);
    qr_stack_destroy(&s);

    /* only the hanging address: "Can't connect" with ETIMEDOUT */
    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    o.port = full;
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), 0);
    qr_stack_push(&s, l);
    CHECK_INT_EQ(qr_socket_layer_set_addrs(l, list, lens, 1), 0);
    CHECK_INT_EQ(tt_step(&s), QR_EIO);
    snprintf(want, sizeof(want), "Can't connect to slow.test:%s: %s", full, strerror(ETIMEDOUT));
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    qr_stack_destroy(&s);
    for (i = 0; i < 3; i++)
        close(fillers[i]);
    close(lfd_full);
    close(lfd);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, level, name, &v, &len) < 0)
        return -2;
    return v;
}

static void test_keepalive(void)
{
    char port[16];
    int lfd = listen_on(AF_INET, 4, port);
    qr_errslot err;
    qr_stack s;

    CHECK_INT_EQ(open_tcp(&s, &err, "127.0.0.1", port, 1), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    CHECK_INT_EQ(sockopt(qr_stack_fd(&s), SOL_SOCKET, SO_KEEPALIVE), 1);
    CHECK_INT_EQ(sockopt(qr_stack_fd(&s), IPPROTO_TCP, TCP_KEEPIDLE), 60);
    qr_stack_destroy(&s);
    CHECK_INT_EQ(open_tcp(&s, &err, "127.0.0.1", port, 0), 0);
    CHECK_INT_EQ(tt_step(&s), 0);
    CHECK_INT_EQ(sockopt(qr_stack_fd(&s), SOL_SOCKET, SO_KEEPALIVE), 0);
    qr_stack_destroy(&s);
    close(lfd);
}

static void check_gai_error(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL;
    char want[256];
    qr_errslot err;
    qr_stack s;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    rc = getaddrinfo(host, port, &hints, &res);
    CHECK(rc != 0);
    if (rc == 0) {
        freeaddrinfo(res);
        return;
    }
    snprintf(want, sizeof(want), "getaddrinfo(%s): %s", host, gai_strerror(rc));
    CHECK_INT_EQ(open_tcp(&s, &err, host, port, 0), 0);
    CHECK_INT_EQ(qr_stack_step(&s), QR_EIO);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
    qr_stack_destroy(&s);
}

static void test_resolver_errors(void)
{
    check_gai_error("no-such-host.invalid", "143");
    check_gai_error("127.0.0.1", "no-such-service-qr");
}

static void test_service_name_port(void)
{
    struct servent *se = getservbyname("imap2", "tcp");
    qr_errslot err;
    qr_stack s;

    /* resolution only: "imap2" maps to 143; nothing listens there, so just
       check that the name was accepted (no getaddrinfo error) */
    if (!se) {
        skip_reason = "no imap2 entry in /etc/services";
        return;
    }
    CHECK_INT_EQ(open_tcp(&s, &err, "127.0.0.1", "imap2", 0), 0);
    CHECK(tt_step(&s) != QR_EAGAIN);
    CHECK(strncmp(qr_errslot_get(&err)->message, "getaddrinfo", 11) != 0);
    qr_stack_destroy(&s);
}

static void test_misuse(void)
{
    qr_socket_options o = {NULL, "143", 0, 0};
    qr_layer *l = (qr_layer *)&o;
    char buf[4];
    struct iovec v = {buf, 1};
    qr_errslot err;
    qr_stack s;

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), QR_EINVAL);
    CHECK(l == NULL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing option host");
    o.host = "h";
    o.port = "";
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing option port");
    o.port = "143";
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), 0);
    qr_stack_push(&s, l);
    CHECK_INT_EQ(qr_stack_read(&s, buf, sizeof(buf)), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "read on h:143 before the connection is set up");
    CHECK_INT_EQ(qr_stack_write(&s, &v, 1), QR_EINVAL);
    qr_stack_destroy(&s);
    /* an empty stack */
    CHECK_INT_EQ(qr_stack_read(&s, buf, sizeof(buf)), QR_EINVAL);
    CHECK_INT_EQ(qr_stack_fd(&s), -1);
    CHECK_INT_EQ(qr_stack_step(&s), 0);
}

static void test_adopted_fd(void)
{
    qr_errslot err;
    qr_stack s;
    qr_layer *l = NULL;
    char buf[16];
    int sv[2], last;

    CHECK_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_socket_layer_create_fd(&l, &s, sv[0], "pair"), 0);
    qr_stack_push(&s, l);
    CHECK_INT_EQ(qr_stack_step(&s), 0);
    CHECK_INT_EQ(qr_stack_fd(&s), sv[0]);
    CHECK_INT_EQ(tt_write_all(&s, "abc", 3), 0);
    CHECK_INT_EQ(read(sv[1], buf, sizeof(buf)), 3);
    CHECK_INT_EQ(write(sv[1], "xyz", 3), 3);
    CHECK_UINT_EQ(tt_read_some(&s, buf, 3, 16, &last), 3);
    CHECK_MEM_EQ(buf, 3, "xyz", 3);
    close(sv[1]);
    CHECK_UINT_EQ(tt_read_some(&s, buf, 1, 1, &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "read from pair: 0 bytes read (got EOF)");
    /* writing to a closed peer is an error, not SIGPIPE */
    CHECK_INT_EQ(tt_write_all(&s, "abc", 3), QR_EIO);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "write to pair: Broken pipe");
    CHECK_INT_EQ(qr_errslot_get(&err)->sys_errno, EPIPE);
    qr_stack_destroy(&s);
}

static void test_allocation_failures(void)
{
    qr_socket_options o = {"127.0.0.1", "143", 0, 0};
    unsigned long n, points;
    qr_layer *l = NULL;
    qr_errslot err;
    qr_stack s;

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_socket_layer_create(&l, &s, &o), 0);
    qr_stack_push(&s, l);
    CHECK(qr_stack_step(&s) != QR_ENOMEM);
    points = qr_alloc_count();
    qr_stack_destroy(&s);
    for (n = 1; n <= points; n++) {
        int rc;

        qr_alloc_fail_at(n, 0);
        rc = qr_socket_layer_create(&l, &s, &o);
        if (rc == 0) {
            qr_stack_push(&s, l);
            rc = qr_stack_step(&s);
            qr_stack_destroy(&s);
        }
        CHECK_INT_EQ(rc, QR_ENOMEM);
        qr_alloc_fail_at(0, 0);
    }
}

int main(void)
{
    RUN(test_connect_and_echo_ipv4);
    RUN(test_bracketed_ipv4_literal);
    RUN(test_ipv6_loopback);
    RUN(test_invalid_ip_literal);
    RUN(test_connection_refused);
    RUN(test_next_address_after_refusal);
    RUN(test_localhost_tries_each_address);
    RUN(test_connect_timeout_moves_on);
    RUN(test_keepalive);
    RUN(test_resolver_errors);
    RUN(test_service_name_port);
    RUN(test_misuse);
    RUN(test_adopted_fd);
    RUN(test_allocation_failures);
    return tap_done();
}
