/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS for a connection: pushing the layer (imaps at creation, STARTTLS
 * after the switch) and the channel binding SCRAM-*-PLUS needs.
 *
 * Channel binding (qr_conn_tls_channel_binding()): RFC 9266
 * `tls-exporter` for TLS 1.3, where RFC 5929 `tls-unique` is undefined;
 * `tls-unique` for TLS 1.2 and older. GnuTLS computes both
 * (gnutls_session_channel_binding); the bytes are handed to the session,
 * which copies them for qr_auth. When GnuTLS cannot give them the -PLUS
 * mechanisms are simply not candidates.
 */
#include "config.h"

#include <string.h>

#include "conn/conn_p.h"

int qr_conn_push_tls(qr_conn *c)
{
    qr_tls_options t;
    qr_layer *l = NULL;
    int rc;

    qr_conn_tls_options(c, &t);
    rc = qr_tls_layer_create(&l, &c->stack, &t, c->creds, &c->log);
    if (rc < 0)
        return rc;
    qr_stack_push(&c->stack, l);
    c->tls = l;
    c->stack_ready = 0;
    return 0;
}

/* The channel binding of the TLS layer into buf: its type, or NONE. */
static qr_auth_cb_type channel_binding(qr_conn *c, unsigned char *buf, size_t cap, size_t *len)
{
    gnutls_session_t gs = qr_tls_layer_session(c->tls);
    gnutls_datum_t d = {NULL, 0};
    qr_auth_cb_type type = QR_AUTH_CB_TLS_UNIQUE;
    gnutls_channel_binding_t cbt = GNUTLS_CB_TLS_UNIQUE;

    *len = 0;
    if (qr_tls_layer_version(c->tls) >= QR_TLS_V1_3) {
#if GNUTLS_VERSION_NUMBER >= 0x030702
        type = QR_AUTH_CB_TLS_EXPORTER;
        cbt = GNUTLS_CB_TLS_EXPORTER;
#else
        return QR_AUTH_CB_NONE;
#endif
    }
    if (gnutls_session_channel_binding(gs, cbt, &d) < 0 || d.size == 0 || d.size > cap) {
        gnutls_free(d.data);
        return QR_AUTH_CB_NONE;
    }
    memcpy(buf, d.data, d.size);
    *len = d.size;
    gnutls_free(d.data);
    return type;
}

int qr_conn_tls_ready(qr_conn *c, int switching)
{
    unsigned char cb[QR_SETUP_CB_MAX];
    size_t len = 0;
    qr_auth_cb_type type =
        c->tls != NULL ? channel_binding(c, cb, sizeof(cb), &len) : QR_AUTH_CB_NONE;
    int rc = 0;

    if (switching)
        rc = qr_session_switch_done(c->session, QR_LINK_TLS, type, cb, len);
    else
        qr_session_set_channel_binding(c->session, type, cb, len);
    memset(cb, 0, sizeof(cb));
    return rc;
}
