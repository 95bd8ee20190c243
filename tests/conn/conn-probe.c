/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn-probe: connect with qr_conn as the command line says, report what
 * happened, for the scripted fake servers of test-conn-security.py.
 *
 *   conn-probe [--type imap|imaps|tunnel] [--host H] [--port P]
 *              [--user U] [--password P] [--auth MECHS] [--starttls 0|1]
 *              [--compress 0|1] [--cafile F] [--fingerprint PINS]
 *              [--verify 0|1] [--hostname SNI] [--allow-plaintext]
 *              [--io-timeout MS] [--connect-timeout MS] [--enable EXT]
 *              [--early-noop] [--noops N]
 *
 * Output (stdout), one line each: `log LEVEL TEXT` for every log line
 * (level TRACE is never asked for, so secrets are redacted), then
 * `connect CODE`, `noops CODE` when connected, `elapsed MS` and finally
 * `result CODE MESSAGE` (CODE 0 or a QR_E* value; MESSAGE is
 * qr_conn_last_error()'s). Exit status 0 unless the arguments are bad.
 */
#include "config.h"

#include <qresync/conn.h>
#include <qresync/loop.h>
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

static size_t done;

static int on_done(qr_session *s, const qr_session_result *r, void *payload)
{
    (void)s;
    (void)payload;
    (void)r;
    done++;
    return 0;
}

/* Apply one --key value; 1 when it took the value, 0 for a flag, -1 bad. */
static int apply(qr_conn_options *o, const char *k, const char *v, int *early, int *noops)
{
    if (!strcmp(k, "--allow-plaintext"))
        return o->allow_plaintext_auth = 1, 0;
    if (!strcmp(k, "--early-noop"))
        return *early = 1, 0;
    if (v == NULL)
        return -1;
    if (!strcmp(k, "--type"))
        o->type = !strcmp(v, "imap")     ? QR_CONN_IMAP
                  : !strcmp(v, "tunnel") ? QR_CONN_TUNNEL
                                         : QR_CONN_IMAPS;
    else if (!strcmp(k, "--host"))
        o->host = v;
    else if (!strcmp(k, "--port"))
        o->port = v;
    else if (!strcmp(k, "--user"))
        o->username = v;
    else if (!strcmp(k, "--password"))
        o->password = v;
    else if (!strcmp(k, "--auth"))
        o->auth = v;
    else if (!strcmp(k, "--starttls"))
        o->starttls = atoi(v);
    else if (!strcmp(k, "--compress"))
        o->compress = atoi(v);
    else if (!strcmp(k, "--cafile"))
        o->ssl_cafile = v;
    else if (!strcmp(k, "--fingerprint"))
        o->ssl_fingerprint = v;
    else if (!strcmp(k, "--verify"))
        o->ssl_verify = atoi(v);
    else if (!strcmp(k, "--hostname"))
        o->ssl_hostname = v;
    else if (!strcmp(k, "--io-timeout"))
        o->io_timeout_ms = atoi(v);
    else if (!strcmp(k, "--connect-timeout"))
        o->connect_timeout_ms = atoi(v);
    else if (!strcmp(k, "--enable"))
        o->enable = v;
    else if (!strcmp(k, "--noops"))
        *noops = atoi(v);
    else
        return -1;
    return 1;
}

int main(int argc, char **argv)
{
    qr_conn_options o;
    qr_conn *c = NULL;
    int early = 0, noops = 1, i, rc;
    int64_t start = qr_now_ms();

    qr_conn_options_init(&o, QR_CONN_OPTIONS_VERSION);
    o.compress = 0;
    o.log_fn = log_fn;
    o.log_level = QR_LOG_DEBUG;
    for (i = 1; i < argc; i++) {
        int took = apply(&o, argv[i], i + 1 < argc ? argv[i + 1] : NULL, &early, &noops);

        if (took < 0) {
            fprintf(stderr, "conn-probe: bad argument %s\n", argv[i]);
            return 2;
        }
        i += took;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = qr_conn_new(&c, &o);
    if (rc == 0 && early)
        qr_session_noop(qr_conn_session(c), on_done, NULL);
    if (rc == 0)
        rc = qr_conn_connect_wait(c, 15000);
    printf("connect %d\n", rc);
    if (rc == 0) {
        qr_loop *loop = NULL;

        for (i = 0; i < noops; i++)
            qr_session_noop(qr_conn_session(c), on_done, NULL);
        qr_loop_new(&loop);
        qr_loop_add(loop, c);
        rc = qr_loop_run_count(loop, &done, (size_t)noops + (size_t)early, 15000);
        qr_loop_free(loop);
        printf("noops %d\n", rc);
        if (rc == 0)
            rc = qr_conn_close_wait(c, 5000);
    }
    printf("elapsed %lld\n", (long long)(qr_now_ms() - start));
    printf("result %d %s\n", rc, c != NULL ? qr_conn_last_error(c)->message : "");
    qr_conn_free(c);
    return 0;
}
