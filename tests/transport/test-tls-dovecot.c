/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS layer against the rig's real Dovecot (suite dovecot): run as
 * `rig.py run --daemon --skip-exit 0 -- test-transport-tls-dovecot`, which
 * exports QR_RIG_HOST, QR_RIG_IMAPS_PORT, QR_RIG_IMAP_PORT, QR_RIG_CAFILE
 * and QR_RIG_SPKI_SHA256 (the daemon's pin, computed by the rig on its
 * own). Checks: IMAPS handshake verified against the rig's CA by IP
 * literal and by name, reading the "* OK" greeting; the rig's pin accepted
 * (verify on and off), a wrong one refused; STARTTLS on the plain port.
 */
#include "config.h"

#include <stdlib.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "transport/tls_p.h"

static qr_errslot err;
static qr_stack stack;

/* Socket to host:port (+ TLS unless o is NULL): 0 or the failing code. */
static int open_stack(const char *port, const qr_tls_options *o)
{
    qr_socket_options so = {getenv("QR_RIG_HOST"), port, 0, 5000};
    qr_layer *l = NULL;
    int rc;

    qr_errslot_clear(&err);
    qr_stack_init(&stack, &err);
    if ((rc = qr_socket_layer_create(&l, &stack, &so)) != 0)
        return rc;
    qr_stack_push(&stack, l);
    if (o) {
        if ((rc = qr_tls_layer_create(&l, &stack, o, NULL, NULL)) != 0)
            return rc;
        qr_stack_push(&stack, l);
    }
    return tt_step(&stack);
}

/* Read one line (up to cap-1 bytes) into buf. */
static size_t read_line(char *buf, size_t cap)
{
    size_t got = 0;
    int last = 0;

    while (got + 1 < cap && tt_read_some(&stack, buf + got, 1, 1, &last) == 1)
        if (buf[got++] == '\n')
            break;
    buf[got] = '\0';
    return got;
}

static void opts(qr_tls_options *o, const char *host)
{
    qr_tls_options_init(o);
    o->host = host;
    o->cafile = getenv("QR_RIG_CAFILE");
    o->handshake_timeout_ms = 10000;
}

static void greeting_over_imaps(const qr_tls_options *o)
{
    char line[512];

    CHECK_INT_EQ(open_stack(getenv("QR_RIG_IMAPS_PORT"), o), 0);
    if (err.pub.code)
        printf("# %s\n", err.pub.message);
    read_line(line, sizeof(line));
    CHECK(strncmp(line, "* OK ", 5) == 0);
    CHECK_INT_EQ(qr_tls_layer_version(stack.top), QR_TLS_V1_3);
    qr_stack_destroy(&stack);
}

static void test_imaps_verified(void)
{
    qr_tls_options o;

    opts(&o, getenv("QR_RIG_HOST"));
    greeting_over_imaps(&o);
    opts(&o, "localhost");
    greeting_over_imaps(&o);
}

static void test_imaps_pinned(void)
{
    char pin[128];
    qr_tls_options o;

    snprintf(pin, sizeof(pin), "sha256$%s", getenv("QR_RIG_SPKI_SHA256"));
    opts(&o, "localhost");
    o.fingerprints = pin;
    greeting_over_imaps(&o);
    opts(&o, "localhost");
    o.verify = 0;
    o.fingerprints = pin;
    greeting_over_imaps(&o);
    pin[7] = pin[7] == '0' ? '1' : '0';
    CHECK_INT_EQ(open_stack(getenv("QR_RIG_IMAPS_PORT"), &o), QR_ETLS);
    CHECK_STR_EQ(err.pub.message, "Can't initiate TLS/SSL handshake with localhost: Fingerprint "
                                  "doesn't match! MiTM in action?");
    qr_stack_destroy(&stack);
}

static void test_starttls(void)
{
    qr_tls_options o;
    qr_layer *l = NULL;
    char line[1024];

    CHECK_INT_EQ(open_stack(getenv("QR_RIG_IMAP_PORT"), NULL), 0);
    read_line(line, sizeof(line));
    CHECK(strncmp(line, "* OK ", 5) == 0);
    CHECK_INT_EQ(tt_write_all(&stack, "a STARTTLS\r\n", 12), 0);
    read_line(line, sizeof(line));
    CHECK(strncmp(line, "a OK ", 5) == 0);
    opts(&o, "localhost");
    CHECK_INT_EQ(qr_tls_layer_create(&l, &stack, &o, NULL, NULL), 0);
    if (l)
        qr_stack_push(&stack, l);
    CHECK_INT_EQ(tt_step(&stack), 0);
    CHECK_INT_EQ(tt_write_all(&stack, "b CAPABILITY\r\n", 14), 0);
    read_line(line, sizeof(line));
    CHECK(strncmp(line, "* CAPABILITY IMAP4rev1", 22) == 0);
    read_line(line, sizeof(line));
    CHECK(strncmp(line, "b OK ", 5) == 0);
    CHECK_INT_EQ(qr_stack_close(&stack), 0);
    qr_stack_destroy(&stack);
}

int main(void)
{
    if (!getenv("QR_RIG_IMAPS_PORT") || !getenv("QR_RIG_CAFILE") || !getenv("QR_RIG_HOST")) {
        printf("1..0 # SKIP not run under tests/rig/rig.py run --daemon\n");
        return 0;
    }
    TAP_RUN(test_imaps_verified);
    TAP_RUN(test_imaps_pinned);
    TAP_RUN(test_starttls);
    return tap_done();
}
