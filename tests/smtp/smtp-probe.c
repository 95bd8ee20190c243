/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smtp-probe: drive qr_smtp as the command line says and report what
 * happened, for the scripted peers of test-smtp-peer.py.
 *
 *   smtp-probe [--host H] [--port P] [--lmtp] [--helo NAME]
 *              [--starttls never|offered|required] [--cafile F]
 *              [--verify 0|1] [--hostname SNI] [--fingerprint PINS]
 *              [--auth MECHS] [--user U] [--password P]
 *              [--allow-plaintext] [--pipelining 0|1] [--trace]
 *              [--io-timeout MS] [--connect-timeout MS] [--chunk N]
 *              [--send SENDER RCPT FILE SIZE EIGHTBIT UTF8]... [--fail-read N]
 *              [--no-quit]
 *
 * Connects, sends each message (the body read from FILE, at most N bytes
 * per read call with --chunk; with --fail-read the source fails after N
 * bytes), then QUIT. Output (stdout), one line each: `log LEVEL TEXT` for
 * every log line, `connect RC`, `ext NAME 0|1` for a few keywords, for
 * each message `send RC`, then after every call `reply CODE TEXT` and
 * `error CODE MESSAGE` (TEXT with "\n" shown as "|"), `quit RC` and
 * `elapsed MS`. Exit status 0 unless the arguments are bad.
 */
#include "config.h"

#include <qresync/smtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_p.h"

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    (void)cat;
    (void)payload;
    printf("log %d %.*s\n", (int)level, (int)len, text);
}

/* The body source: a file, read at most `chunk` bytes at a time. */
typedef struct source {
    FILE *f;
    size_t chunk; /* most bytes per call; 0: as many as asked */
    long fail_at; /* fail once this many bytes were given; < 0: never */
    size_t given; /* bytes given so far */
} source;

static int read_body(void *buf, size_t cap, size_t *got, void *payload)
{
    source *src = payload;

    if (src->chunk > 0 && cap > src->chunk)
        cap = src->chunk;
    if (src->fail_at >= 0 && src->given >= (size_t)src->fail_at)
        return QR_EUSER;
    if (src->fail_at >= 0 && cap > (size_t)src->fail_at - src->given)
        cap = (size_t)src->fail_at - src->given;
    *got = fread(buf, 1, cap, src->f);
    src->given += *got;
    return ferror(src->f) ? QR_EIO : 0;
}

static void report(const qr_smtp *s)
{
    const qr_smtp_reply *r = qr_smtp_last_reply(s);
    const qr_error *e = qr_smtp_last_error(s);
    const char *t;

    printf("reply %d ", r->code);
    for (t = r->text; *t != '\0'; t++)
        putchar(*t == '\n' ? '|' : *t);
    printf("\nerror %d %s\n", e->code, e->message);
}

/* Apply one option; how many values it took, or -1. */
static int apply(qr_smtp_options *o, char **argv, int i, int argc, int *noquit, size_t *chunk,
                 long *fail_at)
{
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

    if (!strcmp(k, "--lmtp"))
        return o->proto = QR_SMTP_PROTO_LMTP, 0;
    if (!strcmp(k, "--allow-plaintext"))
        return o->allow_plaintext_auth = 1, 0;
    if (!strcmp(k, "--trace"))
        return o->log_level = QR_LOG_TRACE, 0;
    if (!strcmp(k, "--no-quit"))
        return *noquit = 1, 0;
    if (v == NULL)
        return -1;
    if (!strcmp(k, "--host"))
        o->host = v;
    else if (!strcmp(k, "--port"))
        o->port = v;
    else if (!strcmp(k, "--helo"))
        o->helo = v;
    else if (!strcmp(k, "--starttls"))
        o->starttls = !strcmp(v, "never")      ? QR_SMTP_STARTTLS_NEVER
                      : !strcmp(v, "required") ? QR_SMTP_STARTTLS_REQUIRED
                                               : QR_SMTP_STARTTLS_OFFERED;
    else if (!strcmp(k, "--cafile"))
        o->ssl_cafile = v;
    else if (!strcmp(k, "--verify"))
        o->ssl_verify = atoi(v);
    else if (!strcmp(k, "--hostname"))
        o->ssl_hostname = v;
    else if (!strcmp(k, "--fingerprint"))
        o->ssl_fingerprint = v;
    else if (!strcmp(k, "--auth"))
        o->auth = v;
    else if (!strcmp(k, "--user"))
        o->username = v;
    else if (!strcmp(k, "--password"))
        o->password = v;
    else if (!strcmp(k, "--pipelining"))
        o->pipelining = atoi(v);
    else if (!strcmp(k, "--io-timeout"))
        o->io_timeout_ms = atoi(v);
    else if (!strcmp(k, "--connect-timeout"))
        o->connect_timeout_ms = atoi(v);
    else if (!strcmp(k, "--chunk"))
        *chunk = (size_t)atol(v);
    else if (!strcmp(k, "--fail-read"))
        *fail_at = atol(v);
    else
        return -1;
    return 1;
}

/* --send SENDER RCPT FILE SIZE EIGHTBIT UTF8 */
static int send_one(qr_smtp *s, char **a, size_t chunk, long fail_at)
{
    source src = {NULL, chunk, fail_at, 0};
    int rc;

    src.f = fopen(a[2], "rb");
    if (src.f == NULL) {
        fprintf(stderr, "smtp-probe: cannot open %s\n", a[2]);
        return 2;
    }
    rc = qr_smtp_send(s, a[0], a[1], strtoull(a[3], NULL, 10), atoi(a[4]), atoi(a[5]), read_body,
                      &src);
    fclose(src.f);
    printf("send %d\n", rc);
    report(s);
    return rc;
}

int main(int argc, char **argv)
{
    static const char *const exts[] = {"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE", "STARTTLS"};
    qr_smtp_options o;
    qr_smtp *s = NULL;
    int noquit = 0, i, rc, first_send = 0;
    size_t chunk = 0, k;
    long fail_at = -1;
    int64_t start = qr_now_ms();

    setvbuf(stdout, NULL, _IOLBF, 0);
    qr_smtp_options_init(&o, QR_SMTP_OPTIONS_VERSION);
    o.log_fn = log_fn;
    o.log_level = QR_LOG_DEBUG;
    for (i = 1; i < argc; i++) {
        int took;

        if (!strcmp(argv[i], "--send")) {
            if (first_send == 0)
                first_send = i;
            if (i + 6 >= argc)
                return 2;
            i += 6;
            continue;
        }
        took = apply(&o, argv, i, argc, &noquit, &chunk, &fail_at);
        if (took < 0) {
            fprintf(stderr, "smtp-probe: bad argument %s\n", argv[i]);
            return 2;
        }
        i += took;
    }
    rc = qr_smtp_new(&s, &o);
    printf("new %d\n", rc);
    if (rc != 0)
        return 0;
    rc = qr_smtp_connect(s);
    printf("connect %d\n", rc);
    report(s);
    for (k = 0; rc == 0 && k < sizeof(exts) / sizeof(exts[0]); k++)
        printf("ext %s %d\n", exts[k], qr_smtp_has_ext(s, exts[k]));
    for (i = first_send; rc == 0 && first_send > 0 && i < argc; i++)
        if (!strcmp(argv[i], "--send")) {
            int r = send_one(s, argv + i + 1, chunk, fail_at);

            if (r == 2)
                return 2;
            i += 6;
        }
    if (!noquit) {
        rc = qr_smtp_quit(s);
        printf("quit %d\n", rc);
        report(s);
    }
    printf("elapsed %lld\n", (long long)(qr_now_ms() - start));
    qr_smtp_free(s);
    return 0;
}
