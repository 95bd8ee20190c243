/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SOCKS5 layer tests (transport/socks5.c).
 *
 *  - A scripted fake proxy: a forked child accepts one connection on
 *    127.0.0.1 (port 0) and runs a script of "expect these exact bytes",
 *    "send these bytes" (in one segment or a byte at a time), "expect EOF"
 *    (the client sent nothing more) and "echo". It exits 0 when every
 *    expectation held and prints a '#' diagnostic otherwise; the parent
 *    checks its exit status. Covers success with and without credentials,
 *    each failure text, bound addresses of every type followed by
 *    application bytes in the same segment, local resolution (socks5)
 *    against names (socks5h), EOF mid-reply and the timeout.
 *  - A socketpair driven step by step: one byte per step(), interest bits.
 *  - A real proxy, microsocks, started on a free port and stopped by pid,
 *    in front of an echo server (skipped when microsocks is missing).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "transport/socks5_p.h"
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

/* A string literal and its length (embedded NULs included). */
#define B(lit) lit, sizeof(lit) - 1

/* ---- sockets ------------------------------------------------------------ */

/* A listening socket on the loopback of family, port 0 unless *port is set. */
static int listen_on(int family, char port[16])
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    uint16_t want = (uint16_t)atoi(port);

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(want);
        len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(want);
        len = sizeof(*a);
    }
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0) {
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

/* Wait for pid for up to ms, then kill it: its exit status, or -1. */
static int wait_child(pid_t pid, int ms)
{
    int64_t end = qr_now_ms() + ms;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 || qr_now_ms() > end)
            break;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* ---- the scripted fake proxy -------------------------------------------- */

/* One step of a fake proxy's script. */
typedef struct fp_step {
    char op;           /* 'E' expect bytes, 'S' send, 'B' send bytewise, 'Z' expect EOF,
                          'H' hold len ms, 'X' echo until EOF, 'C' close now */
    const char *bytes; /* what to expect or send */
    size_t len;        /* its length (milliseconds for 'H') */
} fp_step;

#define FP_END                                                                                     \
    {                                                                                              \
        0, NULL, 0                                                                                 \
    }

static void fp_dump(const char *label, const unsigned char *p, size_t n)
{
    size_t i;

    printf("#   %s:", label);
    for (i = 0; i < n; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

/* Read exactly len bytes (or fewer at EOF/timeout): the count. */
static size_t fp_read_full(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int fp_expect(int fd, const fp_step *st, int i)
{
    unsigned char buf[1024];
    size_t got = fp_read_full(fd, buf, st->len);

    if (got == st->len && memcmp(buf, st->bytes, got) == 0)
        return 0;
    printf("# fake proxy step %d: unexpected bytes from the client\n", i);
    fp_dump("want", (const unsigned char *)st->bytes, st->len);
    fp_dump("got ", buf, got);
    return 1;
}

static int fp_send(int fd, const fp_step *st, int bytewise)
{
    size_t i;

    if (!bytewise)
        return write(fd, st->bytes, st->len) == (ssize_t)st->len ? 0 : 1;
    for (i = 0; i < st->len; i++) {
        if (write(fd, st->bytes + i, 1) != 1)
            return 1;
        usleep(3000);
    }
    return 0;
}

static int fp_echo(int fd)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(fd, buf, (size_t)n) != n)
            return 1;
    return n == 0 ? 0 : 1;
}

/* The child: one connection, the whole script. The exit status. */
static int fp_serve(int lfd, const fp_step *script)
{
    struct timeval tv = {5, 0};
    int fd = accept(lfd, NULL, NULL), one = 1, i, bad = 0;
    unsigned char c;

    if (fd < 0)
        return 2;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (i = 0; script[i].op && !bad; i++) {
        const fp_step *st = &script[i];

        if (st->op == 'E')
            bad = fp_expect(fd, st, i);
        else if (st->op == 'S' || st->op == 'B')
            bad = fp_send(fd, st, st->op == 'B');
        else if (st->op == 'H')
            usleep((useconds_t)st->len * 1000);
        else if (st->op == 'X')
            bad = fp_echo(fd);
        else if (st->op == 'C')
            shutdown(fd, SHUT_WR);
        else if (st->op == 'Z' && read(fd, &c, 1) != 0) {
            printf("# fake proxy step %d: expected EOF, got more bytes\n", i);
            bad = 1;
        }
    }
    close(fd);
    return bad ? 1 : 0;
}

/* Fork a fake proxy on 127.0.0.1; its port in port. The pid, or -1. */
static pid_t fp_start(const fp_step *script, char port[16])
{
    int lfd;
    pid_t pid;

    strcpy(port, "0");
    lfd = listen_on(AF_INET, port);
    if (lfd < 0)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int rc = fp_serve(lfd, script);

        fflush(stdout);
        _exit(rc);
    }
    close(lfd);
    return pid;
}

/* A client stack for the given proxy URI and destination. */
typedef struct client {
    qr_errslot err;   /* the stack's error slot */
    qr_stack s;       /* socket layer + SOCKS5 layer */
    qr_proxy_uri uri; /* the parsed proxy option */
    int create_rc;    /* what qr_socks5_push() returned */
} client;

static void client_open(client *c, const char *uri, const char *host, const char *port,
                        int timeout_ms)
{
    qr_socks5_options o = {&c->uri, host, port, timeout_ms};

    qr_errslot_clear(&c->err);
    qr_stack_init(&c->s, &c->err);
    c->create_rc = qr_proxy_uri_parse(&c->uri, uri, &c->err);
    if (c->create_rc == 0)
        c->create_rc = qr_socks5_push(&c->s, &o, 0, 5000);
    CHECK_INT_EQ(c->create_rc, 0);
}

static void client_close(client *c)
{
    qr_stack_destroy(&c->s);
    qr_proxy_uri_free(&c->uri);
}

/*
 * Run script against a client with this URI prefix (proxy port appended)
 * and destination; step() must end with rc and, on error, message. With
 * keep, the client stays open (for reads) and the proxy's pid is returned
 * for finish(); without, both are finished here.
 */
static pid_t run_script(const fp_step *script, const char *scheme, const char *host,
                        const char *port, int rc, const char *message, client *keep)
{
    char pport[16], uri[512];
    client local, *c = keep ? keep : &local;
    pid_t pid = fp_start(script, pport);

    CHECK(pid > 0);
    snprintf(uri, sizeof(uri), "%s127.0.0.1:%s", scheme, pport);
    client_open(c, uri, host, port, 0);
    CHECK_INT_EQ(tt_step(&c->s), rc);
    if (message)
        CHECK_STR_EQ(qr_errslot_get(&c->err)->message, message);
    if (!keep) {
        client_close(c);
        CHECK_INT_EQ(wait_child(pid, 10000), 0);
    }
    return pid;
}

/* Close a client kept by run_script(); its fake proxy must end well. */
static void finish(client *c, pid_t pid)
{
    client_close(c);
    CHECK_INT_EQ(wait_child(pid, 10000), 0);
}

/* The greeting without and with credentials; method replies. */
#define GREET_NOAUTH                                                                               \
    {                                                                                              \
        'E', B("\x05\x01\x00")                                                                     \
    }
#define GREET_AUTH                                                                                 \
    {                                                                                              \
        'E', B("\x05\x02\x00\x02")                                                                 \
    }
#define METHOD_NONE                                                                                \
    {                                                                                              \
        'S', B("\x05\x00")                                                                         \
    }
/* CONNECT to 127.0.0.1:143 and a success reply bound to 0.0.0.0:0. */
#define REQ_LOCAL_143                                                                              \
    {                                                                                              \
        'E', B("\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x8f")                                         \
    }
#define REPLY_OK_V4 "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"

/* Read want through the finished client, then nothing more is there. */
static void check_app_bytes(client *c, const char *want, size_t len)
{
    char buf[256];
    int last;

    CHECK_UINT_EQ(tt_read_some(&c->s, buf, len, 1 + len / 3, &last), len);
    CHECK_MEM_EQ(buf, len, want, len);
    CHECK_INT_EQ(qr_stack_read(&c->s, buf, sizeof(buf)), QR_EAGAIN);
}

static void test_no_auth_then_echo(void)
{
    static const fp_step script[] = {
        GREET_NOAUTH,   METHOD_NONE, REQ_LOCAL_143, {'S', B(REPLY_OK_V4 "* OK hi\r\n")},
        {'X', NULL, 0}, FP_END,
    };
    char out[64];
    client c;
    pid_t pid = run_script(script, "socks5://", "127.0.0.1", "143", 0, NULL, &c);

    check_app_bytes(&c, B("* OK hi\r\n"));
    CHECK_INT_EQ(qr_stack_interest(&c.s), 0);
    CHECK_INT_EQ(qr_stack_deadline(&c.s), -1);
    CHECK_INT_EQ(qr_stack_step(&c.s), 0);
    CHECK_INT_EQ(tt_echo(&c.s, "a1 NOOP\r\n", out, 9, 4), 0);
    CHECK_MEM_EQ(out, 9, "a1 NOOP\r\n", 9);
    CHECK_UINT_EQ(c.s.traffic.wire_out, 3 + 10 + 9);
    CHECK_UINT_EQ(c.s.traffic.wire_in, 2 + 10 + 9 + 9);
    CHECK_UINT_EQ(c.s.traffic.plain_in, 9 + 9);
    finish(&c, pid);
}

static void test_user_password(void)
{
    static const fp_step script[] = {
        GREET_AUTH,
        {'S', B("\x05\x02")},
        {'E', B("\x01\x03joe\x07s3cr:et")},
        {'B', B("\x01\x00")},
        {'E', B("\x05\x01\x00\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x03\xe1")},
        {'B', B(REPLY_OK_V4)},
        {'S', B("* PREAUTH\r\n")},
        {'Z', NULL, 0},
        FP_END,
    };
    client c;
    pid_t pid = run_script(script, "socks5://joe:s3cr:et@", "[::1]", "993", 0, NULL, &c);

    check_app_bytes(&c, B("* PREAUTH\r\n"));
    finish(&c, pid);
}

static void test_wrong_password(void)
{
    static const fp_step script[] = {
        GREET_AUTH,           {'S', B("\x05\x02")}, {'E', B("\x01\x01u\x01p")},
        {'S', B("\x01\x01")}, {'Z', NULL, 0},       FP_END,
    };

    run_script(script, "socks5://u:p@", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: Authentication failed", NULL);
}

static void test_auth_reply_bad_version(void)
{
    static const fp_step script[] = {
        GREET_AUTH,           {'S', B("\x05\x02")}, {'E', B("\x01\x01u\x00")},
        {'S', B("\x05\x00")}, {'Z', NULL, 0},       FP_END,
    };

    run_script(script, "socks5://u@", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: Invalid protocol", NULL);
}

static void test_method_refused(void)
{
    static const fp_step ff[] = {GREET_AUTH, {'S', B("\x05\xff")}, {'Z', NULL, 0}, FP_END};
    static const fp_step not_offered[] = {
        GREET_NOAUTH, {'S', B("\x05\x02")}, {'Z', NULL, 0}, FP_END};
    static const fp_step gssapi[] = {GREET_NOAUTH, {'S', B("\x05\x01")}, {'Z', NULL, 0}, FP_END};

    run_script(ff, "socks5://u:p@", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: No acceptable authentication methods", NULL);
    run_script(not_offered, "socks5://", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: No acceptable authentication methods", NULL);
    run_script(gssapi, "socks5h://", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: No acceptable authentication methods", NULL);
}

static void test_method_reply_version_4(void)
{
    static const fp_step script[] = {GREET_NOAUTH, {'S', B("\x04\x00")}, {'Z', NULL, 0}, FP_END};

    run_script(script, "socks5://", "127.0.0.1", "143", QR_EPROTO,
               "SOCKSv5 ERROR: Invalid protocol", NULL);
}

/* A reply header with this REP (and RSV, VER) after a clean start. */
static void reply_case(unsigned char ver, unsigned char rep, unsigned char rsv, unsigned char atyp,
                       int bytewise, const char *message)
{
    unsigned char hdr[4] = {ver, rep, rsv, atyp};
    fp_step script[] = {
        GREET_NOAUTH,   METHOD_NONE, REQ_LOCAL_143, {bytewise ? 'B' : 'S', (const char *)hdr, 4},
        {'Z', NULL, 0}, FP_END,
    };

    run_script(script, "socks5://", "127.0.0.1", "143", QR_EPROTO, message, NULL);
}

static void test_reply_codes(void)
{
    static const char *const texts[] = {
        "general SOCKS server failure", "connection not allowed by ruleset",
        "network unreachable",          "host unreachable",
        "connection refused",           "TTL expired",
        "command not supported",        "address type not supported",
    };
    char want[128];
    unsigned rep;

    for (rep = 1; rep <= 8; rep++) {
        snprintf(want, sizeof(want), "SOCKSv5 ERROR: %s", texts[rep - 1]);
        reply_case(5, (unsigned char)rep, 0, 1, rep == 5, want);
    }
    reply_case(5, 9, 0, 1, 0, "SOCKSv5 ERROR: unknown reply code 9");
    reply_case(5, 255, 0, 1, 1, "SOCKSv5 ERROR: unknown reply code 255");
}

static void test_reply_invalid(void)
{
    reply_case(4, 0, 0, 1, 0, "SOCKSv5 ERROR: Invalid protocol");
    reply_case(5, 0, 1, 1, 0, "SOCKSv5 ERROR: Invalid protocol");
    reply_case(5, 1, 7, 1, 1, "SOCKSv5 ERROR: Invalid protocol");
    reply_case(5, 0, 0, 2, 0, "SOCKSv5 ERROR: Invalid protocol");
    reply_case(5, 0, 0, 0, 0, "SOCKSv5 ERROR: Invalid protocol");
}

/* A success reply with this bound address, greeting bytes right behind it. */
static void bound_case(const char *reply, size_t rlen, int bytewise)
{
    static const char greeting[] = "* OK [CAPABILITY IMAP4rev1] ready\r\n";
    char seg[400];
    fp_step script[] = {
        GREET_NOAUTH,   METHOD_NONE, REQ_LOCAL_143, {bytewise ? 'B' : 'S', seg, 0},
        {'Z', NULL, 0}, FP_END,
    };
    client c;
    pid_t pid;

    memcpy(seg, reply, rlen);
    memcpy(seg + rlen, greeting, sizeof(greeting) - 1);
    script[3].len = rlen + sizeof(greeting) - 1;
    pid = run_script(script, "socks5://", "127.0.0.1", "143", 0, NULL, &c);
    check_app_bytes(&c, B(greeting));
    finish(&c, pid);
}

static void test_bound_addresses_skipped(void)
{
    char atyp3[300];

    bound_case(B("\x05\x00\x00\x01\xc0\xa8\x01\x02\x04\x38"), 0);
    bound_case(B("\x05\x00\x00\x04"
                 "0123456789abcdef"
                 "\x04\x38"),
               0);
    bound_case(B("\x05\x00\x00\x03\x0dproxy.example\x04\x38"), 0);
    bound_case(B("\x05\x00\x00\x03\x00\x04\x38"), 0);
    bound_case(B("\x05\x00\x00\x04"
                 "0123456789abcdef"
                 "\x04\x38"),
               1);
    bound_case(B("\x05\x00\x00\x03\x03"
                 "abc"
                 "\x00\x00"),
               1);
    /* The longest bound name: 255 bytes. */
    memcpy(atyp3, "\x05\x00\x00\x03\xff", 5);
    memset(atyp3 + 5, 'n', 255);
    memcpy(atyp3 + 260, "\x01\x02", 2);
    bound_case(atyp3, 262, 0);
}

/* What `socks5` must send for host: the first address getaddrinfo gives. */
static size_t local_request(const char *host, uint16_t port, char *req)
{
    struct addrinfo hints, *res = NULL, *ai;
    size_t n = 4;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    for (ai = res; ai && ai->ai_family != AF_INET && ai->ai_family != AF_INET6; ai = ai->ai_next)
        ;
    memcpy(req, "\x05\x01\x00", 3);
    if (ai && ai->ai_family == AF_INET) {
        req[3] = 1;
        memcpy(req + n, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, 4);
        n += 4;
    } else if (ai) {
        req[3] = 4;
        memcpy(req + n, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, 16);
        n += 16;
    }
    freeaddrinfo(res);
    req[n++] = (char)(port >> 8);
    req[n++] = (char)(port & 0xff);
    return ai ? n : 0;
}

static void test_socks5_resolves_locally(void)
{
    char req[32];
    size_t n = local_request("localhost", 143, req);
    fp_step script[] = {
        GREET_NOAUTH, METHOD_NONE, {'E', req, n}, {'S', B(REPLY_OK_V4 "x")}, {'Z', NULL, 0}, FP_END,
    };
    client c;
    pid_t pid;

    CHECK(n == 10 || n == 22);
    printf("# localhost resolves to ATYP %d here\n", req[3]);
    pid = run_script(script, "socks5://", "localhost", "imap", 0, NULL, &c);
    check_app_bytes(&c, B("x"));
    finish(&c, pid);
}

static void test_socks5h_sends_names(void)
{
    static const fp_step name[] = {
        GREET_NOAUTH,          METHOD_NONE, {'E', B("\x05\x01\x00\x03\x09localhost\x00\x8f")},
        {'S', B(REPLY_OK_V4)}, FP_END,
    };
    static const fp_step v4[] = {
        GREET_NOAUTH,          METHOD_NONE, {'E', B("\x05\x01\x00\x01\x0a\x01\x02\x03\x03\xe1")},
        {'S', B(REPLY_OK_V4)}, FP_END,
    };
    static const fp_step v6[] = {
        GREET_NOAUTH,
        METHOD_NONE,
        {'E', B("\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x8f")},
        {'S', B(REPLY_OK_V4)},
        FP_END,
    };

    run_script(name, "socks5h://", "localhost", "143", 0, NULL, NULL);
    run_script(v4, "socks5h://", "10.1.2.3", "993", 0, NULL, NULL);
    run_script(v6, "socks5h://", "[2001:db8::1]", "143", 0, NULL, NULL);
    run_script(v6, "socks5h://", "2001:db8::1", "143", 0, NULL, NULL);
}

static void test_longest_name(void)
{
    char host[256], req[4 + 1 + 255 + 2];
    fp_step script[] = {
        GREET_NOAUTH, METHOD_NONE, {'E', req, sizeof(req)}, {'S', B(REPLY_OK_V4)}, FP_END};

    memset(host, 'h', 255);
    host[255] = '\0';
    memcpy(req, "\x05\x01\x00\x03\xff", 5);
    memcpy(req + 5, host, 255);
    memcpy(req + 260, "\x00\x8f", 2);
    run_script(script, "socks5h://", host, "143", 0, NULL, NULL);
}

static void test_eof_mid_exchange(void)
{
    static const fp_step mid_reply[] = {
        GREET_NOAUTH,   METHOD_NONE,    REQ_LOCAL_143, {'B', B("\x05\x00\x00\x01\x7f")},
        {'C', NULL, 0}, {'Z', NULL, 0}, FP_END,
    };
    static const fp_step mid_method[] = {
        GREET_NOAUTH, {'S', B("\x05")}, {'C', NULL, 0}, {'Z', NULL, 0}, FP_END};
    static const fp_step at_once[] = {{'C', NULL, 0}, GREET_NOAUTH, {'Z', NULL, 0}, FP_END};

    run_script(mid_reply, "socks5://", "127.0.0.1", "143", QR_EOF,
               "SOCKSv5 ERROR: 0 bytes read (got EOF)", NULL);
    run_script(mid_method, "socks5://", "127.0.0.1", "143", QR_EOF,
               "SOCKSv5 ERROR: 0 bytes read (got EOF)", NULL);
    run_script(at_once, "socks5://", "127.0.0.1", "143", QR_EOF,
               "SOCKSv5 ERROR: 0 bytes read (got EOF)", NULL);
}

static void test_timeout(void)
{
    static const fp_step script[] = {GREET_NOAUTH, {'H', NULL, 1500}, FP_END};
    char pport[16], uri[64];
    pid_t pid = fp_start(script, pport);
    int64_t t0 = qr_now_ms(), d;
    client c;

    CHECK(pid > 0);
    snprintf(uri, sizeof(uri), "socks5://127.0.0.1:%s", pport);
    client_open(&c, uri, "127.0.0.1", "143", 300);
    CHECK_INT_EQ(qr_stack_step(&c.s), QR_EAGAIN);
    while (qr_stack_step(&c.s) == QR_EAGAIN && qr_now_ms() < t0 + 5000 &&
           qr_stack_interest(&c.s) == POLLOUT)
        tt_wait(&c.s, POLLOUT, 50);
    d = qr_stack_deadline(&c.s);
    CHECK(d >= t0 + 300 && d <= qr_now_ms() + 300);
    CHECK_INT_EQ(tt_step(&c.s), QR_EIO);
    CHECK(qr_now_ms() >= t0 + 300);
    CHECK(qr_now_ms() < t0 + 1400);
    CHECK_STR_EQ(qr_errslot_get(&c.err)->message, "SOCKSv5 ERROR: read: Connection timed out");
    CHECK_INT_EQ(qr_errslot_get(&c.err)->sys_errno, ETIMEDOUT);
    CHECK_INT_EQ(qr_stack_step(&c.s), QR_EIO);
    CHECK_INT_EQ(qr_stack_deadline(&c.s), -1);
    client_close(&c);
    CHECK_INT_EQ(wait_child(pid, 10000), 0);
}

static void test_resolver_error(void)
{
    static const fp_step script[] = {GREET_NOAUTH, METHOD_NONE, {'Z', NULL, 0}, FP_END};
    static const char prefix[] = "getaddrinfo(no-such-host.invalid): ";
    char pport[16], uri[64];
    pid_t pid = fp_start(script, pport);
    client c;

    CHECK(pid > 0);
    snprintf(uri, sizeof(uri), "socks5://127.0.0.1:%s", pport);
    client_open(&c, uri, "no-such-host.invalid", "143", 0);
    CHECK_INT_EQ(tt_step(&c.s), QR_EIO);
    CHECK(strncmp(qr_errslot_get(&c.err)->message, prefix, sizeof(prefix) - 1) == 0);
    CHECK(strlen(qr_errslot_get(&c.err)->message) > sizeof(prefix) - 1);
    printf("# %s\n", qr_errslot_get(&c.err)->message);
    client_close(&c);
    CHECK_INT_EQ(wait_child(pid, 10000), 0);
}

/* ---- creation errors and the socketpair tests --------------------------- */

static int create_err(const char *uri, const char *host, const char *port, qr_errslot *err)
{
    qr_proxy_uri u;
    qr_socks5_options o = {&u, host, port, 0};
    qr_layer dummy, *l = &dummy;
    qr_stack s;
    int rc;

    qr_errslot_clear(err);
    qr_stack_init(&s, err);
    if (qr_proxy_uri_parse(&u, uri, err) != 0)
        return 99;
    rc = qr_socks5_layer_create(&l, &s, &o);
    CHECK(rc != 0 || l != NULL);
    if (rc == 0)
        l->ops->destroy(l);
    else
        CHECK(l == NULL);
    qr_proxy_uri_free(&u);
    return rc;
}

static void test_create_errors(void)
{
    char longname[300];
    qr_errslot err;

    memset(longname, 'a', 256);
    longname[256] = '\0';
    CHECK_INT_EQ(create_err("socks5://p", "", "143", &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing option host");
    CHECK_INT_EQ(create_err("socks5://p", "h", "", &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Missing option port");
    CHECK_INT_EQ(create_err("socks5h://p", "[imap.example]", "143", &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Invalid IP literal: imap.example");
    CHECK_INT_EQ(create_err("socks5h://p", longname, "143", &err), QR_EINVAL);
    CHECK(strncmp(qr_errslot_get(&err)->message, "Host name longer than 255 bytes for SOCKSv5: aaa",
                  48) == 0);
    CHECK_INT_EQ(create_err("socks5://p", longname, "143", &err), 0);
    CHECK_INT_EQ(create_err("socks5h://p", "h", "nosuchservice", &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Can't getservbyname nosuchservice");
    CHECK_INT_EQ(create_err("socks5h://p", "h", "70000", &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Invalid port number 70000");
}

static void test_push_on_non_empty_stack(void)
{
    qr_proxy_uri u;
    qr_socks5_options o = {&u, "h", "143", 0};
    qr_errslot err;
    qr_layer *l = NULL;
    qr_stack s;
    int sv[2];

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_proxy_uri_parse(&u, "socks5://p", &err), 0);
    CHECK_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_INT_EQ(qr_socket_layer_create_fd(&l, &s, sv[0], "pair"), 0);
    qr_stack_push(&s, l);
    CHECK_INT_EQ(qr_socks5_push(&s, &o, 0, 0), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "SOCKSv5 proxy on a non-empty stack");
    CHECK(s.top == l);
    qr_stack_destroy(&s);
    close(sv[1]);
    qr_proxy_uri_free(&u);
}

/* A stack over a socketpair: fd-adopting bottom plus a SOCKS5 layer. */
typedef struct pair_client {
    qr_errslot err;   /* the stack's error slot */
    qr_stack s;       /* socket layer (sv[0]) + SOCKS5 layer */
    qr_proxy_uri uri; /* the proxy option */
    int peer;         /* sv[1]: the test plays the proxy here */
} pair_client;

static int pair_open(pair_client *p, const char *uri, const char *host)
{
    qr_socks5_options o = {&p->uri, host, "143", 0};
    qr_layer *l = NULL;
    int sv[2], rc;

    qr_errslot_clear(&p->err);
    qr_stack_init(&p->s, &p->err);
    if (qr_proxy_uri_parse(&p->uri, uri, &p->err) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    p->peer = sv[1];
    if (qr_socket_layer_create_fd(&l, &p->s, sv[0], "proxy") != 0)
        return -1;
    qr_stack_push(&p->s, l);
    rc = qr_socks5_layer_create(&l, &p->s, &o);
    if (rc == 0)
        qr_stack_push(&p->s, l);
    return rc;
}

static void pair_close(pair_client *p)
{
    qr_stack_destroy(&p->s);
    qr_proxy_uri_free(&p->uri);
    close(p->peer);
}

/* Read what the client sent (must be there already) and compare. */
static void peer_expect(int fd, const char *want, size_t len)
{
    char buf[600];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

    CHECK_INT_EQ(n, (ssize_t)len);
    if (n > 0)
        CHECK_MEM_EQ(buf, (size_t)n, want, len);
}

/* Feed bytes one per step(): every step but the last one says QR_EAGAIN. */
static void feed_bytewise(pair_client *p, const char *bytes, size_t len, int last_rc)
{
    size_t i;

    for (i = 0; i < len; i++) {
        CHECK_INT_EQ(write(p->peer, bytes + i, 1), 1);
        CHECK_INT_EQ(qr_stack_step(&p->s), i + 1 < len ? QR_EAGAIN : last_rc);
        if (i + 1 < len)
            CHECK_INT_EQ(qr_stack_interest(&p->s), POLLIN);
    }
}

static void test_bytewise_steps(void)
{
    pair_client p;
    char buf[16], x[] = "x", cmd[] = "a1 X\r\n";

    CHECK_INT_EQ(pair_open(&p, "socks5h://ab:cd@proxy", "imap.example"), 0);
    CHECK_INT_EQ(qr_stack_interest(&p.s), POLLOUT);
    CHECK_INT_EQ(qr_stack_read(&p.s, buf, sizeof(buf)), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&p.err)->message, "read before the SOCKSv5 exchange is over");
    CHECK_INT_EQ(qr_stack_write(&p.s, &(struct iovec){x, 1}, 1), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&p.err)->message, "write before the SOCKSv5 exchange is over");
    CHECK_INT_EQ(qr_stack_step(&p.s), QR_EAGAIN);
    CHECK_INT_EQ(qr_stack_interest(&p.s), POLLIN);
    CHECK_INT_EQ(qr_stack_deadline(&p.s), -1);
    peer_expect(p.peer, B("\x05\x02\x00\x02"));
    feed_bytewise(&p, B("\x05\x02"), QR_EAGAIN);
    peer_expect(p.peer, B("\x01\x02"
                          "ab"
                          "\x02"
                          "cd"));
    feed_bytewise(&p, B("\x01\x00"), QR_EAGAIN);
    peer_expect(p.peer, B("\x05\x01\x00\x03\x0cimap.example\x00\x8f"));
    feed_bytewise(&p, B("\x05\x00\x00\x03\x02xy\x12\x34"), 0);
    CHECK_INT_EQ(qr_stack_interest(&p.s), 0);
    CHECK_INT_EQ(qr_stack_read(&p.s, buf, sizeof(buf)), QR_EAGAIN);
    CHECK_INT_EQ(write(p.peer, "* OK\r\n", 6), 6);
    CHECK_INT_EQ(qr_stack_read(&p.s, buf, sizeof(buf)), 6);
    CHECK_MEM_EQ(buf, 6, "* OK\r\n", 6);
    CHECK_INT_EQ(qr_stack_write(&p.s, &(struct iovec){cmd, 6}, 1), 6);
    CHECK_INT_EQ(qr_stack_flush(&p.s), 0);
    peer_expect(p.peer, B("a1 X\r\n"));
    pair_close(&p);
}

static void test_failed_layer_stays_failed(void)
{
    pair_client p;
    char buf[4];

    CHECK_INT_EQ(pair_open(&p, "socks5://proxy", "127.0.0.1"), 0);
    CHECK_INT_EQ(qr_stack_step(&p.s), QR_EAGAIN);
    peer_expect(p.peer, B("\x05\x01\x00"));
    CHECK_INT_EQ(write(p.peer, "\x05\xff", 2), 2);
    CHECK_INT_EQ(qr_stack_step(&p.s), QR_EPROTO);
    CHECK_INT_EQ(write(p.peer, "\x05\x00", 2), 2);
    qr_errslot_clear(&p.err);
    CHECK_INT_EQ(qr_stack_step(&p.s), QR_EPROTO);
    CHECK_INT_EQ(qr_stack_interest(&p.s), 0);
    CHECK_INT_EQ(qr_stack_read(&p.s, buf, sizeof(buf)), QR_EINVAL);
    CHECK_INT_EQ(recv(p.peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
    pair_close(&p);
}

static void test_allocation_failures(void)
{
    unsigned long n, count;
    qr_proxy_uri uri;
    qr_errslot err;
    qr_stack s;
    qr_socks5_options o = {&uri, "[::1]", "imaps", 0};

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_proxy_uri_parse(&uri, "socks5://u:p@proxy:1081", &err), 0);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_socks5_push(&s, &o, 0, 0), 0);
    count = qr_alloc_count();
    qr_stack_destroy(&s);
    CHECK(count >= 4);
    for (n = 1; n <= count; n++) {
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(qr_socks5_push(&s, &o, 0, 0), QR_ENOMEM);
        CHECK_INT_EQ(qr_errslot_get(&err)->code, QR_ENOMEM);
        CHECK(s.top == NULL);
    }
    qr_alloc_fail_at(0, 0);
    qr_proxy_uri_free(&uri);
}

/* ---- microsocks ----------------------------------------------------------- */

/* Is prog an executable in $PATH? */
static int in_path(const char *prog)
{
    const char *path = getenv("PATH"), *p;
    char full[4096];

    for (p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");

        snprintf(full, sizeof(full), "%.*s/%s", (int)n, p, prog);
        if (access(full, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Can we connect to 127.0.0.1:port? */
static int port_open(const char *port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)atoi(port));
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* microsocks on 127.0.0.1, a free port (in port); user NULL: no auth. The pid or -1. */
static pid_t microsocks_start(const char *user, const char *pass, char port[16])
{
    int64_t end;
    int fd;
    pid_t pid;

    strcpy(port, "0");
    fd = listen_on(AF_INET, port);
    if (fd < 0)
        return -1;
    close(fd);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, 1);
        dup2(null, 2);
        if (user)
            execlp("microsocks", "microsocks", "-i", "127.0.0.1", "-p", port, "-u", user, "-P",
                   pass, (char *)NULL);
        else
            execlp("microsocks", "microsocks", "-i", "127.0.0.1", "-p", port, (char *)NULL);
        _exit(127);
    }
    for (end = qr_now_ms() + 5000; pid > 0 && qr_now_ms() < end; usleep(10000))
        if (port_open(port))
            return pid;
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

static void stop_pid(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        if (wait_child(pid, 5000) < 0)
            printf("# pid %d had to be killed\n", (int)pid);
    }
}

/* An echo server on 127.0.0.1 and (when possible) ::1, same port. The pid. */
static pid_t echo_start(char port[16])
{
    char port6[16];
    int fds[2], n = 0;
    pid_t pid;

    strcpy(port, "0");
    fds[n] = listen_on(AF_INET, port);
    if (fds[n] < 0)
        return -1;
    n++;
    strcpy(port6, port);
    fds[n] = listen_on(AF_INET6, port6);
    if (fds[n] >= 0)
        n++;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for (;;) {
            struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {n > 1 ? fds[1] : -1, POLLIN, 0}};
            int i;

            if (poll(pf, 2, -1) < 0)
                _exit(1);
            for (i = 0; i < n; i++) {
                int c = (pf[i].revents & POLLIN) ? accept(fds[i], NULL, NULL) : -1;

                if (c >= 0) {
                    fp_echo(c);
                    close(c);
                }
            }
        }
    }
    while (n > 0)
        close(fds[--n]);
    return pid;
}

/* Through microsocks to host:eport: step() gives rc (message), then an echo round trip. */
static void through(const char *mport, const char *creds, const char *scheme, const char *host,
                    const char *eport, int rc, const char *message)
{
    static const char line[] = "a1 LOGIN joe \"s3cr\\\"et\"\r\n";
    char uri[256], out[64];
    client c;

    snprintf(uri, sizeof(uri), "%s%s127.0.0.1:%s", scheme, creds, mport);
    client_open(&c, uri, host, eport, 10000);
    CHECK_INT_EQ(tt_step(&c.s), rc);
    if (message)
        CHECK_STR_EQ(qr_errslot_get(&c.err)->message, message);
    if (rc == 0) {
        CHECK_INT_EQ(tt_echo(&c.s, line, out, sizeof(line) - 1, 7), 0);
        CHECK_MEM_EQ(out, sizeof(line) - 1, line, sizeof(line) - 1);
    }
    client_close(&c);
}

static void test_microsocks(void)
{
    char mport[16], aport[16], eport[16], closed[16];
    pid_t ms, msa, echo;
    int fd;

    if (!in_path("microsocks")) {
        skip_reason = "microsocks not installed";
        return;
    }
    strcpy(closed, "0");
    fd = listen_on(AF_INET, closed);
    close(fd);
    echo = echo_start(eport);
    ms = microsocks_start(NULL, NULL, mport);
    msa = microsocks_start("joe", "s3cr:et pw", aport);
    CHECK(echo > 0 && ms > 0 && msa > 0);
    if (echo > 0 && ms > 0 && msa > 0) {
        through(mport, "", "socks5://", "127.0.0.1", eport, 0, NULL);
        through(mport, "", "socks5://", "localhost", eport, 0, NULL);
        through(mport, "", "socks5h://", "localhost", eport, 0, NULL);
        through(aport, "joe:s3cr:et pw@", "socks5://", "localhost", eport, 0, NULL);
        through(aport, "joe:s3cr:et pw@", "socks5h://", "localhost", eport, 0, NULL);
        through(aport, "joe:wrong@", "socks5h://", "localhost", eport, QR_EPROTO,
                "SOCKSv5 ERROR: Authentication failed");
        through(aport, "", "socks5h://", "localhost", eport, QR_EPROTO,
                "SOCKSv5 ERROR: No acceptable authentication methods");
        through(mport, "", "socks5://", "127.0.0.1", closed, QR_EPROTO,
                "SOCKSv5 ERROR: connection refused");
    }
    stop_pid(ms);
    stop_pid(msa);
    stop_pid(echo);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_no_auth_then_echo);
    RUN(test_user_password);
    RUN(test_wrong_password);
    RUN(test_auth_reply_bad_version);
    RUN(test_method_refused);
    RUN(test_method_reply_version_4);
    RUN(test_reply_codes);
    RUN(test_reply_invalid);
    RUN(test_bound_addresses_skipped);
    RUN(test_socks5_resolves_locally);
    RUN(test_socks5h_sends_names);
    RUN(test_longest_name);
    RUN(test_eof_mid_exchange);
    RUN(test_timeout);
    RUN(test_resolver_error);
    RUN(test_create_errors);
    RUN(test_push_on_non_empty_stack);
    RUN(test_bytewise_steps);
    RUN(test_failed_layer_stays_failed);
    RUN(test_allocation_failures);
    RUN(test_microsocks);
    return tap_done();
}
