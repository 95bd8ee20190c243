/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-auth: the authentication state machine (libqresync/session/auth*.c).
 *
 * The choice of mechanism and the policy are checked as a table of
 * configured list x advertised capabilities x link -> chosen mechanism or
 * exact error. Commands are checked byte for byte through the builder's
 * serializer. SCRAM runs for real against libgsasl's server side in the
 * same process, channel binding included; the OAuth mechanisms are
 * checked against their RFC byte layouts.
 */
#include "config.h"

#include <gsasl.h>
#include <stdlib.h>
#include <string.h>

#include "proto/builder_p.h"
#include "session/auth_p.h"
#include "util/alloc.h"

#include "../tap.h"

/* --- helpers ----------------------------------------------------------- */

/* Split a space-separated capability string into caps[] (static storage). */
static size_t split_caps(const char *s, char *store, size_t cap, const char **caps, size_t max)
{
    size_t n = 0;
    char *p, *save = NULL;

    snprintf(store, cap, "%s", s);
    for (p = strtok_r(store, " ", &save); p != NULL && n < max; p = strtok_r(NULL, " ", &save))
        caps[n++] = p;
    return n;
}

/* The exact bytes a command puts on the wire (LITERAL+ mode), malloc'ed. */
static char *wire(qr_cmd *c, size_t *len_out)
{
    qr_cmdw w;
    qr_chunk ch;
    char *out = malloc(1);
    size_t len = 0;

    if (qr_cmdw_init(&w, c, "A1", QR_CMD_LITERAL_PLUS) != 0)
        return NULL;
    while (qr_cmdw_next(&w, &ch) == 0 && ch.kind != QR_CHUNK_END) {
        if (ch.kind == QR_CHUNK_TEXT || ch.kind == QR_CHUNK_BODY) {
            out = realloc(out, len + ch.len + 1);
            memcpy(out + len, ch.ptr, ch.len);
            len += ch.len;
        }
    }
    out[len] = '\0';
    if (len_out != NULL)
        *len_out = len;
    return out;
}

/* The log rendering of a command at a level. */
static char *rendered(qr_cmd *c, qr_log_level level)
{
    qr_buf b = QR_BUF_INIT;
    char *s;

    if (qr_cmd_render(c, "A1", QR_CMD_LITERAL_PLUS, level, &b) != 0)
        return NULL;
    s = strdup(b.ptr);
    qr_buf_dispose(&b);
    return s;
}

static const char *test_token = "ya29.tok";

static int token_cb(qr_buf *out, void *payload)
{
    const char *t = payload != NULL ? payload : test_token;

    out->ptr = (char *)t;
    out->size = strlen(t);
    return 0;
}

static int failing_cb(qr_buf *out, void *payload)
{
    (void)out;
    (void)payload;
    return -7;
}

static int password_cb(qr_buf *out, void *payload)
{
    static char pw[] = "from-callback";

    (void)payload;
    out->ptr = pw;
    out->size = strlen(pw);
    return 0;
}

static void base_opts(qr_auth_options *o)
{
    qr_auth_options_init(o, QR_AUTH_OPTIONS_VERSION);
    o->username = "joe";
    o->password = "s3cret";
    o->token_fn = token_cb;
}

static const qr_auth_link secure_link = {1, QR_AUTH_CB_NONE, NULL, 0};
static const qr_auth_link insecure_link = {0, QR_AUTH_CB_NONE, NULL, 0};

/* Start an exchange; returns the rc, with *a and *cmd set. */
static int start(const qr_auth_options *o, const char *capstr, const qr_auth_link *link,
                 qr_auth **a, qr_cmd **cmd)
{
    char store[512];
    const char *caps[32];
    size_t n = split_caps(capstr, store, sizeof(store), caps, 32);
    int rc = qr_auth_new(a, o);

    *cmd = NULL;
    if (rc != 0)
        return rc;
    return qr_auth_start(*a, caps, n, link, cmd);
}

/* --- base64 ------------------------------------------------------------ */

static void test_b64_encode_rfc4648_vectors(void)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    size_t i;

    for (i = 0; i < 7; i++) {
        qr_dynbuf b;
        qr_dynbuf_init(&b, 100);
        CHECK_INT_EQ(qr_b64_encode(&b, in[i], strlen(in[i])), 0);
        CHECK_STR_EQ(qr_dynbuf_str(&b), out[i]);
        qr_dynbuf_free(&b);
    }
}

static void test_b64_decode_is_strict(void)
{
    static const struct {
        const char *in;
        int rc;
        const char *out;
    } cases[] = {
        {"", 0, ""},
        {"Zg==", 0, "f"},
        {"Zm8=", 0, "fo"},
        {"Zm9vYmFy", 0, "foobar"},
        {"Zh==", 0, "f"}, /* unused pad bits are ignored, as libgsasl does */
        {"Zg=", QR_EPROTO, NULL},
        {"Z===", QR_EPROTO, NULL},
        {"Zg==Zg==", QR_EPROTO, NULL},
        {"Zm9v!mFy", QR_EPROTO, NULL},
        {"Zm 9v", QR_EPROTO, NULL},
        {"=Zm9", QR_EPROTO, NULL},
        {"Zm9v\r\n", QR_EPROTO, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qr_dynbuf b;
        int rc;
        qr_dynbuf_init(&b, 100);
        rc = qr_b64_decode(&b, cases[i].in, strlen(cases[i].in));
        CHECK_INT_EQ(rc, cases[i].rc);
        if (cases[i].rc == 0)
            CHECK_STR_EQ(qr_dynbuf_str(&b), cases[i].out);
        else
            CHECK_UINT_EQ(b.len, 0);
        qr_dynbuf_free(&b);
    }
}

/* --- choice and policy ------------------------------------------------- */

typedef struct choice_case {
    const char *list; /* configured mechanisms, NULL for the default */
    const char *caps; /* advertised capabilities */
    int secure;       /* link_secure */
    int cb;           /* channel binding available */
    int weak, plain;  /* allow_weak, allow_plaintext */
    int rc;           /* expected qr_auth_start() result */
    const char *want; /* chosen mechanism, or the exact error message */
} choice_case;

static const choice_case choice_table[] = {
    {NULL, "IMAP4rev1", 1, 0, 0, 0, 0, "LOGIN"},
    {NULL, "IMAP4rev1 AUTH=PLAIN", 1, 0, 0, 0, 0, "PLAIN"},
    {NULL, "IMAP4rev1 auth=plain", 1, 0, 0, 0, 0, "PLAIN"},
    {"login plain", "IMAP4rev1 AUTH=PLAIN", 1, 0, 0, 0, 0, "LOGIN"},
    {"LOGIN", "IMAP4rev1 AUTH=LOGIN", 1, 0, 0, 0, 0, "LOGIN"},
    {"scram-sha-256 plain", "AUTH=PLAIN AUTH=SCRAM-SHA-256", 1, 0, 0, 0, 0, "SCRAM-SHA-256"},
    {"SCRAM-SHA-256 SCRAM-SHA-1", "AUTH=SCRAM-SHA-1", 1, 0, 0, 0, 0, "SCRAM-SHA-1"},
    {"SCRAM-SHA-256", "AUTH=PLAIN", 1, 0, 0, 0, QR_EAUTH,
     "Failed to choose an authentication mechanism"},
    {"PLAIN", "IMAP4rev1", 1, 0, 0, 0, QR_EAUTH, "Failed to choose an authentication mechanism"},
    {"PLAIN", "IMAP4rev1 AUTH=PLAINX XAUTH=PLAIN", 1, 0, 0, 0, QR_EAUTH,
     "Failed to choose an authentication mechanism"},
    /* LOGINDISABLED: LOGIN and PLAIN only, case-sensitive */
    {NULL, "AUTH=PLAIN LOGINDISABLED", 1, 0, 0, 0, QR_EAUTH, "Logins are disabled."},
    {"LOGIN", "IMAP4rev1 LOGINDISABLED", 1, 0, 0, 0, QR_EAUTH, "Logins are disabled."},
    {NULL, "AUTH=PLAIN logindisabled", 1, 0, 0, 0, 0, "PLAIN"},
    {"SCRAM-SHA-1 PLAIN", "AUTH=SCRAM-SHA-1 AUTH=PLAIN LOGINDISABLED", 1, 0, 0, 0, 0,
     "SCRAM-SHA-1"},
    {"XOAUTH2", "AUTH=XOAUTH2 LOGINDISABLED", 1, 0, 0, 0, 0, "XOAUTH2"},
    /* weak mechanisms */
    {"CRAM-MD5 PLAIN", "AUTH=CRAM-MD5 AUTH=PLAIN", 1, 0, 0, 0, QR_EAUTH,
     "mechanism CRAM-MD5 refused: weak (set auth-allow-weak to use it anyway)"},
    {"CRAM-MD5 PLAIN", "AUTH=CRAM-MD5 AUTH=PLAIN", 1, 0, 1, 0, 0, "CRAM-MD5"},
    {"DIGEST-MD5", "AUTH=DIGEST-MD5", 1, 0, 0, 0, QR_EAUTH,
     "mechanism DIGEST-MD5 refused: weak (set auth-allow-weak to use it anyway)"},
    {"NTLM", "AUTH=NTLM", 1, 0, 0, 0, QR_EAUTH,
     "mechanism NTLM refused: weak (set auth-allow-weak to use it anyway)"},
    {"X-UNKNOWN PLAIN", "AUTH=X-UNKNOWN AUTH=PLAIN", 1, 0, 1, 0, QR_EAUTH,
     "Unsupported authentication mechanism: X-UNKNOWN"},
    /* plaintext on an insecure link */
    {NULL, "AUTH=PLAIN", 0, 0, 0, 0, QR_EAUTH,
     "refusing to send a password over an unencrypted connection (mechanism PLAIN; set "
     "auth-allow-plaintext to override)"},
    {NULL, "IMAP4rev1", 0, 0, 0, 0, QR_EAUTH,
     "refusing to send a password over an unencrypted connection (mechanism LOGIN; set "
     "auth-allow-plaintext to override)"},
    {"OAUTHBEARER", "AUTH=OAUTHBEARER", 0, 0, 0, 0, QR_EAUTH,
     "refusing to send a bearer token over an unencrypted connection (mechanism OAUTHBEARER; "
     "set auth-allow-plaintext to override)"},
    {NULL, "AUTH=PLAIN", 0, 0, 0, 1, 0, "PLAIN"},
    {NULL, "IMAP4rev1", 0, 0, 0, 1, 0, "LOGIN"},
    {"XOAUTH2", "AUTH=XOAUTH2", 0, 0, 0, 1, 0, "XOAUTH2"},
    {"SCRAM-SHA-256 PLAIN", "AUTH=SCRAM-SHA-256 AUTH=PLAIN", 0, 0, 0, 0, 0, "SCRAM-SHA-256"},
    /* -PLUS needs channel binding */
    {"SCRAM-SHA-256-PLUS SCRAM-SHA-256", "AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256", 1, 0, 0, 0,
     0, "SCRAM-SHA-256"},
    {"SCRAM-SHA-256-PLUS SCRAM-SHA-256", "AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256", 1, 1, 0, 0,
     0, "SCRAM-SHA-256-PLUS"},
    {"SCRAM-SHA-1-PLUS", "AUTH=SCRAM-SHA-1-PLUS", 0, 0, 0, 0, QR_EAUTH,
     "Failed to choose an authentication mechanism"},
};

static void test_choice_table(void)
{
    static const unsigned char cbdata[] = "fake-channel-binding";
    size_t i;

    for (i = 0; i < sizeof(choice_table) / sizeof(choice_table[0]); i++) {
        const choice_case *t = &choice_table[i];
        qr_auth_options o;
        qr_auth_link link = {t->secure, t->cb ? QR_AUTH_CB_TLS_EXPORTER : QR_AUTH_CB_NONE,
                             t->cb ? cbdata : NULL, t->cb ? sizeof(cbdata) - 1 : 0};
        qr_auth *a = NULL;
        qr_cmd *cmd = NULL;
        int rc;

        base_opts(&o);
        o.mechanisms = t->list;
        o.allow_weak = t->weak;
        o.allow_plaintext = t->plain;
        rc = start(&o, t->caps, &link, &a, &cmd);
        if (rc != t->rc)
            printf("# case %zu: %s / %s\n", i, t->list ? t->list : "(default)", t->caps);
        CHECK_INT_EQ(rc, t->rc);
        if (rc == 0) {
            CHECK_STR_EQ(qr_auth_mechanism(a), t->want);
            CHECK(cmd != NULL);
        } else {
            CHECK_STR_EQ(qr_auth_last_error(a)->message, t->want);
            CHECK_INT_EQ(qr_auth_last_error(a)->code, t->rc);
            CHECK(cmd == NULL);
            /* a failed start leaves the object failed */
            CHECK_INT_EQ(qr_auth_start(a, NULL, 0, &link, &cmd), t->rc);
        }
        qr_cmd_free(cmd);
        qr_auth_free(a);
    }
}

static void test_missing_credentials(void)
{
    qr_auth_options o;
    qr_auth *a;
    qr_cmd *cmd;

    base_opts(&o);
    o.username = NULL;
    CHECK_INT_EQ(start(&o, "AUTH=PLAIN", &secure_link, &a, &cmd), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "Missing option username");
    qr_auth_free(a);

    base_opts(&o);
    o.password = NULL;
    CHECK_INT_EQ(start(&o, "IMAP4rev1", &secure_link, &a, &cmd), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "Missing option password");
    qr_auth_free(a);

    base_opts(&o);
    o.mechanisms = "SCRAM-SHA-1";
    o.password = NULL;
    CHECK_INT_EQ(start(&o, "AUTH=SCRAM-SHA-1", &secure_link, &a, &cmd), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "Missing option password");
    qr_auth_free(a);

    base_opts(&o);
    o.mechanisms = "XOAUTH2";
    o.token_fn = NULL;
    CHECK_INT_EQ(start(&o, "AUTH=XOAUTH2", &secure_link, &a, &cmd), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message,
                 "Missing option token (mechanism XOAUTH2 needs an OAuth token callback)");
    qr_auth_free(a);

    base_opts(&o);
    o.mechanisms = "OAUTHBEARER";
    o.token_fn = failing_cb;
    CHECK_INT_EQ(start(&o, "AUTH=OAUTHBEARER", &secure_link, &a, &cmd), QR_EUSER);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "the token callback failed (-7)");
    qr_auth_free(a);

    base_opts(&o);
    o.mechanisms = "OAUTHBEARER";
    o.payload = (void *)"bad token";
    CHECK_INT_EQ(start(&o, "AUTH=OAUTHBEARER", &secure_link, &a, &cmd), QR_EINVAL);
    CHECK_STR_EQ(qr_auth_last_error(a)->message,
                 "the OAuth token or user name holds a byte RFC 6750 does not allow");
    qr_auth_free(a);
}

static void test_options_are_checked(void)
{
    qr_auth_options o;
    qr_auth *a = (qr_auth *)&o;
    qr_cmd *cmd, *cmd2;

    CHECK_INT_EQ(qr_auth_options_init(NULL, QR_AUTH_OPTIONS_VERSION), QR_EINVAL);
    CHECK_INT_EQ(qr_auth_options_init(&o, 99), QR_EINVAL);
    base_opts(&o);
    o.mechanisms = "PLAIN,LOGIN";
    CHECK_INT_EQ(qr_auth_new(&a, &o), QR_EINVAL);
    CHECK(a == NULL);
    o.mechanisms = "SCRAM-SHA-256-PLUS-AND-MORE";
    CHECK_INT_EQ(qr_auth_new(&a, &o), QR_EINVAL);
    o.mechanisms = "  plain\tlogin  ";
    CHECK_INT_EQ(start(&o, "AUTH=PLAIN", &secure_link, &a, &cmd), 0);
    CHECK_STR_EQ(qr_auth_mechanism(a), "PLAIN");
    CHECK_INT_EQ(qr_auth_start(a, NULL, 0, &secure_link, &cmd2), QR_EINVAL); /* twice */
    CHECK(cmd2 == NULL);
    qr_cmd_free(cmd);
    qr_auth_free(a);
    o.version = 2;
    CHECK_INT_EQ(qr_auth_new(&a, &o), QR_EINVAL);
    qr_auth_free(NULL);
}

/* --- exact commands ---------------------------------------------------- */

/* Start with options o and caps; check the wire bytes of the command. */
static qr_auth *check_command(const qr_auth_options *o, const char *caps, const char *want)
{
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    char *w;
    size_t len = 0;

    CHECK_INT_EQ(start(o, caps, &secure_link, &a, &cmd), 0);
    if (cmd == NULL)
        return a;
    w = wire(cmd, &len);
    CHECK_MEM_EQ(w, len, want, strlen(want));
    free(w);
    qr_cmd_free(cmd);
    return a;
}

static void test_login_command_quotes_and_redacts(void)
{
    qr_auth_options o;
    qr_auth *a;
    qr_cmd *cmd;
    char *r;

    base_opts(&o);
    o.password = "s3cr\"et pass";
    a = check_command(&o, "IMAP4rev1", "A1 LOGIN joe \"s3cr\\\"et pass\"\r\n");
    CHECK(a->secret == NULL); /* erased once in the command */
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);

    o.password = "p\xc3\xa4ss";
    a = check_command(&o, "IMAP4rev1", "A1 LOGIN joe {5+}\r\np\xc3\xa4ss\r\n");
    CHECK_INT_EQ(qr_auth_finish(a, QR_ENO, "[AUTHENTICATIONFAILED] Authentication failed."),
                 QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message,
                 "LOGIN failed: NO [AUTHENTICATIONFAILED] Authentication failed.");
    CHECK_STR_EQ(qr_auth_last_error(a)->resp_text, "[AUTHENTICATIONFAILED] Authentication failed.");
    qr_auth_free(a);

    base_opts(&o);
    o.password = NULL;
    o.password_fn = password_cb;
    CHECK_INT_EQ(start(&o, "IMAP4rev1", &secure_link, &a, &cmd), 0);
    r = rendered(cmd, QR_LOG_DEBUG);
    CHECK_STR_EQ(r, "A1 LOGIN <redacted> <redacted>");
    free(r);
    r = rendered(cmd, QR_LOG_TRACE);
    CHECK_STR_EQ(r, "A1 LOGIN joe from-callback");
    free(r);
    /* LOGIN has no SASL continuations */
    {
        const char *line;
        size_t len;
        int secret;
        CHECK_INT_EQ(qr_auth_step(a, "", 0, &line, &len, &secret), QR_EINVAL);
        CHECK(line == NULL);
    }
    qr_cmd_free(cmd);
    qr_auth_free(a);
}

/* Answer one continuation; check the line and its secrecy. */
static void check_step(qr_auth *a, const char *challenge, int want_rc, const char *want_line)
{
    const char *line = NULL;
    size_t len = 0;
    int secret = -1;

    CHECK_INT_EQ(qr_auth_step(a, challenge, strlen(challenge), &line, &len, &secret), want_rc);
    CHECK(line != NULL);
    if (line != NULL)
        CHECK_MEM_EQ(line, len, want_line, strlen(want_line));
    CHECK_INT_EQ(secret, want_rc == 0);
}

static void test_authenticate_plain(void)
{
    qr_auth_options o;
    qr_auth *a;
    qr_cmd *cmd;
    char *r;

    base_opts(&o);
    a = check_command(&o, "IMAP4rev1 SASL-IR AUTH=PLAIN",
                      "A1 AUTHENTICATE PLAIN AGpvZQBzM2NyZXQ=\r\n");
    CHECK(a->secret == NULL);
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);

    a = check_command(&o, "IMAP4rev1 sasl-ir AUTH=PLAIN",
                      "A1 AUTHENTICATE PLAIN AGpvZQBzM2NyZXQ=\r\n");
    qr_auth_free(a);

    a = check_command(&o, "IMAP4rev1 AUTH=PLAIN", "A1 AUTHENTICATE PLAIN\r\n");
    check_step(a, "", 0, "AGpvZQBzM2NyZXQ=");
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    CHECK_INT_EQ(qr_auth_finish(a, 0, "again"), QR_EINVAL);
    qr_auth_free(a);

    o.authzid = "admin";
    a = check_command(&o, "SASL-IR AUTH=PLAIN",
                      "A1 AUTHENTICATE PLAIN YWRtaW4Aam9lAHMzY3JldA==\r\n");
    qr_auth_free(a);

    base_opts(&o);
    CHECK_INT_EQ(start(&o, "SASL-IR AUTH=PLAIN", &secure_link, &a, &cmd), 0);
    r = rendered(cmd, QR_LOG_DEBUG);
    CHECK_STR_EQ(r, "A1 AUTHENTICATE PLAIN <redacted>");
    free(r);
    qr_cmd_free(cmd);
    /* NO: the server's text is in the message */
    CHECK_INT_EQ(qr_auth_finish(a, QR_ENO, "[AUTHENTICATIONFAILED] Authentication failed."),
                 QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "AUTHENTICATE PLAIN failed: NO "
                                                 "[AUTHENTICATIONFAILED] Authentication failed.");
    qr_auth_free(a);
}

static void test_authenticate_oauth_bytes(void)
{
    qr_auth_options o;
    qr_auth *a;

    base_opts(&o);
    o.username = "joe@example.com";
    o.password = NULL;
    o.mechanisms = "XOAUTH2";
    a = check_command(&o, "SASL-IR AUTH=XOAUTH2",
                      "A1 AUTHENTICATE XOAUTH2 "
                      "dXNlcj1qb2VAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==\r\n");
    CHECK(a->secret == NULL);
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);

    o.mechanisms = "OAUTHBEARER";
    a = check_command(&o, "SASL-IR AUTH=OAUTHBEARER",
                      "A1 AUTHENTICATE OAUTHBEARER "
                      "bixhPWpvZUBleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==\r\n");
    qr_auth_free(a);

    o.oauth_host = "imap.example.com";
    o.oauth_port = 993;
    a = check_command(&o, "AUTH=OAUTHBEARER", "A1 AUTHENTICATE OAUTHBEARER\r\n");
    check_step(a, "", 0,
               "bixhPWpvZUBleGFtcGxlLmNvbSwBaG9zdD1pbWFwLmV4YW1wbGUuY29tAXBvcnQ9OTkzAWF1dGg9QmVh"
               "cmVyIHlhMjkudG9rAQE=");
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);

    /* saslname escaping of the user in the gs2 header */
    base_opts(&o);
    o.username = "a=b,c";
    o.mechanisms = "OAUTHBEARER";
    o.payload = (void *)"T";
    a = check_command(&o, "SASL-IR AUTH=OAUTHBEARER",
                      "A1 AUTHENTICATE OAUTHBEARER bixhPWE9M0RiPTJDYywBYXV0aD1CZWFyZXIgVAEB\r\n");
    qr_auth_free(a);
}

static void test_oauth_error_challenge(void)
{
    qr_auth_options o;
    qr_auth *a;

    base_opts(&o);
    o.username = "joe@example.com";
    o.mechanisms = "OAUTHBEARER";
    a = check_command(&o, "SASL-IR AUTH=OAUTHBEARER",
                      "A1 AUTHENTICATE OAUTHBEARER "
                      "bixhPWpvZUBleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==\r\n");
    /* + base64({"status":"invalid_token","scope":"mail"}) -> a single 0x01 */
    check_step(a, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJtYWlsIn0=", 0, "AQ==");
    CHECK_INT_EQ(qr_auth_finish(a, QR_ENO, "SASL authentication failed"), QR_EAUTH);
    CHECK_STR_EQ(qr_auth_last_error(a)->message,
                 "AUTHENTICATE OAUTHBEARER failed: NO SASL authentication failed (server's "
                 "OAuth error: {\"status\":\"invalid_token\",\"scope\":\"mail\"})");
    qr_auth_free(a);

    /* XOAUTH2 answers the error with an empty response; a second one is too many */
    o.mechanisms = "XOAUTH2";
    a = check_command(&o, "SASL-IR AUTH=XOAUTH2",
                      "A1 AUTHENTICATE XOAUTH2 "
                      "dXNlcj1qb2VAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==\r\n");
    check_step(a, "eyJzdGF0dXMiOiI0MDEifQ==", 0, "");
    check_step(a, "", QR_EPROTO, "*");
    CHECK_INT_EQ(qr_auth_finish(a, QR_EBAD, "Invalid"), QR_EPROTO);
    CHECK_STR_EQ(qr_auth_last_error(a)->message,
                 "XOAUTH2: the server asked for more than the mechanism has");
    qr_auth_free(a);
}

static void test_malformed_challenge_cancels(void)
{
    qr_auth_options o;
    qr_auth *a;

    base_opts(&o);
    a = check_command(&o, "AUTH=PLAIN", "A1 AUTHENTICATE PLAIN\r\n");
    check_step(a, "not base64!", QR_EPROTO, "*");
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "PLAIN: the server's challenge is not base64");
    check_step(a, "", QR_EPROTO, "*"); /* stays failed */
    CHECK_INT_EQ(qr_auth_finish(a, QR_EBAD, "Canceled"), QR_EPROTO);
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "PLAIN: the server's challenge is not base64");
    qr_auth_free(a);
}

static void test_empty_initial_response_is_equals_sign(void)
{
    qr_auth_options o;
    qr_auth *a;

    base_opts(&o);
    o.mechanisms = "EXTERNAL";
    o.allow_weak = 1;
    a = check_command(&o, "SASL-IR AUTH=EXTERNAL", "A1 AUTHENTICATE EXTERNAL =\r\n");
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);
}

/* --- SCRAM against libgsasl's server ----------------------------------- */

typedef struct fake_server {
    const char *password;    /* the user's password */
    const char *cb_unique;   /* base64 tls-unique the server sees, or NULL */
    const char *cb_exporter; /* base64 tls-exporter the server sees, or NULL */
} fake_server;

static int server_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
    fake_server *fs = gsasl_callback_hook_get(ctx);
    const char *v = NULL;

    switch (prop) {
    case GSASL_PASSWORD:
        v = fs->password;
        break;
    case GSASL_CB_TLS_UNIQUE:
        v = fs->cb_unique;
        break;
    case GSASL_CB_TLS_EXPORTER:
        v = fs->cb_exporter;
        break;
    case GSASL_SCRAM_ITER:
        v = "4096";
        break;
    default:
        break;
    }
    if (v == NULL)
        return GSASL_NO_CALLBACK;
    return gsasl_property_set(sctx, prop, v);
}

/* The argument after the mechanism in "A1 AUTHENTICATE M IR\r\n", malloc'ed. */
static char *initial_response(qr_cmd *cmd)
{
    char *w = wire(cmd, NULL), *sp, *ir;

    sp = strrchr(w, ' ');
    ir = strdup(sp + 1);
    ir[strcspn(ir, "\r")] = '\0';
    free(w);
    return ir;
}

enum tamper { T_NONE, T_SIGNATURE, T_EARLY_OK };

/*
 * One SCRAM exchange. Returns what qr_auth_finish() said; *gs2 receives
 * the client's gs2 header ("n,,", "y,,", "p=tls-exporter,,").
 */
static int scram_run(const char *mech, const char *caps, const qr_auth_link *link, fake_server *fs,
                     enum tamper tamper, char *gs2, size_t gs2cap, char *errmsg, size_t errcap)
{
    Gsasl *srv;
    Gsasl_session *ss;
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    char *ir, *sout = NULL;
    const char *line;
    size_t len;
    int secret, rc, src, fin;

    base_opts(&o);
    o.password = NULL;
    o.password_fn = password_cb; /* "from-callback" */
    o.mechanisms = mech;
    CHECK_INT_EQ(gsasl_init(&srv), GSASL_OK);
    gsasl_callback_hook_set(srv, fs);
    gsasl_callback_set(srv, server_cb);
    CHECK_INT_EQ(gsasl_server_start(srv, mech, &ss), GSASL_OK);

    rc = start(&o, caps, link, &a, &cmd);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        qr_auth_free(a);
        gsasl_finish(ss);
        gsasl_done(srv);
        return rc;
    }
    ir = initial_response(cmd);
    if (strstr(caps, "SASL-IR") == NULL) { /* "+ " first: the client speaks */
        CHECK_STR_EQ(ir, mech);
        free(ir);
        CHECK_INT_EQ(qr_auth_step(a, "", 0, &line, &len, &secret), 0);
        ir = strdup(line);
    }
    {
        char *raw;
        size_t rawlen;
        gsasl_base64_from(ir, strlen(ir), &raw, &rawlen);
        snprintf(gs2, gs2cap, "%.*s", (int)(strchr(strchr(raw, ',') + 1, ',') + 1 - raw), raw);
        gsasl_free(raw);
    }
    /* client-first -> server-first */
    src = gsasl_step64(ss, ir, &sout);
    free(ir);
    CHECK_INT_EQ(src, GSASL_NEEDS_MORE);
    CHECK_INT_EQ(qr_auth_step(a, sout, strlen(sout), &line, &len, &secret), 0);
    CHECK_INT_EQ(secret, 1);
    gsasl_free(sout);
    sout = NULL;
    /* client-final -> server-final (or failure) */
    src = gsasl_step64(ss, line, &sout);
    if (src != GSASL_OK) {
        fin = qr_auth_finish(a, QR_ENO, "[AUTHENTICATIONFAILED] Authentication failed.");
    } else if (tamper == T_EARLY_OK) {
        fin = qr_auth_finish(a, 0, "Logged in");
    } else {
        if (tamper == T_SIGNATURE) {
            char *raw, *b64;
            size_t rawlen;
            gsasl_base64_from(sout, strlen(sout), &raw, &rawlen);
            raw[2] = raw[2] == 'A' ? 'B' : 'A'; /* "v=..." */
            gsasl_base64_to(raw, rawlen, &b64, NULL);
            gsasl_free(sout);
            gsasl_free(raw);
            sout = b64;
        }
        rc = qr_auth_step(a, sout, strlen(sout), &line, &len, &secret);
        if (tamper == T_SIGNATURE) {
            CHECK_INT_EQ(rc, QR_EAUTH);
            CHECK_MEM_EQ(line, len, "*", 1);
            fin = qr_auth_finish(a, QR_EBAD, "Canceled");
        } else {
            CHECK_INT_EQ(rc, 0);
            CHECK_UINT_EQ(len, 0); /* empty response to the server-final message */
            fin = qr_auth_finish(a, 0, "Logged in");
        }
    }
    snprintf(errmsg, errcap, "%s", qr_auth_last_error(a)->message);
    CHECK(a->secret == NULL);
    gsasl_free(sout);
    qr_cmd_free(cmd);
    qr_auth_free(a);
    gsasl_finish(ss);
    gsasl_done(srv);
    return fin;
}

static void test_scram_against_gsasl_server(void)
{
    fake_server fs = {"from-callback", NULL, NULL};
    char gs2[64], msg[QR_ERR_MESSAGE_MAX];

    CHECK_INT_EQ(scram_run("SCRAM-SHA-256", "IMAP4rev1 SASL-IR AUTH=SCRAM-SHA-256", &secure_link,
                           &fs, T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(gs2, "n,,");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-1", "IMAP4rev1 AUTH=SCRAM-SHA-1", &insecure_link, &fs, T_NONE,
                           gs2, sizeof(gs2), msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(gs2, "n,,");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-1", "SASL-IR AUTH=SCRAM-SHA-1", &secure_link, &fs, T_NONE,
                           gs2, sizeof(gs2), msg, sizeof(msg)),
                 0);
}

static void test_scram_failures(void)
{
    fake_server fs = {"from-callback", NULL, NULL};
    fake_server wrong = {"another password", NULL, NULL};
    char gs2[64], msg[QR_ERR_MESSAGE_MAX];

    CHECK_INT_EQ(scram_run("SCRAM-SHA-256", "SASL-IR AUTH=SCRAM-SHA-256", &secure_link, &fs,
                           T_SIGNATURE, gs2, sizeof(gs2), msg, sizeof(msg)),
                 QR_EAUTH);
    CHECK_STR_EQ(msg, "SCRAM server signature mismatch");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-1", "AUTH=SCRAM-SHA-1", &secure_link, &fs, T_SIGNATURE, gs2,
                           sizeof(gs2), msg, sizeof(msg)),
                 QR_EAUTH);
    CHECK_STR_EQ(msg, "SCRAM server signature mismatch");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-256", "SASL-IR AUTH=SCRAM-SHA-256", &secure_link, &fs,
                           T_EARLY_OK, gs2, sizeof(gs2), msg, sizeof(msg)),
                 QR_EAUTH);
    CHECK_STR_EQ(msg, "AUTHENTICATE SCRAM-SHA-256: the server accepted before the mechanism "
                      "completed (SCRAM server signature missing)");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-256", "SASL-IR AUTH=SCRAM-SHA-256", &secure_link, &wrong,
                           T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                 QR_EAUTH);
    CHECK_STR_EQ(msg, "AUTHENTICATE SCRAM-SHA-256 failed: NO [AUTHENTICATIONFAILED] "
                      "Authentication failed.");
}

static void test_scram_plus_channel_binding(void)
{
    static const char cb[] = "fake-tls-exporter-value-0123456789";
    static const char cb_other[] = "another-tls-exporter-value-xxxxxxx";
    qr_auth_link exporter = {1, QR_AUTH_CB_TLS_EXPORTER, cb, sizeof(cb) - 1};
    qr_auth_link unique = {1, QR_AUTH_CB_TLS_UNIQUE, cb, sizeof(cb) - 1};
    qr_auth_link other = {1, QR_AUTH_CB_TLS_EXPORTER, cb_other, sizeof(cb_other) - 1};
    char b64[128], gs2[64], msg[QR_ERR_MESSAGE_MAX];
    fake_server fs = {"from-callback", b64, b64};
    qr_dynbuf b;

    qr_dynbuf_init(&b, 128);
    qr_b64_encode(&b, cb, sizeof(cb) - 1);
    snprintf(b64, sizeof(b64), "%s", qr_dynbuf_str(&b));
    qr_dynbuf_free(&b);

    CHECK_INT_EQ(scram_run("SCRAM-SHA-256-PLUS", "SASL-IR AUTH=SCRAM-SHA-256-PLUS", &exporter, &fs,
                           T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(gs2, "p=tls-exporter,,");
    CHECK_INT_EQ(scram_run("SCRAM-SHA-1-PLUS", "AUTH=SCRAM-SHA-1-PLUS", &unique, &fs, T_NONE, gs2,
                           sizeof(gs2), msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(gs2, "p=tls-unique,,");
    /* the server sees other channel-binding bytes: a man in the middle */
    CHECK_INT_EQ(scram_run("SCRAM-SHA-256-PLUS", "SASL-IR AUTH=SCRAM-SHA-256-PLUS", &other, &fs,
                           T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                 QR_EAUTH);
    CHECK_STR_EQ(msg, "AUTHENTICATE SCRAM-SHA-256-PLUS failed: NO [AUTHENTICATIONFAILED] "
                      "Authentication failed.");
    /* non-PLUS with binding available: always "n" (libgsasl 2.2 fails on "y") */
    {
        fake_server plain_fs = {"from-callback", NULL, NULL};
        CHECK_INT_EQ(scram_run("SCRAM-SHA-256", "SASL-IR AUTH=SCRAM-SHA-256", &exporter, &plain_fs,
                               T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                     0);
        CHECK_STR_EQ(gs2, "n,,");
        CHECK_INT_EQ(scram_run("SCRAM-SHA-256",
                               "SASL-IR AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-256-PLUS", &exporter, &fs,
                               T_NONE, gs2, sizeof(gs2), msg, sizeof(msg)),
                     0);
        CHECK_STR_EQ(gs2, "n,,");
    }
}

static void test_allowed_weak_mechanism_runs_against_gsasl_server(void)
{
    fake_server fs = {"from-callback", NULL, NULL};
    Gsasl *srv;
    Gsasl_session *ss;
    qr_auth_options o;
    qr_auth *a;
    char *sout = NULL;
    const char *line;
    size_t len;
    int secret;

    base_opts(&o);
    o.password = NULL;
    o.password_fn = password_cb; /* asked through libgsasl's callback */
    o.mechanisms = "CRAM-MD5";
    o.allow_weak = 1;
    CHECK_INT_EQ(gsasl_init(&srv), GSASL_OK);
    gsasl_callback_hook_set(srv, &fs);
    gsasl_callback_set(srv, server_cb);
    CHECK_INT_EQ(gsasl_server_start(srv, "CRAM-MD5", &ss), GSASL_OK);
    /* the server speaks first: no initial response even with SASL-IR */
    a = check_command(&o, "SASL-IR AUTH=CRAM-MD5", "A1 AUTHENTICATE CRAM-MD5\r\n");
    CHECK_INT_EQ(gsasl_step64(ss, "", &sout), GSASL_NEEDS_MORE);
    CHECK_INT_EQ(qr_auth_step(a, sout, strlen(sout), &line, &len, &secret), 0);
    gsasl_free(sout);
    sout = NULL;
    CHECK_INT_EQ(gsasl_step64(ss, line, &sout), GSASL_OK);
    gsasl_free(sout);
    CHECK_INT_EQ(qr_auth_finish(a, 0, "Logged in"), 0);
    qr_auth_free(a);
    gsasl_finish(ss);
    gsasl_done(srv);
}

static void test_scram_garbage_is_a_protocol_error(void)
{
    qr_auth_options o;
    qr_auth *a;
    qr_cmd *cmd;

    base_opts(&o);
    o.mechanisms = "SCRAM-SHA-256";
    CHECK_INT_EQ(start(&o, "SASL-IR AUTH=SCRAM-SHA-256", &secure_link, &a, &cmd), 0);
    qr_cmd_free(cmd);
    check_step(a, "Z2FyYmFnZQ==", QR_EPROTO, "*"); /* "garbage" */
    CHECK_STR_EQ(qr_auth_last_error(a)->message, "SCRAM-SHA-256: malformed server message");
    CHECK_INT_EQ(qr_auth_finish(a, QR_EBAD, "Canceled"), QR_EPROTO);
    qr_auth_free(a);
}

/* --- allocation failures ----------------------------------------------- */

/* One case: start and run to the end; returns the first error. */
typedef int (*alloc_case_fn)(void);

static int alloc_case_login(void)
{
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    int rc;

    base_opts(&o);
    rc = start(&o, "IMAP4rev1", &secure_link, &a, &cmd);
    if (rc == 0)
        rc = qr_auth_finish(a, 0, "ok");
    qr_cmd_free(cmd);
    qr_auth_free(a);
    return rc;
}

static int alloc_case_plain(void)
{
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    const char *line;
    size_t len;
    int secret, rc;

    base_opts(&o);
    o.password = NULL;
    o.password_fn = password_cb;
    rc = start(&o, "AUTH=PLAIN", &secure_link, &a, &cmd);
    if (rc == 0)
        rc = qr_auth_step(a, "", 0, &line, &len, &secret);
    if (rc == 0)
        rc = qr_auth_finish(a, 0, "ok");
    else if (a != NULL && a->state != QR_AUTH_NEW)
        CHECK_INT_EQ(qr_auth_finish(a, QR_EBAD, "x"), rc);
    qr_cmd_free(cmd);
    qr_auth_free(a);
    return rc;
}

static int alloc_case_oauth(void)
{
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    const char *line;
    size_t len;
    int secret, rc;

    base_opts(&o);
    o.mechanisms = "OAUTHBEARER";
    o.oauth_host = "h";
    rc = start(&o, "SASL-IR AUTH=OAUTHBEARER", &secure_link, &a, &cmd);
    if (rc == 0)
        rc = qr_auth_step(a, "e30=", 4, &line, &len, &secret);
    if (rc == 0)
        rc = qr_auth_finish(a, QR_ENO, "no") == QR_EAUTH ? 0 : QR_ERROR;
    qr_cmd_free(cmd);
    qr_auth_free(a);
    return rc;
}

static int alloc_case_scram(void)
{
    static const char cb[] = "cb";
    qr_auth_link link = {1, QR_AUTH_CB_TLS_UNIQUE, cb, 2};
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    int rc;

    base_opts(&o);
    o.mechanisms = "SCRAM-SHA-1-PLUS";
    rc = start(&o, "SASL-IR AUTH=SCRAM-SHA-1-PLUS", &link, &a, &cmd);
    qr_cmd_free(cmd);
    qr_auth_free(a);
    return rc;
}

/* A whole SCRAM-SHA-256 exchange; the server's allocations are not hooked. */
static int alloc_case_scram_exchange(void)
{
    fake_server fs = {"s3cret", NULL, NULL};
    Gsasl *srv;
    Gsasl_session *ss;
    qr_auth_options o;
    qr_auth *a = NULL;
    qr_cmd *cmd = NULL;
    char *ir = NULL, *sout = NULL;
    const char *line;
    size_t len;
    int secret, rc, round;

    base_opts(&o);
    o.mechanisms = "SCRAM-SHA-256";
    gsasl_init(&srv);
    gsasl_callback_hook_set(srv, &fs);
    gsasl_callback_set(srv, server_cb);
    gsasl_server_start(srv, "SCRAM-SHA-256", &ss);
    rc = start(&o, "SASL-IR AUTH=SCRAM-SHA-256", &secure_link, &a, &cmd);
    if (rc == 0) {
        ir = initial_response(cmd);
        gsasl_step64(ss, ir, &sout);
    }
    for (round = 0; rc == 0 && round < 2; round++) {
        rc = qr_auth_step(a, sout, strlen(sout), &line, &len, &secret);
        gsasl_free(sout);
        sout = NULL;
        if (rc == 0 && round == 0 && gsasl_step64(ss, line, &sout) != GSASL_OK)
            rc = QR_ERROR;
    }
    if (rc == 0)
        rc = qr_auth_finish(a, 0, "ok");
    else if (a != NULL && a->state != QR_AUTH_NEW)
        CHECK_INT_EQ(qr_auth_finish(a, QR_EBAD, "x"), rc);
    free(ir);
    gsasl_free(sout);
    qr_cmd_free(cmd);
    qr_auth_free(a);
    gsasl_finish(ss);
    gsasl_done(srv);
    return rc;
}

static void test_allocation_failures(void)
{
    static const alloc_case_fn cases[] = {alloc_case_login, alloc_case_plain, alloc_case_oauth,
                                          alloc_case_scram, alloc_case_scram_exchange};
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long n, points;

        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(cases[i](), 0);
        points = qr_alloc_count();
        CHECK(points >= 3);
        for (n = 1; n <= points; n++) {
            int rc;
            qr_alloc_fail_at(n, 0);
            rc = cases[i]();
            if (qr_alloc_failed() && rc != QR_ENOMEM) {
                printf("# case %zu, allocation %lu\n", i, n);
                CHECK_INT_EQ(rc, QR_ENOMEM);
            }
            qr_alloc_fail_at(0, 0);
        }
    }
}

int main(void)
{
    TAP_RUN(test_b64_encode_rfc4648_vectors);
    TAP_RUN(test_b64_decode_is_strict);
    TAP_RUN(test_choice_table);
    TAP_RUN(test_missing_credentials);
    TAP_RUN(test_options_are_checked);
    TAP_RUN(test_login_command_quotes_and_redacts);
    TAP_RUN(test_authenticate_plain);
    TAP_RUN(test_authenticate_oauth_bytes);
    TAP_RUN(test_oauth_error_challenge);
    TAP_RUN(test_malformed_challenge_cancels);
    TAP_RUN(test_empty_initial_response_is_equals_sign);
    TAP_RUN(test_scram_against_gsasl_server);
    TAP_RUN(test_scram_failures);
    TAP_RUN(test_scram_plus_channel_binding);
    TAP_RUN(test_allowed_weak_mechanism_runs_against_gsasl_server);
    TAP_RUN(test_scram_garbage_is_a_protocol_error);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
