/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-socks5: arbitrary proxy replies fed to the SOCKS5 layer
 * (transport/socks5.c) over a socketpair.
 *
 * Input: the first byte configures the run,
 *   bits 0-2  chunk size - 1 (the proxy's bytes arrive in chunks of 1..8,
 *             one step() per chunk),
 *   bit 3     the proxy URI carries credentials (u:p),
 *   bits 4-5  destination: 0 and 3 a name with socks5h (ATYP 3), 1 an
 *             IPv4 literal, 2 an IPv6 literal;
 * the rest is everything the "proxy" sends; then it closes its side.
 *
 * Properties (abort() on violation, so libFuzzer records the input):
 *   - step() ends, with 0 or QR_EPROTO/QR_EOF, whose message is recorded
 *     and starts "SOCKSv5 ERROR: "; it never asks for more once the proxy
 *     has closed; a failed layer keeps failing with the same code;
 *   - on success, the handshake consumed exactly the bytes an independent
 *     reading of RFC 1928 says (method reply, auth reply, reply header,
 *     bound address and port) and every byte after them comes out of
 *     read() unchanged, in order, then EOF.
 */
#include "config.h"

#include <qresync/error.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/socks5_p.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* How long the handshake is on a successful run: the oracle. */
static size_t handshake_len(const uint8_t *p, size_t n, int creds)
{
    size_t h = 2;

    if (creds && n >= 2 && p[1] == 0x02)
        h += 2;
    h += 4;
    REQUIRE(h <= n);
    switch (p[h - 1]) {
    case 1:
        return h + 4 + 2;
    case 4:
        return h + 16 + 2;
    case 3:
        REQUIRE(h < n);
        return h + 1 + p[h] + 2;
    default:
        abort();
    }
}

/* Discard what the client wrote to the proxy. */
static void drain(int fd)
{
    char junk[1024];

    while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

/* Read everything after the handshake; it must be exactly tail. */
static void check_tail(qr_stack *s, int peer, const uint8_t *tail, size_t len)
{
    static uint8_t got[1 << 16];
    size_t n = 0;

    for (;;) {
        ssize_t r = qr_stack_read(s, got + n, n < sizeof(got) ? sizeof(got) - n : 1);

        if (r == QR_EOF)
            break;
        REQUIRE(r > 0 || r == QR_EAGAIN);
        if (r > 0)
            n += (size_t)r;
        REQUIRE(n <= len && n < sizeof(got));
        drain(peer);
    }
    REQUIRE(n == len && (len == 0 || memcmp(got, tail, len) == 0));
}

/* Feed data in chunks until step() settles; returns its code, *fed the bytes written. */
static int run_exchange(qr_stack *s, int peer, const uint8_t *data, size_t size, size_t chunk,
                        size_t *fed)
{
    int rc = qr_stack_step(s), closed = 0;

    *fed = 0;
    while (rc == QR_EAGAIN) {
        REQUIRE(!closed);
        drain(peer);
        if (*fed < size) {
            size_t k = size - *fed < chunk ? size - *fed : chunk;

            REQUIRE(send(peer, data + *fed, k, MSG_NOSIGNAL) == (ssize_t)k);
            *fed += k;
        } else {
            shutdown(peer, SHUT_WR);
            closed = 1;
        }
        rc = qr_stack_step(s);
    }
    return rc;
}

static const char *const destinations[] = {"imap.example", "192.0.2.7", "[2001:db8::7]",
                                           "mail.example.org"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qr_proxy_uri uri;
    qr_errslot err;
    qr_stack s;
    qr_layer *l = NULL;
    int sv[2], rc, creds;
    size_t fed;

    if (size < 1 || size > (1 << 15))
        return 0;
    qr_alloc_fail_at(0, 0);
    creds = (data[0] >> 3) & 1;
    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    REQUIRE(qr_proxy_uri_parse(&uri, creds ? "socks5h://u:p@proxy" : "socks5h://proxy", &err) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE(qr_socket_layer_create_fd(&l, &s, sv[0], "proxy") == 0);
    qr_stack_push(&s, l);
    {
        qr_socks5_options o = {&uri, destinations[(data[0] >> 4) & 3], "143", 0};

        REQUIRE(qr_socks5_layer_create(&l, &s, &o) == 0);
        qr_stack_push(&s, l);
    }
    rc = run_exchange(&s, sv[1], data + 1, size - 1, (size_t)(data[0] & 7) + 1, &fed);
    if (rc == 0) {
        size_t h = handshake_len(data + 1, size - 1, creds);

        REQUIRE(h <= fed);
        send(sv[1], data + 1 + fed, size - 1 - fed, MSG_NOSIGNAL);
        shutdown(sv[1], SHUT_WR);
        check_tail(&s, sv[1], data + 1 + h, size - 1 - h);
    } else {
        REQUIRE(rc == QR_EPROTO || rc == QR_EOF);
        REQUIRE(qr_errslot_get(&err)->code == rc);
        REQUIRE(strncmp(qr_errslot_get(&err)->message, "SOCKSv5 ERROR: ", 15) == 0);
        REQUIRE(qr_stack_step(&s) == rc);
    }
    qr_stack_destroy(&s);
    qr_proxy_uri_free(&uri);
    close(sv[1]);
    return 0;
}
