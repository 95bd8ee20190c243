/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-session-setup: the setup steps a connection adds to the sans-IO
 * session (session/setup_p.h), driven byte for byte without sockets:
 * the STARTTLS switch (pause exactly after the OK, injection in the same
 * feed is fatal, nothing queued until the switch is done, capabilities
 * forgotten), the COMPRESS switch (leftover bytes left unconsumed for the
 * inflater), AUTHENTICATE PLAIN answering "+" without SASL-IR with the
 * line redacted in the log, and ENABLE checks.
 */
#include <qresync/session.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "session/setup_p.h"

static char logtext[8192];

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    (void)level;
    (void)cat;
    (void)payload;
    if (strlen(logtext) + len + 2 < sizeof(logtext)) {
        strncat(logtext, text, len);
        strcat(logtext, "\n");
    }
}

/* Everything the session wants to send, as a string (consumed). */
static const char *out(qr_session *s)
{
    static char buf[4096];
    qr_iov iov[16];
    size_t n = 0, i, len = 0;

    buf[0] = '\0';
    if (qr_session_output(s, iov, 16, &n) != 0)
        return "<error>";
    for (i = 0; i < n && len + iov[i].len < sizeof(buf); i++) {
        memcpy(buf + len, iov[i].base, iov[i].len);
        len += iov[i].len;
    }
    buf[len] = '\0';
    qr_session_consume(s, len);
    return buf;
}

static int feed(qr_session *s, const char *text, size_t *used)
{
    return qr_session_feed(s, text, strlen(text), used);
}

static qr_session *make(enum qr_link link, int starttls, const qr_auth_options *ao, int compress,
                        const char *enable)
{
    qr_session_options so = QR_SESSION_OPTIONS_INIT;
    qr_setup_cfg cfg = {link, starttls, ao, compress, enable};
    qr_session *s = NULL;

    so.log_fn = log_fn;
    so.log_level = QR_LOG_DEBUG;
    logtext[0] = '\0';
    qr_session_new(&s, &so);
    CHECK_INT_EQ(qr_session_setup_configure(s, &cfg), 0);
    return s;
}

static void test_starttls_switch(void)
{
    qr_session *s = make(QR_LINK_PLAIN, 1, NULL, 0, NULL);
    const char *ok = "A1 OK begin\r\n";
    size_t used = 0;

    CHECK_INT_EQ(qr_session_noop(s, NULL, NULL), 0); /* a user command waits */
    CHECK_INT_EQ(feed(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", &used), 0);
    CHECK(strcmp(out(s), "A1 STARTTLS\r\n") == 0);
    CHECK_INT_EQ(feed(s, ok, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, strlen(ok));
    CHECK_INT_EQ(qr_session_switch_pending(s), QR_SWITCH_TLS);
    CHECK(strcmp(out(s), "") == 0); /* nothing before the handshake */
    CHECK_INT_EQ(qr_session_want_write(s), 0);
    CHECK_INT_EQ(qr_session_switch_done(s, QR_LINK_TLS, QR_AUTH_CB_NONE, NULL, 0), 0);
    CHECK_INT_EQ(qr_session_caps_known(s), 0);
    CHECK(strcmp(out(s), "A2 CAPABILITY\r\n") == 0);
    CHECK_INT_EQ(feed(s, "* CAPABILITY IMAP4rev1\r\nA2 OK\r\n", &used), 0);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    CHECK(strcmp(out(s), "A3 NOOP\r\n") == 0);
    qr_session_free(s);
}

static void test_starttls_injection(void)
{
    qr_session *s = make(QR_LINK_PLAIN, 1, NULL, 0, NULL);
    size_t used = 0;

    feed(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", &used);
    CHECK(strcmp(out(s), "A1 STARTTLS\r\n") == 0);
    CHECK_INT_EQ(feed(s, "A1 OK begin\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x\r\n", &used),
                 QR_EPROTO);
    CHECK(strstr(qr_session_last_error(s)->message, "injection") != NULL);
    qr_session_free(s);
}

static void test_starttls_refusals(void)
{
    qr_session *s = make(QR_LINK_PLAIN, 1, NULL, 0, NULL);
    size_t used = 0;

    CHECK_INT_EQ(feed(s, "* OK [CAPABILITY IMAP4rev1] hi\r\n", &used), QR_ECAPABILITY);
    CHECK(strcmp(qr_session_last_error(s)->message,
                 "Server did not advertise STARTTLS capability.") == 0);
    qr_session_free(s);
    s = make(QR_LINK_PLAIN, 1, NULL, 0, NULL);
    CHECK_INT_EQ(feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", &used), QR_ETLS);
    CHECK(strstr(qr_session_last_error(s)->message, "MiTM in action?") != NULL);
    qr_session_free(s);
    s = make(QR_LINK_PLAIN, 1, NULL, 0, NULL);
    feed(s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", &used);
    out(s);
    CHECK_INT_EQ(feed(s, "A1 NO later\r\n", &used), QR_ETLS);
    qr_session_free(s);
}

static void test_compress_leftover(void)
{
    qr_session *s = make(QR_LINK_TUNNEL, 0, NULL, 1, NULL);
    const char *bytes = "A1 OK deflating\r\n\x01\x02\x03";
    size_t used = 0;

    feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] hi\r\n", &used);
    CHECK(strcmp(out(s), "A1 COMPRESS DEFLATE\r\n") == 0);
    CHECK_INT_EQ(feed(s, bytes, &used), QR_PAUSE);
    CHECK_UINT_EQ(used, strlen(bytes) - 3); /* the three compressed bytes are left */
    CHECK_INT_EQ(qr_session_switch_pending(s), QR_SWITCH_DEFLATE);
    CHECK_INT_EQ(qr_session_switch_done(s, QR_LINK_TUNNEL, QR_AUTH_CB_NONE, NULL, 0), 0);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    qr_session_free(s);
}

static void test_compress_other_algorithm(void)
{
    qr_session *s = make(QR_LINK_TUNNEL, 0, NULL, 1, NULL);
    size_t used = 0;

    feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 COMPRESS=LZ4] hi\r\n", &used);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    CHECK(strstr(logtext, "Couldn't find a suitable compression algorithm") != NULL);
    qr_session_free(s);
}

static void test_auth_plain_continuation(void)
{
    qr_auth_options ao = QR_AUTH_OPTIONS_INIT;
    qr_session *s;
    size_t used = 0;

    ao.username = "joe";
    ao.password = "pw";
    ao.mechanisms = "PLAIN";
    s = make(QR_LINK_TLS, 0, &ao, 0, NULL);
    feed(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", &used);
    CHECK(strcmp(out(s), "A1 AUTHENTICATE PLAIN\r\n") == 0);
    CHECK_INT_EQ(feed(s, "+ \r\n", &used), 0);
    CHECK(strcmp(out(s), "AGpvZQBwdw==\r\n") == 0);
    CHECK(strstr(logtext, "AGpvZQBwdw==") == NULL);
    CHECK(strstr(logtext, "C: <redacted>") != NULL);
    CHECK_INT_EQ(feed(s, "A1 OK [CAPABILITY IMAP4rev1 ENABLE] in\r\n", &used), 0);
    CHECK_INT_EQ(qr_session_state_get(s), QR_SESSION_AUTHENTICATED);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    qr_session_free(s);
}

static void test_auth_refused_on_plain_link(void)
{
    qr_auth_options ao = QR_AUTH_OPTIONS_INIT;
    qr_session *s;
    size_t used = 0;

    ao.username = "joe";
    ao.password = "pw";
    s = make(QR_LINK_PLAIN, 0, &ao, 0, NULL);
    CHECK_INT_EQ(feed(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", &used), QR_EAUTH);
    CHECK(strcmp(out(s), "<error>") == 0);
    qr_session_free(s);
}

static void test_enable(void)
{
    qr_session *s = make(QR_LINK_TUNNEL, 0, NULL, 0, "QRESYNC");
    size_t used = 0;

    feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 ENABLE QRESYNC] hi\r\n", &used);
    CHECK(strcmp(out(s), "A1 ENABLE QRESYNC\r\n") == 0);
    CHECK_INT_EQ(feed(s, "* ENABLED qresync\r\nA1 OK\r\n", &used), 0);
    CHECK_INT_EQ(qr_session_setup_enabled(s, "QRESYNC"), 1);
    CHECK_INT_EQ(qr_session_ready(s), 1);
    qr_session_free(s);

    s = make(QR_LINK_TUNNEL, 0, NULL, 0, "QRESYNC");
    feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 ENABLE QRESYNC] hi\r\n", &used);
    out(s);
    CHECK_INT_EQ(feed(s, "A1 OK\r\n", &used), QR_ECAPABILITY);
    CHECK(strcmp(qr_session_last_error(s)->message, "Couldn't ENABLE QRESYNC") == 0);
    qr_session_free(s);

    s = make(QR_LINK_TUNNEL, 0, NULL, 0, "QRESYNC");
    CHECK_INT_EQ(feed(s, "* PREAUTH [CAPABILITY IMAP4rev1 QRESYNC] hi\r\n", &used), QR_ECAPABILITY);
    CHECK(strcmp(qr_session_last_error(s)->message,
                 "Server did not advertise ENABLE (RFC 5161) capability.") == 0);
    qr_session_free(s);
}

int main(void)
{
    TAP_RUN(test_starttls_switch);
    TAP_RUN(test_starttls_injection);
    TAP_RUN(test_starttls_refusals);
    TAP_RUN(test_compress_leftover);
    TAP_RUN(test_compress_other_algorithm);
    TAP_RUN(test_auth_plain_continuation);
    TAP_RUN(test_auth_refused_on_plain_link);
    TAP_RUN(test_enable);
    return tap_done();
}
