/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * options.c: qr_conn_options from a [local]/[remote] section (options.h).
 *
 * The keys map one to one (docs/connection-options.md); values were
 * validated by tools/common/config.c, so the type is one of imap, imaps
 * and tunnel. Unset keys stay NULL and the library applies the
 * reference's defaults.
 */
#include <string.h>

#include "options.h"

static qr_conn_type conn_type(const char *type)
{
    if (strcmp(type, "imap") == 0)
        return QR_CONN_IMAP;
    if (strcmp(type, "tunnel") == 0)
        return QR_CONN_TUNNEL;
    return QR_CONN_IMAPS;
}

void im_conn_options(const struct qrt_conn_settings *s, int debug, int watch,
                     const char *tag_prefix, struct im_log_side *side, qr_conn_options *o)
{
    qr_conn_options_init(o, QR_CONN_OPTIONS_VERSION);
    o->type = conn_type(s->type);
    o->host = s->host;
    o->port = o->type == QR_CONN_TUNNEL ? NULL : s->port;
    o->proxy = s->proxy;
    o->command = s->command;
    o->null_stderr = s->null_stderr;
    o->starttls = s->starttls;
    o->auth = s->auth;
    o->username = s->username;
    o->password = s->password;
    o->compress = s->compress;
    o->ssl_verify = s->ssl_verify;
    o->ssl_cafile = s->ssl_cafile;
    o->ssl_capath = s->ssl_capath;
    o->ssl_hostname = s->ssl_hostname;
    o->ssl_fingerprint = s->ssl_fingerprint;
    o->ssl_protocol_min = s->ssl_protocol_min;
    o->ssl_protocol_max = s->ssl_protocol_max;
    o->ssl_protocols = s->ssl_protocols;
    o->ssl_cipherlist = s->ssl_cipherlist;
    o->ssl_ciphersuites = s->ssl_ciphersuites;
    o->keepalive = watch && o->type != QR_CONN_TUNNEL;
    o->enable = "QRESYNC";
    o->tag_prefix = tag_prefix;
    o->log_fn = im_log_conn_cb;
    o->log_payload = side;
    o->log_level = debug >= 2 ? QR_LOG_TRACE : debug == 1 ? QR_LOG_DEBUG : QR_LOG_INFO;
}
