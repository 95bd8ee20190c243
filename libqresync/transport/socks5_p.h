/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socks5_p.h: reaching the IMAP server through a SOCKS5 proxy (issue 4;
 * spec imap-client.md §2.3, RFC 1928 and RFC 1929).
 *
 * Two pieces, both internal:
 *
 *  - qr_proxy_uri_parse() (socks5_uri.c): the `proxy` option,
 *    PROTO://[USER:PASSWORD@]HOST[:PORT], parsed into a qr_proxy_uri
 *    (pure apart from getservbyname for a named port);
 *  - the SOCKS5 layer (socks5.c): sits on a bottom layer connected to the
 *    proxy and performs the exchange in step(); afterwards read/write pass
 *    straight through. qr_socks5_push() builds the usual pair on an empty
 *    stack:
 *
 *        [socks5 layer] -> socket layer to PROXY-HOST:PROXY-PORT
 *
 * Messages recorded by the layer (the session adds "remote: ", the tool
 * "ERROR: "):
 *   SOCKSv5 ERROR: Invalid protocol                        (QR_EPROTO)
 *   SOCKSv5 ERROR: No acceptable authentication methods    (QR_EPROTO)
 *   SOCKSv5 ERROR: Authentication failed                   (QR_EPROTO)
 *   SOCKSv5 ERROR: <RFC 1928 text for REP 1..8>            (QR_EPROTO)
 *   SOCKSv5 ERROR: unknown reply code N                    (QR_EPROTO)
 *   SOCKSv5 ERROR: 0 bytes read (got EOF)                  (QR_EOF)
 *   SOCKSv5 ERROR: read: Connection timed out              (QR_EIO)
 *   getaddrinfo(HOST): TEXT                                (QR_EIO)
 * and I/O errors of the layer below as that layer recorded them.
 */
#ifndef QR_TRANSPORT_SOCKS5_P_H
#define QR_TRANSPORT_SOCKS5_P_H

#include <stdint.h>

#include "transport/transport_p.h"
#include "util/error.h"

/* Longest user name, password and ATYP 3 host name (one length byte each). */
#define QR_SOCKS5_FIELD_MAX 255

/* The default proxy port. */
#define QR_SOCKS5_DEFAULT_PORT "1080"

/* A parsed `proxy` option. Every string is owned; free with qr_proxy_uri_free(). */
typedef struct qr_proxy_uri {
    int socks5h;       /* 1: socks5h (the proxy resolves names), 0: socks5 (we do) */
    char *host;        /* proxy host as written; "[IPv6]" keeps its brackets */
    char *port;        /* proxy port as written, "1080" when absent */
    uint16_t port_num; /* the port as a number (service names resolved) */
    char *user;        /* user name; NULL when the URI has no userinfo */
    char *password;    /* password ("" when the userinfo has no ':'); NULL without userinfo */
} qr_proxy_uri;

/*
 * Parse value into *u (zeroed first; nothing to free on failure).
 * QR_EINVAL with one of: "Invalid proxy URI VALUE", "Unsupported proxy
 * protocol PROTO", "Proxy user name longer than 255 bytes", "Proxy
 * password longer than 255 bytes", "Invalid port number PORT", "Can't
 * getservbyname PORT"; QR_ENOMEM.
 */
int qr_proxy_uri_parse(qr_proxy_uri *u, const char *value, qr_errslot *err);
/* Free the strings (the password is wiped first); u is zeroed. NULL is fine. */
void qr_proxy_uri_free(qr_proxy_uri *u);

/*
 * PORT as a TCP port number: decimal digits (1..65535), else a service
 * name looked up with getservbyname_r(PORT, "tcp"). QR_EINVAL "Invalid
 * port number PORT" / "Can't getservbyname PORT".
 */
int qr_tcp_port_number(const char *port, uint16_t *out, qr_errslot *err);

typedef struct qr_socks5_options {
    const qr_proxy_uri *proxy; /* protocol and credentials; borrowed for the call */
    const char *host;          /* destination: name, IP literal or [IP literal]; borrowed */
    const char *port;          /* destination port: number or service name; borrowed */
    int timeout_ms;            /* whole exchange, from the first step(); <= 0: none */
} qr_socks5_options;

/*
 * A SOCKS5 layer for the stack s, to be pushed on a bottom layer connected
 * (or connecting) to the proxy. Validates the destination now (QR_EINVAL:
 * "Missing option host", "Invalid IP literal: X", "Host name longer than
 * 255 bytes for SOCKSv5: HOST", port errors as qr_tcp_port_number());
 * QR_ENOMEM. With `socks5` a destination name is resolved in step(), with
 * a blocking getaddrinfo() (as the socket layer resolves its host).
 */
int qr_socks5_layer_create(qr_layer **out, qr_stack *s, const qr_socks5_options *o);

/*
 * On the empty stack s: a socket layer to the proxy (keepalive and
 * connect_timeout_ms as in qr_socket_options) with a SOCKS5 layer on top.
 * qr_stack_step() then connects and runs the exchange. QR_EINVAL (stack
 * not empty, bad destination), QR_ENOMEM; the stack is unchanged on error.
 */
int qr_socks5_push(qr_stack *s, const qr_socks5_options *o, int keepalive, int connect_timeout_ms);

#endif /* QR_TRANSPORT_SOCKS5_P_H */
