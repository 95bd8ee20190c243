/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connopts.c: connection options from settings (connopts.h).
 *
 * Every connection key has a field of the same meaning in
 * qr_conn_options (docs/connection-options.md). The values were checked
 * by config.c, so `type` is one of imap, imaps and tunnel; keys left
 * unset stay NULL and the library applies the reference's defaults.
 */
#include <string.h>

#include "connopts.h"

qr_log_level qrt_debug_level(int debug)
{
    if (debug <= 0)
        return QR_LOG_INFO;
    return debug == 1 ? QR_LOG_DEBUG : QR_LOG_TRACE;
}

void qrt_conn_options_fill(const struct qrt_conn_settings *s, int debug, int keepalive,
                           qr_conn_options *o)
{
    int tunnel = strcmp(s->type, "tunnel") == 0;

    qr_conn_options_init(o, QR_CONN_OPTIONS_VERSION);
    if (tunnel)
        o->type = QR_CONN_TUNNEL;
    else
        o->type = strcmp(s->type, "imap") == 0 ? QR_CONN_IMAP : QR_CONN_IMAPS;
    /* Where. */
    o->host = s->host;
    o->port = tunnel ? NULL : s->port;
    o->proxy = s->proxy;
    o->command = s->command;
    o->null_stderr = s->null_stderr;
    o->keepalive = keepalive && !tunnel;
    /* Who. */
    o->starttls = s->starttls;
    o->auth = s->auth;
    o->username = s->username;
    o->password = s->password;
    o->compress = s->compress;
    /* TLS. */
    o->ssl_verify = s->ssl_verify;
    o->ssl_cafile = s->ssl_cafile;
    o->ssl_capath = s->ssl_capath;
    o->ssl_hostname = s->ssl_hostname;
    o->ssl_fingerprint = s->ssl_fingerprint;
    o->ssl_protocols = s->ssl_protocols;
    o->ssl_protocol_min = s->ssl_protocol_min;
    o->ssl_protocol_max = s->ssl_protocol_max;
    o->ssl_cipherlist = s->ssl_cipherlist;
    o->ssl_ciphersuites = s->ssl_ciphersuites;
    o->log_level = qrt_debug_level(debug);
}
