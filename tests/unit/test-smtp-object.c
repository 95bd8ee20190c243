/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the qr_smtp object without a server
 * (libqresync/smtp/smtp.c) and for the SMTP side of qr_auth
 * (qr_auth_start_sasl() in libqresync/session/auth.c): option defaults
 * and checks, the place in messages, calls in the wrong state,
 * allocation failures, and the SASL choice, policy and exchange SMTP AUTH
 * relies on.
 */
#include "config.h"

#include <qresync/smtp.h>
#include <string.h>

#include "../tap.h"
#include "session/auth_p.h"
#include "smtp/smtp_p.h"
#include "util/alloc.h"

static int no_body(void *buf, size_t cap, size_t *got, void *payload)
{
    (void)buf;
    (void)cap;
    (void)payload;
    *got = 0;
    return 0;
}

static void test_option_defaults(void)
{
    qr_smtp_options o;
    qr_smtp *s = NULL;

    CHECK_INT_EQ(qr_smtp_options_init(NULL, QR_SMTP_OPTIONS_VERSION), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_options_init(&o, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION), 0);
    CHECK_INT_EQ(o.proto, QR_SMTP_PROTO_SMTP);
    CHECK_INT_EQ(o.starttls, QR_SMTP_STARTTLS_OFFERED);
    CHECK_INT_EQ(o.ssl_verify, 1);
    CHECK_INT_EQ(o.pipelining, 1);
    CHECK_INT_EQ(o.connect_timeout_ms, 30000);
    CHECK_INT_EQ(o.io_timeout_ms, 300000);
    CHECK_INT_EQ(o.log_level, QR_LOG_INFO);
    CHECK(o.host == NULL && o.port == NULL && o.helo == NULL && o.auth == NULL);
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    CHECK_STR_EQ(s->o.host, "127.0.0.1");
    CHECK_STR_EQ(s->o.port, "25");
    CHECK_STR_EQ(s->o.helo, "localhost.localdomain");
    CHECK_STR_EQ(s->place, "127.0.0.1:25");
    CHECK_INT_EQ(qr_smtp_last_error(s)->code, 0);
    CHECK_INT_EQ(qr_smtp_last_reply(s)->code, 0);
    CHECK_STR_EQ(qr_smtp_last_reply(s)->text, "");
    CHECK_INT_EQ(qr_smtp_has_ext(s, "PIPELINING"), 0);
    qr_smtp_free(s);
}

static void test_place_brackets_ipv6(void)
{
    static const struct {
        const char *host, *place;
    } cases[] = {
        {"::1", "[::1]:2525"},
        {"[::1]", "[::1]:2525"},
        {"mx.example.org", "mx.example.org:2525"},
        {"192.0.2.1", "192.0.2.1:2525"},
    };
    qr_smtp_options o;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qr_smtp *s = NULL;

        qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
        o.host = cases[i].host;
        o.port = "2525";
        CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
        if (s != NULL)
            CHECK_STR_EQ(s->place, cases[i].place);
        qr_smtp_free(s);
    }
}

/* Each bad option: QR_EINVAL from qr_smtp_new() and no handle. */
static void test_bad_options_are_refused(void)
{
    qr_smtp_options o;
    qr_smtp *s = (qr_smtp *)&o;
    int i;

    for (i = 0; i < 12; i++) {
        qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
        switch (i) {
        case 0:
            o.version = 2;
            break;
        case 1:
            o.proto = (qr_smtp_proto)2;
            break;
        case 2:
            o.starttls = 3;
            break;
        case 3:
            o.host = "mx\r\n.org";
            break;
        case 4:
            o.port = "25\n";
            break;
        case 5:
            o.helo = "a\r\nRSET";
            break;
        case 6:
            o.helo = "two words";
            break;
        case 7:
            o.auth = "PLAIN";
            break; /* no user name */
        case 8:
            o.auth = "PL@IN";
            o.username = "joe";
            break;
        case 9:
            o.ssl_fingerprint = "sha256$zz";
            break;
        case 10:
            o.ssl_protocol_min = "TLSv9";
            break;
        default:
            o.host = "mx\x7f";
            break;
        }
        CHECK_INT_EQ(qr_smtp_new(&s, &o), QR_EINVAL);
        CHECK(s == NULL);
        s = (qr_smtp *)&o;
    }
    /* TLS options are not checked when STARTTLS can never happen */
    qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
    o.starttls = QR_SMTP_STARTTLS_NEVER;
    o.ssl_protocol_min = "TLSv9";
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    qr_smtp_free(s);
    CHECK_INT_EQ(qr_smtp_new(NULL, &o), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_new(&s, NULL), QR_EINVAL);
}

static void test_calls_without_a_connection(void)
{
    qr_smtp_options o;
    qr_smtp *s = NULL;

    qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
    o.host = "::1";
    o.port = "2525";
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d", 0, 0, 0, no_body, NULL), QR_EINVAL);
    CHECK_STR_EQ(qr_smtp_last_error(s)->message, "smtp [::1]:2525: MAIL FROM: not connected");
    /* address checks come first, and name the field */
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d\r\nDATA", 0, 0, 0, no_body, NULL), QR_EINVAL);
    CHECK(strstr(qr_smtp_last_error(s)->message, "RCPT TO: invalid recipient") != NULL);
    CHECK_INT_EQ(qr_smtp_send(s, "<a@b", "c@d", 0, 0, 0, no_body, NULL), QR_EINVAL);
    CHECK(strstr(qr_smtp_last_error(s)->message, "MAIL FROM: invalid sender") != NULL);
    CHECK_INT_EQ(qr_smtp_send(s, NULL, "c@d", 0, 0, 0, no_body, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_send(s, "a@b", "c@d", 0, 0, 0, NULL, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_quit(s), 0);
    CHECK_INT_EQ(qr_smtp_last_error(s)->code, 0);
    qr_smtp_free(s);
    CHECK_INT_EQ(qr_smtp_send(NULL, "a", "b", 0, 0, 0, no_body, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_connect(NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_quit(NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_smtp_has_ext(NULL, "X"), 0);
    qr_smtp_free(NULL);
}

static void test_new_allocation_failures(void)
{
    qr_smtp_options o;
    qr_smtp *s = NULL;
    unsigned long n, total;

    qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
    o.auth = "PLAIN";
    o.username = "joe";
    o.password = "pw";
    o.ssl_fingerprint = "sha256$" /* 32 bytes */
                        "0011223344556677889900112233445566778899001122334455667788990011";
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_smtp_new(&s, &o), 0);
    total = qr_alloc_count();
    qr_smtp_free(s);
    CHECK(total > 5);
    for (n = 1; n <= total; n++) {
        int rc;

        s = NULL;
        qr_alloc_fail_at(n, 0);
        rc = qr_smtp_new(&s, &o);
        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK(s == NULL);
        qr_smtp_free(s);
    }
}

/* --- qr_auth_start_sasl: the SMTP side of qr_auth ---------------------- */

static qr_auth *sasl_auth(const char *mechs, int allow_plaintext)
{
    qr_auth_options ao;
    qr_auth *a = NULL;

    qr_auth_options_init(&ao, QR_AUTH_OPTIONS_VERSION);
    ao.username = "joe";
    ao.password = "pw";
    ao.mechanisms = mechs;
    ao.allow_plaintext = allow_plaintext;
    CHECK_INT_EQ(qr_auth_new(&a, &ao), 0);
    return a;
}

static void test_sasl_login_is_a_sasl_mechanism(void)
{
    static const char *const offered[] = {"plain", "LOGIN"};
    qr_auth_link plain = {0, QR_AUTH_CB_NONE, NULL, 0};
    const char *ir = (const char *)1, *line = NULL;
    size_t irlen = 7, len = 0;
    int secret = 0;
    qr_auth *a = sasl_auth("LOGIN PLAIN", 0);

    /* a password mechanism in clear: refused by the policy */
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &plain, "smtp", &ir, &irlen), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_mechanism(a), "LOGIN");
    CHECK(strstr(qr_auth_last_error(a)->message, "refusing to send a password") != NULL);
    CHECK(ir == NULL && irlen == 0);
    qr_auth_free(a);
    /* allowed: LOGIN speaks second, so no initial response */
    a = sasl_auth("LOGIN PLAIN", 1);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &plain, "smtp", &ir, &irlen), 0);
    CHECK(ir == NULL);
    CHECK_INT_EQ(qr_auth_step(a, "VXNlcm5hbWU6", 12, &line, &len, &secret), 0);
    CHECK_MEM_EQ(line, len, "am9l", 4);
    CHECK_INT_EQ(secret, 1);
    CHECK_INT_EQ(qr_auth_step(a, "UGFzc3dvcmQ6", 12, &line, &len, &secret), 0);
    CHECK_MEM_EQ(line, len, "cHc=", 4);
    CHECK_INT_EQ(qr_auth_finish(a, 0, NULL), 0);
    qr_auth_free(a);
}

static void test_sasl_plain_initial_response_and_refusal(void)
{
    static const char *const offered[] = {"CRAM-MD5", "PLAIN"};
    qr_auth_link tls = {1, QR_AUTH_CB_NONE, NULL, 0};
    const char *ir = NULL;
    size_t irlen = 0;
    qr_auth *a = sasl_auth("LOGIN PLAIN", 0);

    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, "smtp", &ir, &irlen), 0);
    CHECK_STR_EQ(qr_auth_mechanism(a), "PLAIN");
    CHECK_MEM_EQ(ir, irlen, "AGpvZQBwdw==", 12);
    CHECK_INT_EQ(qr_auth_finish(a, QR_ENO, "535 5.7.8 bad"), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "AUTH PLAIN failed: 535 5.7.8 bad");
    CHECK_STR_EQ(qr_auth_last_error(a)->resp_text, "535 5.7.8 bad");
    qr_auth_free(a);
    /* nothing in common: no mechanism chosen */
    a = sasl_auth("SCRAM-SHA-256 LOGIN", 0);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, "smtp", &ir, &irlen), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_mechanism(a), "");
    qr_auth_free(a);
    /* a weak mechanism stays refused */
    a = sasl_auth("CRAM-MD5", 0);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, "smtp", &ir, &irlen), QR_EAUTH);
    CHECK(strstr(qr_auth_last_error(a)->message, "weak") != NULL);
    qr_auth_free(a);
    /* misuse */
    a = sasl_auth(NULL, 0);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, NULL, &ir, &irlen), QR_EINVAL);
    CHECK_INT_EQ(qr_auth_start_sasl(a, NULL, 2, &tls, "smtp", &ir, &irlen), QR_EINVAL);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, "smtp", &ir, &irlen), 0);
    CHECK_INT_EQ(qr_auth_start_sasl(a, offered, 2, &tls, "smtp", &ir, &irlen), QR_EINVAL);
    qr_auth_free(a);
}

int main(void)
{
    TAP_RUN(test_option_defaults);
    TAP_RUN(test_place_brackets_ipv6);
    TAP_RUN(test_bad_options_are_refused);
    TAP_RUN(test_calls_without_a_connection);
    TAP_RUN(test_new_allocation_failures);
    TAP_RUN(test_sasl_login_is_a_sasl_mechanism);
    TAP_RUN(test_sasl_plain_initial_response_and_refusal);
    return tap_done();
}
