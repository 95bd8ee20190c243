/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `proxy` option parser (transport/socks5_uri.c) as a table: each
 * valid form with every field it yields, each invalid form with its exact
 * error; then the credential length limit (255 bytes), the port helper,
 * qr_proxy_uri_free() and allocation failures.
 */
#include "config.h"

#include <qresync/error.h>

#include "../tap.h"
#include "transport/socks5_p.h"
#include "util/alloc.h"

/* One valid value and what it parses to. */
typedef struct good_case {
    const char *value;    /* the option */
    int socks5h;          /* expected protocol */
    const char *host;     /* expected host */
    const char *port;     /* expected port text */
    unsigned port_num;    /* expected port number */
    const char *user;     /* expected user, NULL: none */
    const char *password; /* expected password, NULL: none */
} good_case;

static const good_case good[] = {
    {"socks5://proxy", 0, "proxy", "1080", 1080, NULL, NULL},
    {"socks5h://proxy", 1, "proxy", "1080", 1080, NULL, NULL},
    {"socks5://127.0.0.1:9050", 0, "127.0.0.1", "9050", 9050, NULL, NULL},
    {"socks5h://u:p@[::1]:1081", 1, "[::1]", "1081", 1081, "u", "p"},
    {"socks5://[::1]", 0, "[::1]", "1080", 1080, NULL, NULL},
    {"socks5://[fe80::1]:22", 0, "[fe80::1]", "22", 22, NULL, NULL},
    {"socks5://joe:s3cr@t:x@host:1", 0, "host", "1", 1, "joe", "s3cr@t:x"},
    {"socks5://a@b@c", 0, "c", "1080", 1080, "a@b", ""},
    {"socks5://user@host", 0, "host", "1080", 1080, "user", ""},
    {"socks5://:pw@host", 0, "host", "1080", 1080, "", "pw"},
    {"socks5://user:@host", 0, "host", "1080", 1080, "user", ""},
    {"socks5://us%40er:p%3A@host", 0, "host", "1080", 1080, "us%40er", "p%3A"},
    {"socks5://u: spaced pw!@host", 0, "host", "1080", 1080, "u", " spaced pw!"},
    {"socks5://proxy:imap", 0, "proxy", "imap", 143, NULL, NULL},
    {"socks5://proxy:socks", 0, "proxy", "socks", 1080, NULL, NULL},
    {"socks5://proxy:65535", 0, "proxy", "65535", 65535, NULL, NULL},
    {"socks5://proxy:00080", 0, "proxy", "00080", 80, NULL, NULL},
    {"socks5://host/path", 0, "host/path", "1080", 1080, NULL, NULL},
    {"socks5://[a]b", 0, "[a]b", "1080", 1080, NULL, NULL},
    {"socks5://[not-an-ip]:5", 0, "[not-an-ip]", "5", 5, NULL, NULL},
    {"socks5://[]:1", 0, "[]", "1", 1, NULL, NULL}, /* as the reference's [^:]+ reads it */
};

/* One invalid value and its error. */
typedef struct bad_case {
    const char *value;   /* the option */
    const char *message; /* the exact error text */
} bad_case;

static const bad_case bad[] = {
    {"", "Invalid proxy URI "},
    {"proxy:1080", "Invalid proxy URI proxy:1080"},
    {"socks5:/proxy", "Invalid proxy URI socks5:/proxy"},
    {"socks5://", "Invalid proxy URI socks5://"},
    {"://proxy", "Invalid proxy URI ://proxy"},
    {"sock-s5://proxy", "Invalid proxy URI sock-s5://proxy"},
    {"socks5://proxy:", "Invalid proxy URI socks5://proxy:"},
    {"socks5://proxy:10:80", "Invalid proxy URI socks5://proxy:10:80"},
    {"socks5://proxy:80/", "Invalid proxy URI socks5://proxy:80/"},
    {"socks5://proxy:http-alt", "Invalid proxy URI socks5://proxy:http-alt"},
    {"socks5://::1", "Invalid proxy URI socks5://::1"},
    {"socks5://[::1", "Invalid proxy URI socks5://[::1"},
    {"socks5://[::1]x", "Invalid proxy URI socks5://[::1]x"},
    {"socks5://user@", "Invalid proxy URI socks5://user@"},
    {"socks5://@host", "Invalid proxy URI socks5://@host"},
    {"socks5://u:p@:1080", "Invalid proxy URI socks5://u:p@:1080"},
    {"socks5://u\tp@host", "Invalid proxy URI socks5://u\tp@host"},
    {"socks5://u:p\x7f@host", "Invalid proxy URI socks5://u:p\x7f@host"},
    {"http://proxy:3128", "Unsupported proxy protocol http"},
    {"socks4://proxy", "Unsupported proxy protocol socks4"},
    {"SOCKS5://proxy", "Unsupported proxy protocol SOCKS5"},
    {"socks5x://u:p@proxy", "Unsupported proxy protocol socks5x"},
    {"socks5://proxy:0", "Invalid port number 0"},
    {"socks5://proxy:65536", "Invalid port number 65536"},
    {"socks5://proxy:99999999999999999999", "Invalid port number 99999999999999999999"},
    {"socks5://proxy:nosuchservice", "Can't getservbyname nosuchservice"},
};

static void test_valid_forms(void)
{
    qr_errslot err;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const good_case *c = &good[i];
        qr_proxy_uri u;
        int rc;

        qr_errslot_clear(&err);
        rc = qr_proxy_uri_parse(&u, c->value, &err);
        if (rc != 0)
            printf("# %s: %s\n", c->value, qr_errslot_get(&err)->message);
        CHECK_INT_EQ(rc, 0);
        CHECK_INT_EQ(u.socks5h, c->socks5h);
        CHECK_STR_EQ(u.host, c->host);
        CHECK_STR_EQ(u.port, c->port);
        CHECK_UINT_EQ(u.port_num, c->port_num);
        CHECK_STR_EQ(u.user, c->user);
        CHECK_STR_EQ(u.password, c->password);
        qr_proxy_uri_free(&u);
        CHECK(u.host == NULL && u.user == NULL && u.password == NULL && u.port == NULL);
    }
}

static void test_invalid_forms(void)
{
    qr_errslot err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qr_proxy_uri u;

        qr_errslot_clear(&err);
        CHECK_INT_EQ(qr_proxy_uri_parse(&u, bad[i].value, &err), QR_EINVAL);
        CHECK_INT_EQ(qr_errslot_get(&err)->code, QR_EINVAL);
        CHECK_STR_EQ(qr_errslot_get(&err)->message, bad[i].message);
        CHECK(u.host == NULL && u.port == NULL && u.user == NULL && u.password == NULL);
        qr_proxy_uri_free(&u);
    }
}

/* "socks5://" + user(ulen x 'u') + ":" + password(plen x 'p') + "@h". */
static int parse_lengths(size_t ulen, size_t plen, qr_proxy_uri *u, qr_errslot *err)
{
    char value[600];
    size_t n = 0;

    memcpy(value, "socks5://", 9);
    n = 9;
    memset(value + n, 'u', ulen);
    n += ulen;
    value[n++] = ':';
    memset(value + n, 'p', plen);
    n += plen;
    memcpy(value + n, "@h", 3);
    qr_errslot_clear(err);
    return qr_proxy_uri_parse(u, value, err);
}

static void test_credential_lengths(void)
{
    qr_proxy_uri u;
    qr_errslot err;

    CHECK_INT_EQ(parse_lengths(255, 255, &u, &err), 0);
    CHECK_UINT_EQ(strlen(u.user), 255);
    CHECK_UINT_EQ(strlen(u.password), 255);
    qr_proxy_uri_free(&u);
    CHECK_INT_EQ(parse_lengths(256, 1, &u, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Proxy user name longer than 255 bytes");
    CHECK(u.user == NULL && u.host == NULL);
    CHECK_INT_EQ(parse_lengths(1, 256, &u, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Proxy password longer than 255 bytes");
    CHECK(u.user == NULL && u.password == NULL);
    /* A ':' in the password is part of it: 200 + 1 + 55 = 256 bytes. */
    {
        char value[600];

        memcpy(value, "socks5://u:", 11);
        memset(value + 11, 'p', 200);
        value[211] = ':';
        memset(value + 212, 'q', 55);
        memcpy(value + 267, "@h", 3);
        qr_errslot_clear(&err);
        CHECK_INT_EQ(qr_proxy_uri_parse(&u, value, &err), QR_EINVAL);
        CHECK_STR_EQ(qr_errslot_get(&err)->message, "Proxy password longer than 255 bytes");
    }
}

static void test_port_number(void)
{
    qr_errslot err;
    uint16_t port = 7;

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tcp_port_number("993", &port, &err), 0);
    CHECK_UINT_EQ(port, 993);
    CHECK_INT_EQ(qr_tcp_port_number("imaps", &port, &err), 0);
    CHECK_UINT_EQ(port, 993);
    CHECK_INT_EQ(qr_tcp_port_number("1", &port, &err), 0);
    CHECK_UINT_EQ(port, 1);
    CHECK_INT_EQ(qr_tcp_port_number("0", &port, &err), QR_EINVAL);
    CHECK_UINT_EQ(port, 0);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Invalid port number 0");
    CHECK_INT_EQ(qr_tcp_port_number("-1", &port, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Can't getservbyname -1");
    CHECK_INT_EQ(qr_tcp_port_number("12ab", &port, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Can't getservbyname 12ab");
    CHECK_INT_EQ(qr_tcp_port_number("", &port, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Can't getservbyname ");
}

static void test_free_null_and_twice(void)
{
    qr_proxy_uri u;
    qr_errslot err;

    qr_proxy_uri_free(NULL);
    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_proxy_uri_parse(&u, "socks5://a:b@c", &err), 0);
    qr_proxy_uri_free(&u);
    qr_proxy_uri_free(&u);
    CHECK(u.host == NULL);
    CHECK_INT_EQ(qr_proxy_uri_parse(&u, NULL, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Invalid proxy URI ");
}

static void test_allocation_failures(void)
{
    const char *value = "socks5h://user:pass@proxy:1081";
    unsigned long n, count;
    qr_proxy_uri u;
    qr_errslot err;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(qr_proxy_uri_parse(&u, value, &err), 0);
    count = qr_alloc_count();
    qr_proxy_uri_free(&u);
    CHECK(count >= 4);
    for (n = 1; n <= count; n++) {
        qr_alloc_fail_at(n, 0);
        qr_errslot_clear(&err);
        CHECK_INT_EQ(qr_proxy_uri_parse(&u, value, &err), QR_ENOMEM);
        CHECK_STR_EQ(qr_errslot_get(&err)->message, "parse the proxy URI");
        CHECK(u.host == NULL && u.user == NULL && u.password == NULL && u.port == NULL);
    }
    qr_alloc_fail_at(0, 0);
}

int main(void)
{
    TAP_RUN(test_valid_forms);
    TAP_RUN(test_invalid_forms);
    TAP_RUN(test_credential_lengths);
    TAP_RUN(test_port_number);
    TAP_RUN(test_free_null_and_twice);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
