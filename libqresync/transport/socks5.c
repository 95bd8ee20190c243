/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SOCKS5 layer: RFC 1928 CONNECT (with RFC 1929 user/password
 * authentication) over a bottom layer connected to the proxy, as the
 * spec's §2.3 describes it; then a transparent pipe.
 *
 * The exchange runs in step(), without blocking, as a state machine with
 * one handler per state (the `state` field):
 *
 *   GREETING     send 05 N METHODS: 00 (no authentication) and, with
 *                credentials, 02 (user/password);
 *   METHOD       read VER METHOD: VER must be 5; 00 goes to REQUEST, 02
 *                (when offered) to AUTH, anything else (FF) fails with
 *                "No acceptable authentication methods";
 *   AUTH         send 01 ULEN USER PLEN PASSWORD;
 *   AUTH_REPLY   read VER STATUS: VER must be 1, STATUS 0;
 *   REQUEST      build (resolving the name locally for `socks5`: one
 *                blocking getaddrinfo, like the socket layer's) and send
 *                05 01 00 ATYP ADDR PORT;
 *   REPLY        read VER REP RSV ATYP: VER 5 and RSV 0, REP 0, ATYP 1/3/4;
 *   BOUND_LEN    ATYP 3 only: read the name's length byte;
 *   BOUND        read and discard the bound address and the 2-byte port;
 *   DONE         read/write go straight to the layer below;
 *   FAILED       step() returns the recorded code again.
 *
 * A handler returns 0 after moving to the next state (step() then runs
 * that one at once), QR_EAGAIN when the layer below has no room or no
 * bytes, or an error (recorded; the layer goes to FAILED).
 *
 * Replies may arrive a byte at a time: reads collect into `in` until the
 * element is complete. The layer never asks the layer below for more
 * bytes than the current element still needs, so it never consumes a
 * byte that follows the proxy's reply: the IMAP greeting that the proxy
 * forwards right behind it is still below, and the first read() after
 * DONE returns it. Hence nothing to buffer and no pending_input.
 *
 * interest() wants POLLOUT while a request is being sent and POLLIN while
 * a reply is awaited; deadline() reports the whole exchange's timeout,
 * counted from the first step(), which checks it ("SOCKSv5 ERROR: read:
 * Connection timed out"). Credentials are copied at creation and wiped on
 * destroy; so is the request buffer once the authentication is sent.
 */
#include "config.h"

#include "transport/socks5_p.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

enum s5_state {
    S5_GREETING,
    S5_METHOD,
    S5_AUTH,
    S5_AUTH_REPLY,
    S5_REQUEST,
    S5_REPLY,
    S5_BOUND_LEN,
    S5_BOUND,
    S5_DONE,
    S5_FAILED,
};

/* Largest request: 01 ULEN USER(255) PLEN PASSWORD(255). */
#define S5_OUT_MAX (3 + 2 * QR_SOCKS5_FIELD_MAX)

typedef struct qr_socks5_layer {
    qr_layer base;                 /* head; ops = &socks5_ops */
    enum s5_state state;           /* see the essay */
    int fail_code;                 /* QR_E* returned again in S5_FAILED */
    int socks5h;                   /* 1: send names as ATYP 3; 0: resolve them here */
    char *host;                    /* owned: destination, brackets removed */
    int host_family;               /* AF_INET/AF_INET6 when host is an IP literal, else 0 */
    uint16_t port;                 /* destination port */
    char *user;                    /* owned: user name; NULL: no credentials */
    char *password;                /* owned: password; wiped on destroy */
    unsigned char out[S5_OUT_MAX]; /* the request being sent */
    size_t out_len;                /* bytes in out */
    size_t out_off;                /* bytes of out accepted by the layer below */
    unsigned char in[4];           /* the reply element being collected */
    size_t in_need;                /* bytes the element has */
    size_t in_got;                 /* bytes of it received so far */
    size_t skip;                   /* bound address + port bytes still to discard */
    int timeout_ms;                /* whole exchange; <= 0: none */
    int64_t deadline;              /* CLOCK_MONOTONIC ms; -1: none (yet) */
} qr_socks5_layer;

static qr_socks5_layer *s5_of(const qr_layer *l)
{
    return (qr_socks5_layer *)(uintptr_t)l;
}

static qr_errslot *s5_err(qr_socks5_layer *k)
{
    return k->base.stack->err;
}

static int s5_proto_error(qr_socks5_layer *k, const char *text)
{
    return qr_err_set(s5_err(k), QR_EPROTO, "SOCKSv5 ERROR: %s", text);
}

/* ---- moving bytes ----------------------------------------------------- */

/* Queue out[0..len) for sending in the next state. */
static void s5_queue(qr_socks5_layer *k, size_t len, enum s5_state next)
{
    k->out_len = len;
    k->out_off = 0;
    k->state = next;
}

/* Push out[out_off..out_len) below and flush: 0 once all reached the fd. */
static int s5_send(qr_socks5_layer *k)
{
    qr_layer *below = k->base.below;

    while (k->out_off < k->out_len) {
        struct iovec v = {k->out + k->out_off, k->out_len - k->out_off};
        ssize_t n = qr_layer_write(below, &v, 1);

        if (n <= 0)
            return n == 0 ? QR_EAGAIN : (int)n;
        k->out_off += (size_t)n;
    }
    return qr_layer_flush(below);
}

/* Read from below; EOF is recorded in the exchange's terms. */
static ssize_t s5_read_below(qr_socks5_layer *k, void *buf, size_t cap)
{
    ssize_t n = qr_layer_read(k->base.below, buf, cap);

    if (n == QR_EOF)
        return qr_err_set(s5_err(k), QR_EOF, "SOCKSv5 ERROR: 0 bytes read (got EOF)");
    return n == 0 ? QR_EAGAIN : n;
}

/* Collect in[in_got..in_need): 0 when complete. */
static int s5_recv(qr_socks5_layer *k)
{
    while (k->in_got < k->in_need) {
        ssize_t n = s5_read_below(k, k->in + k->in_got, k->in_need - k->in_got);

        if (n < 0)
            return (int)n;
        k->in_got += (size_t)n;
    }
    return 0;
}

/* Expect the next reply element of need bytes (need <= sizeof(in)) in state next. */
static void s5_expect(qr_socks5_layer *k, size_t need, enum s5_state next)
{
    k->in_need = need;
    k->in_got = 0;
    k->state = next;
}

/* ---- the states ------------------------------------------------------- */

static int s5_greeting(qr_socks5_layer *k)
{
    int rc = s5_send(k);

    if (rc == 0)
        s5_expect(k, 2, S5_METHOD);
    return rc;
}

/* Build 01 ULEN USER PLEN PASSWORD (lengths checked at creation). */
static void s5_build_auth(qr_socks5_layer *k)
{
    size_t ulen = strlen(k->user), plen = strlen(k->password), n = 0;

    k->out[n++] = 0x01;
    k->out[n++] = (unsigned char)ulen;
    memcpy(k->out + n, k->user, ulen);
    n += ulen;
    k->out[n++] = (unsigned char)plen;
    memcpy(k->out + n, k->password, plen);
    n += plen;
    s5_queue(k, n, S5_AUTH);
}

static int s5_build_request(qr_socks5_layer *k);

static int s5_method(qr_socks5_layer *k)
{
    int rc = s5_recv(k);

    if (rc)
        return rc;
    if (k->in[0] != 0x05)
        return s5_proto_error(k, "Invalid protocol");
    if (k->in[1] == 0x00)
        return s5_build_request(k);
    if (k->in[1] == 0x02 && k->user) {
        s5_build_auth(k);
        return 0;
    }
    return s5_proto_error(k, "No acceptable authentication methods");
}

static int s5_auth(qr_socks5_layer *k)
{
    int rc = s5_send(k);

    if (rc == 0) {
        explicit_bzero(k->out, sizeof(k->out));
        s5_expect(k, 2, S5_AUTH_REPLY);
    }
    return rc;
}

static int s5_auth_reply(qr_socks5_layer *k)
{
    int rc = s5_recv(k);

    if (rc)
        return rc;
    if (k->in[0] != 0x01)
        return s5_proto_error(k, "Invalid protocol");
    if (k->in[1] != 0x00)
        return s5_proto_error(k, "Authentication failed");
    return s5_build_request(k);
}

/* getaddrinfo(host): the first IPv4/IPv6 result, copied into addr; its family. */
static int s5_resolve(qr_socks5_layer *k, unsigned char addr[16], int *family)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(k->host, NULL, &hints, &res);
    if (rc != 0) {
        int saved = errno;

        return qr_err_set(s5_err(k), QR_EIO, "getaddrinfo(%s): %s", k->host,
                          rc == EAI_SYSTEM ? strerror(saved) : gai_strerror(rc));
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            memcpy(addr, &((const struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, 4);
            break;
        }
        if (ai->ai_family == AF_INET6) {
            memcpy(addr, &((const struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, 16);
            break;
        }
    }
    *family = ai ? ai->ai_family : 0;
    freeaddrinfo(res);
    if (!ai)
        return qr_err_set(s5_err(k), QR_EIO, "getaddrinfo(%s): no IPv4 or IPv6 address", k->host);
    return 0;
}

/* Write ATYP and ADDR at out[3]; the length written. */
static int s5_put_address(qr_socks5_layer *k, size_t *len)
{
    unsigned char addr[16];
    int family = k->host_family, rc;
    size_t hlen = strlen(k->host);

    if (!family && k->socks5h) {
        k->out[3] = 0x03;
        k->out[4] = (unsigned char)hlen;
        memcpy(k->out + 5, k->host, hlen);
        *len = 2 + hlen;
        return 0;
    }
    if (family)
        inet_pton(family, k->host, addr);
    else if ((rc = s5_resolve(k, addr, &family)) != 0)
        return rc;
    k->out[3] = family == AF_INET ? 0x01 : 0x04;
    *len = family == AF_INET ? 4 : 16;
    memcpy(k->out + 4, addr, *len);
    *len += 1;
    return 0;
}

/* 05 01 00 ATYP ADDR PORT, then the REQUEST state sends it. */
static int s5_build_request(qr_socks5_layer *k)
{
    size_t n;
    int rc;

    k->out[0] = 0x05;
    k->out[1] = 0x01;
    k->out[2] = 0x00;
    rc = s5_put_address(k, &n);
    if (rc)
        return rc;
    n += 3;
    k->out[n++] = (unsigned char)(k->port >> 8);
    k->out[n++] = (unsigned char)(k->port & 0xff);
    s5_queue(k, n, S5_REQUEST);
    return 0;
}

static int s5_request(qr_socks5_layer *k)
{
    int rc = s5_send(k);

    if (rc == 0)
        s5_expect(k, 4, S5_REPLY);
    return rc;
}

/* The RFC 1928 texts for REP 1..8. */
static const char *const s5_reply_text[] = {
    NULL,
    "general SOCKS server failure",
    "connection not allowed by ruleset",
    "network unreachable",
    "host unreachable",
    "connection refused",
    "TTL expired",
    "command not supported",
    "address type not supported",
};

static int s5_reply(qr_socks5_layer *k)
{
    int rc = s5_recv(k);
    unsigned rep = k->in[1];

    if (rc)
        return rc;
    if (k->in[0] != 0x05 || k->in[2] != 0x00)
        return s5_proto_error(k, "Invalid protocol");
    if (rep >= 1 && rep <= 8)
        return s5_proto_error(k, s5_reply_text[rep]);
    if (rep != 0)
        return qr_err_set(s5_err(k), QR_EPROTO, "SOCKSv5 ERROR: unknown reply code %u", rep);
    switch (k->in[3]) {
    case 0x01:
        k->skip = 4 + 2;
        k->state = S5_BOUND;
        return 0;
    case 0x04:
        k->skip = 16 + 2;
        k->state = S5_BOUND;
        return 0;
    case 0x03:
        s5_expect(k, 1, S5_BOUND_LEN);
        return 0;
    default:
        return s5_proto_error(k, "Invalid protocol");
    }
}

static int s5_bound_len(qr_socks5_layer *k)
{
    int rc = s5_recv(k);

    if (rc)
        return rc;
    k->skip = (size_t)k->in[0] + 2;
    k->state = S5_BOUND;
    return 0;
}

/* Discard the bound address and port, never reading past them. */
static int s5_bound(qr_socks5_layer *k)
{
    unsigned char scratch[QR_SOCKS5_FIELD_MAX + 2];

    while (k->skip > 0) {
        ssize_t n = s5_read_below(k, scratch, k->skip);

        if (n < 0)
            return (int)n;
        k->skip -= (size_t)n;
    }
    k->state = S5_DONE;
    k->deadline = -1;
    return 0;
}

typedef int (*s5_handler)(qr_socks5_layer *k);

static const s5_handler s5_handlers[] = {
    [S5_GREETING] = s5_greeting,     [S5_METHOD] = s5_method,   [S5_AUTH] = s5_auth,
    [S5_AUTH_REPLY] = s5_auth_reply, [S5_REQUEST] = s5_request, [S5_REPLY] = s5_reply,
    [S5_BOUND_LEN] = s5_bound_len,   [S5_BOUND] = s5_bound,
};

/* ---- the layer operations --------------------------------------------- */

static int s5_fail(qr_socks5_layer *k, int code)
{
    k->state = S5_FAILED;
    k->fail_code = code;
    k->deadline = -1;
    return code;
}

static int s5_step(qr_layer *l)
{
    qr_socks5_layer *k = s5_of(l);
    int rc;

    if (k->state == S5_FAILED)
        return k->fail_code;
    if (k->state != S5_DONE && k->deadline < 0 && k->timeout_ms > 0)
        k->deadline = qr_now_ms() + k->timeout_ms;
    while (k->state != S5_DONE) {
        rc = s5_handlers[k->state](k);
        if (rc == QR_EAGAIN) {
            if (k->deadline >= 0 && qr_now_ms() >= k->deadline) {
                qr_err_set(s5_err(k), QR_EIO, "SOCKSv5 ERROR: read");
                qr_errslot_set_errno(s5_err(k), ETIMEDOUT);
                return s5_fail(k, QR_EIO);
            }
            return QR_EAGAIN;
        }
        if (rc != 0)
            return s5_fail(k, rc);
    }
    return 0;
}

static int s5_not_ready(qr_socks5_layer *k, const char *what)
{
    return qr_err_set(s5_err(k), QR_EINVAL, "%s before the SOCKSv5 exchange is over", what);
}

static ssize_t s5_read(qr_layer *l, void *buf, size_t cap)
{
    if (s5_of(l)->state != S5_DONE)
        return s5_not_ready(s5_of(l), "read");
    return qr_layer_read(l->below, buf, cap);
}

static ssize_t s5_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    if (s5_of(l)->state != S5_DONE)
        return s5_not_ready(s5_of(l), "write");
    return qr_layer_write(l->below, iov, iovcnt);
}

static int s5_interest(const qr_layer *l)
{
    switch (s5_of(l)->state) {
    case S5_GREETING:
    case S5_AUTH:
    case S5_REQUEST:
        return POLLOUT;
    case S5_METHOD:
    case S5_AUTH_REPLY:
    case S5_REPLY:
    case S5_BOUND_LEN:
    case S5_BOUND:
        return POLLIN;
    case S5_DONE:
    case S5_FAILED:
    default:
        return 0;
    }
}

static int64_t s5_deadline(const qr_layer *l)
{
    return s5_of(l)->deadline;
}

static void s5_destroy(qr_layer *l)
{
    qr_socks5_layer *k = s5_of(l);

    if (k->password)
        explicit_bzero(k->password, strlen(k->password));
    explicit_bzero(k->out, sizeof(k->out));
    qr_free(k->host);
    qr_free(k->user);
    qr_free(k->password);
    qr_free(k);
}

static const qr_layer_ops socks5_ops = {
    .name = "socks5",
    .read = s5_read,
    .write = s5_write,
    .interest = s5_interest,
    .step = s5_step,
    .deadline = s5_deadline,
    .destroy = s5_destroy,
};

/* ---- creation --------------------------------------------------------- */

/* Check the destination and store it (brackets removed) in k. */
static int s5_set_host(qr_socks5_layer *k, qr_stack *s, const char *host)
{
    unsigned char tmp[16];
    size_t hlen = strlen(host);

    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']')
        k->host = qr_memdup0(host + 1, hlen - 2);
    else
        k->host = qr_strdup(host);
    if (!k->host)
        return qr_err_set(s->err, QR_ENOMEM, "SOCKSv5 connection to %s", host);
    if (inet_pton(AF_INET, k->host, tmp) == 1)
        k->host_family = AF_INET;
    else if (inet_pton(AF_INET6, k->host, tmp) == 1)
        k->host_family = AF_INET6;
    else if (host[0] == '[' && host[hlen - 1] == ']')
        return qr_err_set(s->err, QR_EINVAL, "Invalid IP literal: %s", k->host);
    if (!k->host_family && k->socks5h && strlen(k->host) > QR_SOCKS5_FIELD_MAX)
        return qr_err_set(s->err, QR_EINVAL, "Host name longer than %d bytes for SOCKSv5: %s",
                          QR_SOCKS5_FIELD_MAX, k->host);
    return 0;
}

/* Copy the credentials and queue the greeting. */
static int s5_set_credentials(qr_socks5_layer *k, qr_stack *s, const qr_proxy_uri *u)
{
    if (u->user) {
        const char *pass = u->password ? u->password : "";

        if (strlen(u->user) > QR_SOCKS5_FIELD_MAX || strlen(pass) > QR_SOCKS5_FIELD_MAX)
            return qr_err_set(s->err, QR_EINVAL, "Proxy user name or password longer than %d bytes",
                              QR_SOCKS5_FIELD_MAX);
        k->user = qr_strdup(u->user);
        k->password = qr_strdup(pass);
        if (!k->user || !k->password)
            return qr_err_set(s->err, QR_ENOMEM, "SOCKSv5 credentials");
    }
    k->out[0] = 0x05;
    k->out[1] = k->user ? 2 : 1;
    k->out[2] = 0x00;
    k->out[3] = 0x02;
    s5_queue(k, k->user ? 4 : 3, S5_GREETING);
    return 0;
}

int qr_socks5_layer_create(qr_layer **out, qr_stack *s, const qr_socks5_options *o)
{
    qr_socks5_layer *k;
    int rc;

    *out = NULL;
    if (!o->host || !*o->host)
        return qr_err_set(s->err, QR_EINVAL, "Missing option host");
    if (!o->port || !*o->port)
        return qr_err_set(s->err, QR_EINVAL, "Missing option port");
    k = qr_calloc(1, sizeof(*k));
    if (!k)
        return qr_err_set(s->err, QR_ENOMEM, "SOCKSv5 connection to %s", o->host);
    k->base.ops = &socks5_ops;
    k->base.stack = s;
    k->deadline = -1;
    k->timeout_ms = o->timeout_ms;
    k->socks5h = o->proxy->socks5h;
    rc = qr_tcp_port_number(o->port, &k->port, s->err);
    if (!rc)
        rc = s5_set_host(k, s, o->host);
    if (!rc)
        rc = s5_set_credentials(k, s, o->proxy);
    if (rc) {
        s5_destroy(&k->base);
        return rc;
    }
    *out = &k->base;
    return 0;
}

int qr_socks5_push(qr_stack *s, const qr_socks5_options *o, int keepalive, int connect_timeout_ms)
{
    qr_socket_options so;
    qr_layer *sock = NULL, *socks = NULL;
    char port[8];
    int rc;

    if (s->top)
        return qr_err_set(s->err, QR_EINVAL, "SOCKSv5 proxy on a non-empty stack");
    rc = qr_socks5_layer_create(&socks, s, o);
    if (rc)
        return rc;
    snprintf(port, sizeof(port), "%u", (unsigned)o->proxy->port_num);
    so.host = o->proxy->host;
    so.port = port;
    so.keepalive = keepalive;
    so.connect_timeout_ms = connect_timeout_ms;
    rc = qr_socket_layer_create(&sock, s, &so);
    if (rc) {
        s5_destroy(socks);
        return rc;
    }
    qr_stack_push(s, sock);
    qr_stack_push(s, socks);
    return 0;
}
