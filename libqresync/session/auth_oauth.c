/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * XOAUTH2 and OAUTHBEARER: OAuth 2.0 bearer tokens over SASL, written as
 * libgsasl mechanisms of ours (libgsasl 2.2 has neither) and registered
 * with gsasl_register() on each qr_auth's own context only.
 *
 * Both send everything in the first message, so the exchange is one
 * client message and, on success, the tagged OK:
 *   XOAUTH2 (Google's):   "user=" U 0x01 "auth=Bearer " T 0x01 0x01
 *   OAUTHBEARER (RFC 7628 §3.1):
 *       "n,a=" U' "," 0x01 ["host=" H 0x01] ["port=" P 0x01]
 *       "auth=Bearer " T 0x01 0x01
 *   where U' is the user name with ',' and '=' escaped as "=2C" and "=3D"
 *   (RFC 5801 saslname), and host and port are sent only when configured.
 * On failure the server sends one challenge holding a JSON error before
 * its tagged NO. The client must answer it: OAUTHBEARER with a single
 * 0x01 byte (RFC 7628 §3.2.3), XOAUTH2 with an empty response. The JSON
 * is kept (cut to 512 bytes, control bytes replaced by '?') in
 * a->oauth_error so that the final error message can show it. A second
 * challenge is a protocol error.
 *
 * The first step returns GSASL_OK (nothing to verify: a bearer token
 * authenticates only the client). The mechanism's data comes from the
 * qr_auth (user name, token in a->secret, OAUTHBEARER host and port),
 * reached through the libgsasl session hook that qr_auth_sasl_begin() sets
 * right after gsasl_client_start(), before any step.
 *
 * Allocation: the outputs are handed to libgsasl's convention (the caller
 * releases them with gsasl_free(), which is free()), so they come from
 * malloc(), not qr_malloc(); the per-session state uses qr_calloc().
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/auth_p.h" /* gsasl.h, which includes gsasl-mech.h */
#include "util/alloc.h"

/* Per-exchange state. */
typedef struct oauth_state {
    int bearer; /* 1: OAUTHBEARER, 0: XOAUTH2 */
    int step;   /* gsasl_step() calls so far */
} oauth_state;

static int oauth_start(Gsasl_session *sctx, void **mech_data, int bearer)
{
    oauth_state *st = qr_calloc(1, sizeof(*st));

    (void)sctx;
    if (st == NULL)
        return GSASL_MALLOC_ERROR;
    st->bearer = bearer;
    *mech_data = st;
    return GSASL_OK;
}

static int xoauth2_start(Gsasl_session *sctx, void **mech_data)
{
    return oauth_start(sctx, mech_data, 0);
}

static int oauthbearer_start(Gsasl_session *sctx, void **mech_data)
{
    return oauth_start(sctx, mech_data, 1);
}

static void oauth_finish(Gsasl_session *sctx, void *mech_data)
{
    (void)sctx;
    qr_free(mech_data);
}

/* Append s, escaping ',' and '=' when saslname is set. */
static int add_text(qr_dynbuf *b, const char *s, int saslname)
{
    int rc = 0;

    for (; *s != '\0' && rc == 0; s++) {
        if (saslname && *s == ',')
            rc = qr_dynbuf_add(b, "=2C", 3);
        else if (saslname && *s == '=')
            rc = qr_dynbuf_add(b, "=3D", 3);
        else
            rc = qr_dynbuf_addc(b, *s);
    }
    return rc;
}

/* The initial client response of either mechanism, into b. */
static int build_response(const qr_auth *a, int bearer, qr_dynbuf *b)
{
    char port[24];
    int rc;

    if (bearer) {
        rc = qr_dynbuf_add(b, "n,a=", 4);
        if (rc == 0)
            rc = add_text(b, a->username, 1);
        if (rc == 0)
            rc = qr_dynbuf_add(b, ",\x01", 2);
        if (rc == 0 && a->oauth_host != NULL) {
            rc = qr_dynbuf_add(b, "host=", 5);
            if (rc == 0)
                rc = add_text(b, a->oauth_host, 0);
            if (rc == 0)
                rc = qr_dynbuf_addc(b, '\x01');
        }
        if (rc == 0 && a->oauth_port != 0) {
            snprintf(port, sizeof(port), "port=%u\x01", a->oauth_port);
            rc = qr_dynbuf_add(b, port, strlen(port));
        }
    } else {
        rc = qr_dynbuf_add(b, "user=", 5);
        if (rc == 0)
            rc = add_text(b, a->username, 0);
        if (rc == 0)
            rc = qr_dynbuf_addc(b, '\x01');
    }
    if (rc == 0)
        rc = qr_dynbuf_add(b, "auth=Bearer ", 12);
    if (rc == 0)
        rc = qr_dynbuf_add(b, a->secret, a->secret_len);
    if (rc == 0)
        rc = qr_dynbuf_add(b, "\x01\x01", 2);
    return rc;
}

/* Give b's bytes to libgsasl's caller as a malloc()ed output. */
static int hand_over(qr_dynbuf *b, char **output, size_t *output_len)
{
    char *out = malloc(b->len + 1);

    if (out == NULL)
        return GSASL_MALLOC_ERROR;
    memcpy(out, b->ptr, b->len);
    out[b->len] = '\0';
    *output = out;
    *output_len = b->len;
    return GSASL_OK;
}

/* Keep the server's JSON error for the final message. 0 or QR_ENOMEM. */
static int keep_error(qr_auth *a, const char *input, size_t len)
{
    size_t i, n = len < a->oauth_error.max ? len : a->oauth_error.max;
    int rc;

    qr_dynbuf_reset(&a->oauth_error);
    rc = qr_dynbuf_reserve(&a->oauth_error, n);
    for (i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)input[i];
        rc = qr_dynbuf_addc(&a->oauth_error, c >= 0x20 && c < 0x7f ? (char)c : '?');
    }
    return rc;
}

static int oauth_step(Gsasl_session *sctx, void *mech_data, const char *input, size_t input_len,
                      char **output, size_t *output_len)
{
    oauth_state *st = mech_data;
    qr_auth *a = gsasl_session_hook_get(sctx);
    qr_dynbuf b;
    int rc;

    *output = NULL;
    *output_len = 0;
    if (a == NULL || a->username == NULL)
        return GSASL_NO_AUTHID;
    switch (st->step++) {
    case 0:
        if (a->secret == NULL)
            return GSASL_NO_PASSWORD;
        qr_dynbuf_init(&b, QR_AUTH_LINE_MAX);
        rc = build_response(a, st->bearer, &b) == 0 ? hand_over(&b, output, output_len)
                                                    : GSASL_MALLOC_ERROR;
        qr_auth_erase_buf(&b);
        return rc;
    case 1:
        if (keep_error(a, input, input_len) != 0)
            return GSASL_MALLOC_ERROR;
        if (st->bearer) { /* RFC 7628 §3.2.3: a single %x01 */
            *output = malloc(2);
            if (*output == NULL)
                return GSASL_MALLOC_ERROR;
            memcpy(*output, "\x01", 2);
            *output_len = 1;
        }
        return GSASL_NEEDS_MORE;
    default:
        return GSASL_MECHANISM_CALLED_TOO_MANY_TIMES;
    }
}

static const Gsasl_mechanism xoauth2_mech = {
    "XOAUTH2",
    {NULL, NULL, xoauth2_start, oauth_step, oauth_finish, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const Gsasl_mechanism oauthbearer_mech = {
    "OAUTHBEARER",
    {NULL, NULL, oauthbearer_start, oauth_step, oauth_finish, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

int qr_auth_oauth_register(Gsasl *ctx)
{
    int rc = gsasl_register(ctx, &xoauth2_mech);

    if (rc == GSASL_OK)
        rc = gsasl_register(ctx, &oauthbearer_mech);
    return rc;
}
