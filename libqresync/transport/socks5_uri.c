/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `proxy` option: PROTO://[USER:PASSWORD@]HOST[:PORT] (spec
 * imap-client.md §2.3), parsed by hand into a qr_proxy_uri.
 *
 * The reference matches a regular expression; this parser gives the same
 * answers on every sensible input and is deterministic on the rest:
 *
 *   PROTO     one or more ASCII alphanumerics, then "://";
 *   userinfo  everything up to the LAST '@' of the remainder, when there
 *             is one; it must be non-empty and free of control characters
 *             (0x00-0x1F, 0x7F). It is split at its FIRST ':' into user
 *             and password (no ':': the password is ""). No
 *             percent-decoding. (The regular expression would backtrack
 *             and read "@h" or "u<TAB>@h" as a host name containing '@',
 *             which could never resolve; we call such values invalid.)
 *   HOST      "[...]" with a non-empty inside free of ']' (kept with its
 *             brackets: the socket layer treats them as "IP literal"), or
 *             one or more characters other than ':';
 *   PORT      optional ":" and one or more alphanumerics; default 1080.
 *
 * Checks, in order: the syntax ("Invalid proxy URI VALUE"), the protocol
 * (only socks5 and socks5h, case-sensitive: "Unsupported proxy protocol
 * PROTO"), the credential lengths (each is sent after a one-byte length,
 * so more than 255 bytes is refused rather than truncated: the reference
 * does not check), and the port (a number 1..65535 or a service name
 * known to getservbyname_r). Error messages never contain the password,
 * except "Invalid proxy URI VALUE", which quotes the option as the spec
 * requires.
 */
#include "config.h"

#include "transport/socks5_p.h"

#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "util/alloc.h"

/* The pieces of a syntactically valid value, as [begin, end) ranges. */
typedef struct uri_parts {
    const char *proto, *proto_end; /* PROTO */
    const char *info, *info_end;   /* userinfo; info == NULL when absent */
    const char *host, *host_end;   /* HOST, brackets included */
    const char *port;              /* PORT (runs to the end); NULL when absent */
} uri_parts;

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_control(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

/* Is [p, end) one or more alphanumerics? */
static int all_alnum(const char *p, const char *end)
{
    if (p == end)
        return 0;
    for (; p < end; p++)
        if (!is_alnum(*p))
            return 0;
    return 1;
}

/* After HOST: nothing, or ":" and an alphanumeric PORT to the end. */
static int parse_port(uri_parts *u, const char *p)
{
    if (*p == '\0') {
        u->port = NULL;
        return 1;
    }
    if (*p != ':' || !all_alnum(p + 1, p + strlen(p)))
        return 0;
    u->port = p + 1;
    return 1;
}

/* HOST[:PORT] at p: the bracketed form first, then the plain one. */
static int parse_hostport(uri_parts *u, const char *p)
{
    if (*p == '[') {
        const char *close = strchr(p, ']');

        if (close && close > p + 1 && parse_port(u, close + 1)) {
            u->host = p;
            u->host_end = close + 1;
            return 1;
        }
    }
    u->host = p;
    u->host_end = p + strcspn(p, ":");
    return u->host_end > u->host && parse_port(u, u->host_end);
}

static int parse_syntax(uri_parts *u, const char *value)
{
    const char *p = value, *rest, *at, *q;

    memset(u, 0, sizeof(*u));
    while (is_alnum(*p))
        p++;
    if (p == value || strncmp(p, "://", 3) != 0)
        return 0;
    u->proto = value;
    u->proto_end = p;
    rest = p + 3;
    at = strrchr(rest, '@');
    if (at) {
        if (at == rest)
            return 0;
        for (q = rest; q < at; q++)
            if (is_control(*q))
                return 0;
        u->info = rest;
        u->info_end = at;
        rest = at + 1;
    }
    return parse_hostport(u, rest);
}

int qr_tcp_port_number(const char *port, uint16_t *out, qr_errslot *err)
{
    struct servent se, *res = NULL;
    char buf[1024];
    unsigned long n = 0;
    const char *p;

    *out = 0;
    if (*port >= '0' && *port <= '9' && port[strspn(port, "0123456789")] == '\0') {
        for (p = port; *p && n <= 65535; p++)
            n = n * 10 + (unsigned long)(*p - '0');
        if (n == 0 || n > 65535)
            return qr_err_set(err, QR_EINVAL, "Invalid port number %s", port);
        *out = (uint16_t)n;
        return 0;
    }
    if (getservbyname_r(port, "tcp", &se, buf, sizeof(buf), &res) != 0 || !res)
        return qr_err_set(err, QR_EINVAL, "Can't getservbyname %s", port);
    *out = ntohs((uint16_t)res->s_port);
    return 0;
}

/* Copy the userinfo into u->user / u->password, split at the first ':'. */
static int split_userinfo(qr_proxy_uri *u, const uri_parts *p, qr_errslot *err)
{
    const char *colon = memchr(p->info, ':', (size_t)(p->info_end - p->info));
    const char *user_end = colon ? colon : p->info_end;
    const char *pass = colon ? colon + 1 : p->info_end;

    if (user_end - p->info > QR_SOCKS5_FIELD_MAX)
        return qr_err_set(err, QR_EINVAL, "Proxy user name longer than %d bytes",
                          QR_SOCKS5_FIELD_MAX);
    if (p->info_end - pass > QR_SOCKS5_FIELD_MAX)
        return qr_err_set(err, QR_EINVAL, "Proxy password longer than %d bytes",
                          QR_SOCKS5_FIELD_MAX);
    u->user = qr_memdup0(p->info, (size_t)(user_end - p->info));
    u->password = qr_memdup0(pass, (size_t)(p->info_end - pass));
    if (!u->user || !u->password)
        return qr_err_set(err, QR_ENOMEM, "parse the proxy URI");
    return 0;
}

/* The checks after the syntax: protocol, credentials, port. */
static int fill_uri(qr_proxy_uri *u, const uri_parts *p, qr_errslot *err)
{
    size_t plen = (size_t)(p->proto_end - p->proto);
    int rc;

    if (plen == 6 && memcmp(p->proto, "socks5", 6) == 0)
        u->socks5h = 0;
    else if (plen == 7 && memcmp(p->proto, "socks5h", 7) == 0)
        u->socks5h = 1;
    else
        return qr_err_set(err, QR_EINVAL, "Unsupported proxy protocol %.*s", (int)plen, p->proto);
    if (p->info) {
        rc = split_userinfo(u, p, err);
        if (rc)
            return rc;
    }
    u->host = qr_memdup0(p->host, (size_t)(p->host_end - p->host));
    u->port = qr_strdup(p->port ? p->port : QR_SOCKS5_DEFAULT_PORT);
    if (!u->host || !u->port)
        return qr_err_set(err, QR_ENOMEM, "parse the proxy URI");
    return qr_tcp_port_number(u->port, &u->port_num, err);
}

int qr_proxy_uri_parse(qr_proxy_uri *u, const char *value, qr_errslot *err)
{
    uri_parts p;
    int rc;

    memset(u, 0, sizeof(*u));
    if (!value || !parse_syntax(&p, value))
        return qr_err_set(err, QR_EINVAL, "Invalid proxy URI %s", value ? value : "");
    rc = fill_uri(u, &p, err);
    if (rc)
        qr_proxy_uri_free(u);
    return rc;
}

void qr_proxy_uri_free(qr_proxy_uri *u)
{
    if (!u)
        return;
    if (u->password)
        explicit_bzero(u->password, strlen(u->password));
    qr_free(u->host);
    qr_free(u->port);
    qr_free(u->user);
    qr_free(u->password);
    memset(u, 0, sizeof(*u));
}
