/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connection options: defaults, copies, checks, and the construction of
 * what a new connection starts with.
 *
 * Every string option is copied (qr_conn owns the copies; `o` points at
 * them). Defaults follow interimap's configuration (spec interimap.md
 * §2.5): type imaps, host localhost, port 993 (imaps) or 143 (imap),
 * STARTTLS required, auth "PLAIN LOGIN", SSL_verify on; plus the
 * library's own: compress on (the reference library's default), 30 s
 * for connect, handshake and inactivity (the reference's socket
 * timeouts), 128 commands in flight.
 *
 * Construction (qr_conn_setup()): the place string for messages, the
 * session with the setup policy (link kind, STARTTLS, credentials,
 * COMPRESS, ENABLE), then the bottom of the stack: a tunnel (spawned now),
 * a SOCKS5 proxy pair, or a TCP socket (resolution and connect in the
 * first step), and for imaps the TLS layer on top. TLS options are checked
 * here, and the trust anchors loaded once, even for `imap` whose TLS
 * layer comes only after STARTTLS: a bad option fails qr_conn_new(), not
 * the middle of the setup.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "conn/conn_p.h"
#include "util/alloc.h"

/* The string members of qr_conn_options, copied and freed by offset. */
static const size_t string_fields[] = {
    offsetof(qr_conn_options, host),
    offsetof(qr_conn_options, port),
    offsetof(qr_conn_options, proxy),
    offsetof(qr_conn_options, command),
    offsetof(qr_conn_options, auth),
    offsetof(qr_conn_options, username),
    offsetof(qr_conn_options, password),
    offsetof(qr_conn_options, ssl_cafile),
    offsetof(qr_conn_options, ssl_capath),
    offsetof(qr_conn_options, ssl_hostname),
    offsetof(qr_conn_options, ssl_fingerprint),
    offsetof(qr_conn_options, ssl_protocol_min),
    offsetof(qr_conn_options, ssl_protocol_max),
    offsetof(qr_conn_options, ssl_protocols),
    offsetof(qr_conn_options, ssl_cipherlist),
    offsetof(qr_conn_options, ssl_ciphersuites),
    offsetof(qr_conn_options, ssl_priority),
    offsetof(qr_conn_options, enable),
    offsetof(qr_conn_options, tag_prefix),
};
#define NSTRINGS (sizeof(string_fields) / sizeof(string_fields[0]))

static const char **field(qr_conn_options *o, size_t i)
{
    return (const char **)(void *)((char *)o + string_fields[i]);
}

QR_EXTERN int qr_conn_options_init(qr_conn_options *opts, unsigned int version)
{
    static const qr_conn_options defaults = QR_CONN_OPTIONS_INIT;

    if (opts == NULL || version != QR_CONN_OPTIONS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

void qr_conn_options_free(qr_conn *c)
{
    size_t i;

    for (i = 0; i < NSTRINGS; i++) {
        char *p = (char *)(uintptr_t)*field(&c->o, i);

        if (p != NULL && string_fields[i] == offsetof(qr_conn_options, password))
            explicit_bzero(p, strlen(p));
        qr_free(p);
        *field(&c->o, i) = NULL;
    }
    qr_free(c->place);
    c->place = NULL;
}

/* Copy the options; the defaults for host and port. QR_ENOMEM, QR_EINVAL. */
static int copy_options(qr_conn *c, const qr_conn_options *opts)
{
    size_t i;

    c->o = *opts;
    for (i = 0; i < NSTRINGS; i++)
        *field(&c->o, i) = NULL;
    for (i = 0; i < NSTRINGS; i++) {
        const char *v = *field((qr_conn_options *)(uintptr_t)opts, i);

        if (v != NULL && (*field(&c->o, i) = qr_strdup(v)) == NULL)
            return QR_ENOMEM;
    }
    if (c->o.host == NULL && (c->o.host = qr_strdup("localhost")) == NULL)
        return QR_ENOMEM;
    if (c->o.port == NULL &&
        (c->o.port = qr_strdup(c->o.type == QR_CONN_IMAP ? "143" : "993")) == NULL)
        return QR_ENOMEM;
    return 0;
}

/* "HOST:PORT" or "tunnel COMMAND". */
static int make_place(qr_conn *c)
{
    const char *a = c->o.type == QR_CONN_TUNNEL ? "tunnel " : c->o.host;
    const char *b = c->o.type == QR_CONN_TUNNEL ? (c->o.command ? c->o.command : "") : c->o.port;
    size_t n = strlen(a) + strlen(b) + 2;

    c->place = qr_malloc(n);
    if (c->place == NULL)
        return QR_ENOMEM;
    memcpy(c->place, a, strlen(a) + 1);
    if (c->o.type != QR_CONN_TUNNEL)
        strcat(c->place, ":");
    strcat(c->place, b);
    return 0;
}

void qr_conn_tls_options(const qr_conn *c, qr_tls_options *t)
{
    qr_tls_options_init(t);
    t->host = c->o.host;
    t->hostname = c->o.ssl_hostname;
    t->verify = c->o.ssl_verify;
    t->cafile = c->o.ssl_cafile;
    t->capath = c->o.ssl_capath;
    t->fingerprints = c->o.ssl_fingerprint;
    t->protocol_min = c->o.ssl_protocol_min;
    t->protocol_max = c->o.ssl_protocol_max;
    t->protocols = c->o.ssl_protocols;
    t->cipherlist = c->o.ssl_cipherlist;
    t->ciphersuites = c->o.ssl_ciphersuites;
    t->priority = c->o.ssl_priority;
    t->handshake_timeout_ms = c->o.connect_timeout_ms;
}

/* Check the TLS options and load the trust anchors once. */
static int check_tls(qr_conn *c)
{
    qr_tls_options t;
    qr_tls_pin *pins = NULL;
    size_t npins = 0;
    char *prio = NULL;
    int append, rc;

    qr_conn_tls_options(c, &t);
    rc = qr_tls_priority_string(&t, NULL, &prio, &append, &c->terr);
    qr_free(prio);
    if (rc == 0 && t.fingerprints != NULL) {
        rc = qr_tls_pins_parse(t.fingerprints, &pins, &npins, &c->terr);
        qr_tls_pins_free(pins, npins);
    }
    if (rc == 0)
        rc = qr_tls_creds_new(&c->creds, &t, &c->terr, &c->log);
    return rc;
}

/* The session and its setup policy. */
static int make_session(qr_conn *c)
{
    qr_session_options so;
    qr_auth_options ao;
    qr_setup_cfg cfg;
    int rc;

    qr_session_options_init(&so, QR_SESSION_OPTIONS_VERSION);
    if (c->o.tag_prefix != NULL)
        so.tag_prefix = c->o.tag_prefix;
    so.max_in_flight = c->o.max_in_flight;
    so.log_fn = c->o.log_fn;
    so.log_payload = c->o.log_payload;
    so.log_level = c->o.log_level;
    so.on_unsolicited = c->o.on_unsolicited;
    so.payload = c->o.payload;
    rc = qr_session_new(&c->session, &so);
    if (rc < 0)
        return qr_err_set(&c->terr, rc, "bad session options (tag prefix or max_in_flight)");
    qr_auth_options_init(&ao, QR_AUTH_OPTIONS_VERSION);
    ao.username = c->o.username;
    ao.password = c->o.password;
    ao.password_fn = c->o.password_fn;
    ao.mechanisms = c->o.auth;
    ao.allow_weak = c->o.allow_weak_auth;
    ao.allow_plaintext = c->o.allow_plaintext_auth;
    ao.token_fn = c->o.oauth_token_fn;
    ao.payload = c->o.auth_payload;
    ao.oauth_host = c->o.type != QR_CONN_TUNNEL ? c->o.host : NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.link = c->o.type == QR_CONN_IMAPS    ? QR_LINK_TLS
               : c->o.type == QR_CONN_TUNNEL ? QR_LINK_TUNNEL
                                             : QR_LINK_PLAIN;
    cfg.starttls = c->o.type == QR_CONN_IMAP && c->o.starttls;
    cfg.auth = &ao;
    cfg.compress = c->o.compress;
    cfg.enable = c->o.enable;
    rc = qr_session_setup_configure(c->session, &cfg);
    if (rc < 0)
        qr_err_set(&c->terr, rc, "%s", qr_session_last_error(c->session)->message);
    return rc;
}

/* The bottom of the stack. */
static int push_bottom(qr_conn *c)
{
    qr_layer *l = NULL;
    int rc;

    if (c->o.type == QR_CONN_TUNNEL) {
        qr_tunnel_options to = {c->o.command, c->o.null_stderr};

        rc = qr_tunnel_layer_create(&l, &c->stack, &to);
    } else if (c->o.proxy != NULL) {
        qr_proxy_uri u;
        qr_socks5_options so;

        rc = qr_proxy_uri_parse(&u, c->o.proxy, &c->terr);
        if (rc < 0)
            return rc;
        so.proxy = &u;
        so.host = c->o.host;
        so.port = c->o.port;
        so.timeout_ms = c->o.connect_timeout_ms;
        rc = qr_socks5_push(&c->stack, &so, c->o.keepalive, c->o.connect_timeout_ms);
        qr_proxy_uri_free(&u);
        return rc;
    } else {
        qr_socket_options so = {c->o.host, c->o.port, c->o.keepalive, c->o.connect_timeout_ms};

        rc = qr_socket_layer_create(&l, &c->stack, &so);
    }
    if (rc == 0)
        qr_stack_push(&c->stack, l);
    return rc;
}

int qr_conn_setup(qr_conn *c, const qr_conn_options *opts)
{
    int rc;

    if (opts->version != QR_CONN_OPTIONS_VERSION)
        return QR_EINVAL;
    rc = copy_options(c, opts);
    if (rc == 0)
        rc = make_place(c);
    if (rc < 0)
        return rc;
    qr_logger_init(&c->log, c->o.log_fn, c->o.log_payload, c->o.log_level);
    if ((unsigned int)c->o.type > QR_CONN_TUNNEL)
        return qr_err_set(&c->terr, QR_EINVAL, "Invalid connection type %d", (int)c->o.type);
    if (c->o.type == QR_CONN_TUNNEL && (c->o.command == NULL || !*c->o.command))
        return qr_err_set(&c->terr, QR_EINVAL, "Missing tunnel command");
    if (c->o.type != QR_CONN_TUNNEL && !*c->o.host)
        return qr_err_set(&c->terr, QR_EINVAL, "Missing option host");
    if (c->o.max_in_flight == 0)
        c->o.max_in_flight = 128;
    rc = make_session(c);
    if (rc == 0 && (c->o.type == QR_CONN_IMAPS || (c->o.type == QR_CONN_IMAP && c->o.starttls)))
        rc = check_tls(c);
    if (rc == 0)
        rc = push_bottom(c);
    if (rc == 0 && c->o.type == QR_CONN_IMAPS)
        rc = qr_conn_push_tls(c);
    return rc;
}
