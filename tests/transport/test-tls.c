/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS layer tests (transport/tls_*.c) against an in-process GnuTLS server.
 *
 * Certificates are made at run time with the GnuTLS x509 API (ECDSA P-256,
 * fast): a CA, a leaf for localhost + 127.0.0.1 signed by it, a
 * self-signed leaf, a leaf from an unknown CA, a wrong-host leaf, an
 * expired leaf and a CN-only leaf. The CA goes to a temporary PEM file for
 * SSL_CAfile.
 *
 * Each connection is a socketpair: the client end under a
 * qr_socket_layer_create_fd() bottom layer plus the TLS layer, the server
 * end driven by a thread with blocking GnuTLS calls (echo, silent, hang up
 * after the ClientHello, STARTTLS-style plaintext first, send a blob).
 * The server records the SNI it received and how the client closed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <qresync/error.h>

#include "../tap.h"
#include "helpers.h"
#include "transport/tls_p.h"
#include "util/alloc.h"

/* ---- certificates ------------------------------------------------------- */

typedef struct cert {
    gnutls_x509_crt_t crt;                 /* the certificate */
    gnutls_x509_privkey_t key;             /* its private key */
    gnutls_certificate_credentials_t cred; /* server credentials with crt+key (leaves only) */
} cert;

static cert ca, ca2, leaf, selfsigned, unknown_ca_leaf, wronghost, expired, cnonly;
static char cafile[64]; /* temp file with the CA in PEM */

static void make_key(gnutls_x509_privkey_t *k)
{
    gnutls_x509_privkey_init(k);
    gnutls_x509_privkey_generate(*k, GNUTLS_PK_ECDSA,
                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
}

static void set_names(gnutls_x509_crt_t crt, const char *cn, const char *dns, const char *ip)
{
    unsigned char addr[4];

    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "libqresync tests",
                                  16);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
    if (dns)
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns, (unsigned)strlen(dns),
                                             GNUTLS_FSAN_APPEND);
    if (ip && inet_pton(AF_INET, ip, addr) == 1)
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4,
                                             GNUTLS_FSAN_APPEND);
}

/* A certificate valid from..to (relative seconds), signed by issuer (NULL: itself). */
static void make_cert(cert *c, const char *cn, const char *dns, const char *ip, int is_ca,
                      const cert *issuer, long from, long to)
{
    static unsigned char serial = 1;
    unsigned char id[64];
    size_t idlen = sizeof(id);
    time_t now = time(NULL);

    make_key(&c->key);
    gnutls_x509_crt_init(&c->crt);
    gnutls_x509_crt_set_version(c->crt, 3);
    serial++;
    gnutls_x509_crt_set_serial(c->crt, &serial, 1);
    gnutls_x509_crt_set_activation_time(c->crt, now + from);
    gnutls_x509_crt_set_expiration_time(c->crt, now + to);
    set_names(c->crt, cn, dns, ip);
    gnutls_x509_crt_set_key(c->crt, c->key);
    gnutls_x509_crt_set_basic_constraints(c->crt, is_ca, -1);
    gnutls_x509_crt_set_key_usage(c->crt, is_ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                                : GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (!is_ca)
        gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (gnutls_x509_crt_get_key_id(c->crt, 0, id, &idlen) >= 0)
        gnutls_x509_crt_set_subject_key_id(c->crt, id, idlen);
    idlen = sizeof(id);
    if (issuer && gnutls_x509_crt_get_key_id(issuer->crt, 0, id, &idlen) >= 0)
        gnutls_x509_crt_set_authority_key_id(c->crt, id, idlen);
    gnutls_x509_crt_sign2(c->crt, issuer ? issuer->crt : c->crt, issuer ? issuer->key : c->key,
                          GNUTLS_DIG_SHA256, 0);
    if (!is_ca) {
        gnutls_certificate_allocate_credentials(&c->cred);
        gnutls_certificate_set_x509_key(c->cred, &c->crt, 1, c->key);
    }
}

static void write_cafile(void)
{
    unsigned char pem[8192];
    size_t len = sizeof(pem);
    int fd;

    strcpy(cafile, "/tmp/qr-test-tls-ca-XXXXXX");
    fd = mkstemp(cafile);
    gnutls_x509_crt_export(ca.crt, GNUTLS_X509_FMT_PEM, pem, &len);
    if (fd < 0 || write(fd, pem, len) != (ssize_t)len)
        printf("# cannot write %s\n", cafile);
    if (fd >= 0)
        close(fd);
}

static void make_certs(void)
{
    make_cert(&ca, "Test CA", NULL, NULL, 1, NULL, -3600, 86400);
    make_cert(&ca2, "Unknown CA", NULL, NULL, 1, NULL, -3600, 86400);
    make_cert(&leaf, "localhost", "localhost", "127.0.0.1", 0, &ca, -3600, 86400);
    make_cert(&selfsigned, "localhost", "localhost", "127.0.0.1", 0, NULL, -3600, 86400);
    make_cert(&unknown_ca_leaf, "localhost", "localhost", NULL, 0, &ca2, -3600, 86400);
    make_cert(&wronghost, "other.example", "other.example", NULL, 0, &ca, -3600, 86400);
    make_cert(&expired, "localhost", "localhost", NULL, 0, &ca, -172800, -86400);
    make_cert(&cnonly, "localhost", NULL, NULL, 0, &ca, -3600, 86400);
    write_cafile();
}

/* "ALGO$hex" of the SPKI of c, computed with GnuTLS's key id (independent path). */
static void spki_pin(const cert *c, unsigned flags, const char *algo, int upper, char *out,
                     size_t cap)
{
    unsigned char id[64];
    size_t len = sizeof(id), i, used;

    gnutls_x509_crt_get_key_id(c->crt, flags, id, &len);
    used = (size_t)snprintf(out, cap, "%s%s", algo, algo[0] ? "$" : "");
    for (i = 0; i < len && used + 3 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, upper ? "%02X" : "%02x", id[i]);
}

/* ---- the server thread ---------------------------------------------------- */

enum srv_mode { SRV_ECHO, SRV_SILENT, SRV_HANGUP, SRV_STARTTLS, SRV_BLOB };

typedef struct srv {
    int fd;               /* server end of the socketpair; owned by the thread */
    const cert *cert;     /* what the server presents */
    const char *priority; /* server priority, NULL: defaults */
    enum srv_mode mode;   /* behaviour */
    pthread_t th;         /* the thread */
    char sni[256];        /* out: SNI received ("" when none) */
    int hs_rc;            /* out: the server's handshake result */
    int clean_close;      /* out: the client sent close_notify (recv returned 0) */
    char plain[64];       /* out: the plaintext line received in SRV_STARTTLS */
} srv;

static void srv_echo(srv *v, gnutls_session_t s)
{
    char buf[16384];
    ssize_t n;

    if (v->mode == SRV_BLOB) {
        memset(buf, 'x', 1000);
        gnutls_record_send(s, buf, 1000);
        gnutls_bye(s, GNUTLS_SHUT_WR);
    }
    while ((n = gnutls_record_recv(s, buf, sizeof(buf))) > 0 || n == GNUTLS_E_AGAIN) {
        size_t off = 0;

        while (n > 0 && off < (size_t)n) {
            ssize_t w = gnutls_record_send(s, buf + off, (size_t)n - off);

            if (w <= 0)
                return;
            off += (size_t)w;
        }
    }
    v->clean_close = n == 0;
    if (n == 0 && v->mode != SRV_BLOB)
        gnutls_bye(s, GNUTLS_SHUT_WR);
}

/* STARTTLS-style prologue: read one plaintext line, answer "OK begin\r\n". */
static void srv_plain(srv *v)
{
    size_t got = 0;

    while (got + 1 < sizeof(v->plain) && read(v->fd, v->plain + got, 1) == 1)
        if (v->plain[got++] == '\n')
            break;
    v->plain[got] = '\0';
    if (write(v->fd, "OK begin\r\n", 10) != 10)
        v->hs_rc = -1;
}

static void *srv_main(void *arg)
{
    srv *v = arg;
    gnutls_session_t s;
    char buf[512];
    size_t len = sizeof(v->sni) - 1;
    unsigned type;

    if (v->mode == SRV_SILENT || v->mode == SRV_HANGUP) {
        while (read(v->fd, buf, sizeof(buf)) > 0 && v->mode == SRV_SILENT)
            ;
        close(v->fd);
        return NULL;
    }
    if (v->mode == SRV_STARTTLS)
        srv_plain(v);
    gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
    if (v->priority)
        gnutls_priority_set_direct(s, v->priority, NULL);
    else
        gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, v->cert->cred);
    gnutls_transport_set_int(s, v->fd);
    do
        v->hs_rc = gnutls_handshake(s);
    while (v->hs_rc < 0 && !gnutls_error_is_fatal(v->hs_rc));
    if (v->hs_rc < 0)
        gnutls_alert_send_appropriate(s, v->hs_rc); /* as OpenSSL servers do */
    if (gnutls_server_name_get(s, v->sni, &len, &type, 0) < 0)
        v->sni[0] = '\0';
    if (v->hs_rc == 0)
        srv_echo(v, s);
    gnutls_deinit(s);
    close(v->fd);
    return NULL;
}

/* ---- the client side -------------------------------------------------------- */

static char logbuf[16384]; /* every log line of the current test, '\n'-terminated */

static void log_fn(qr_log_level level, qr_log_category cat, const char *text, size_t len,
                   void *payload)
{
    size_t used = strlen(logbuf);

    (void)cat;
    (void)payload;
    if (used + len + 4 < sizeof(logbuf))
        snprintf(logbuf + used, sizeof(logbuf) - used, "%c %.*s\n",
                 level == QR_LOG_WARNING ? 'W' : 'D', (int)len, text);
}

static qr_logger logger;
static qr_tls_creds *conn_creds; /* credentials conn_open passes to the layer (NULL: its own) */

static int has_line(const char *line)
{
    const char *p = logbuf;
    size_t len = strlen(line);

    for (; (p = strstr(p, line)) != NULL; p++)
        if ((p == logbuf || p[-1] == '\n') && p[len] == '\n')
            return 1;
    printf("# log line not found: %s\n# log was:\n%s", line, logbuf);
    return 0;
}

typedef struct conn {
    qr_errslot err; /* the stack's error slot */
    qr_stack s;     /* socket + TLS */
    qr_layer *tls;  /* the TLS layer (owned by s), NULL if creation failed */
    srv srv;        /* the server thread's state */
    int started;    /* the thread runs (join in conn_end) */
} conn;

static void opts(qr_tls_options *o, const char *host)
{
    qr_tls_options_init(o);
    o->host = host;
    o->cafile = cafile;
    o->handshake_timeout_ms = 10000;
}

/* Start the server and build the client stack; the TLS layer's creation code. */
static int conn_open(conn *c, const qr_tls_options *o, const cert *crt, enum srv_mode mode,
                     const char *srv_priority)
{
    qr_layer *b = NULL;
    int sv[2], rc;

    memset(c, 0, sizeof(*c));
    logbuf[0] = '\0';
    qr_logger_init(&logger, log_fn, NULL, QR_LOG_DEBUG);
    qr_errslot_clear(&c->err);
    qr_stack_init(&c->s, &c->err);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return QR_EIO;
    c->srv.fd = sv[1];
    c->srv.cert = crt;
    c->srv.mode = mode;
    c->srv.priority = srv_priority;
    c->started = pthread_create(&c->srv.th, NULL, srv_main, &c->srv) == 0;
    if (qr_socket_layer_create_fd(&b, &c->s, sv[0], "pair"))
        return QR_EIO;
    qr_stack_push(&c->s, b);
    if (mode == SRV_STARTTLS)
        return 0;
    rc = qr_tls_layer_create(&c->tls, &c->s, o, conn_creds, &logger);
    if (rc == 0)
        qr_stack_push(&c->s, c->tls);
    return rc;
}

/* conn_open + handshake: 0 or the code step() ended with. */
static int conn_start(conn *c, const qr_tls_options *o, const cert *crt, enum srv_mode mode,
                      const char *srv_priority)
{
    int rc = conn_open(c, o, crt, mode, srv_priority);

    return rc ? rc : tt_step(&c->s);
}

static void conn_end(conn *c)
{
    qr_stack_destroy(&c->s);
    if (c->started)
        pthread_join(c->srv.th, NULL);
}

static const char *errmsg(conn *c)
{
    return qr_errslot_get(&c->err)->message;
}

/* ---- handshake and records ------------------------------------------------------- */

static void test_tls_echo(void)
{
    qr_tls_options o;
    conn c;
    char out[32];

    opts(&o, "localhost");
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK_INT_EQ(qr_tls_layer_version(c.tls), QR_TLS_V1_3);
    CHECK_STR_EQ(qr_tls_layer_sni(c.tls), "localhost");
    CHECK_INT_EQ(qr_stack_deadline(&c.s), -1);
    CHECK_INT_EQ(tt_echo(&c.s, "a1 NOOP\r\n", out, 9, sizeof(out)), 0);
    CHECK_MEM_EQ(out, 9, "a1 NOOP\r\n", 9);
    CHECK(has_line("D Using SNI with name localhost"));
    CHECK(has_line("D [0] preverify=1"));
    CHECK(has_line("D   Issuer Name: /O=libqresync tests/CN=Test CA"));
    CHECK(has_line("D   Subject Name: /O=libqresync tests/CN=localhost"));
    CHECK(has_line("D SSL protocol: TLSv1.3 (0x304)"));
    CHECK(has_line("D SSL cipher: TLS_AES_256_GCM_SHA384 (256 bits)"));
    CHECK(strstr(logbuf, "[1] preverify") == NULL); /* the server sends only its leaf */
    CHECK(strstr(logbuf, "default locations") == NULL);
    /* orderly close: close_notify reaches the server */
    CHECK_INT_EQ(qr_stack_close(&c.s), 0);
    conn_end(&c);
    CHECK_STR_EQ(c.srv.sni, "localhost");
    CHECK_INT_EQ(c.srv.clean_close, 1);
}

static void test_tls_echo_1mib_small_reads(void)
{
    size_t len = 1u << 20;
    unsigned char *data = malloc(len), *out = malloc(len);
    qr_tls_options o;
    conn c;

    tt_random(data, len, 4242);
    opts(&o, "localhost");
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK_INT_EQ(tt_echo(&c.s, data, out, len, 1000), 0);
    CHECK(memcmp(data, out, len) == 0);
    CHECK_UINT_EQ(c.s.traffic.plain_in, len);
    CHECK_UINT_EQ(c.s.traffic.plain_out, len);
    CHECK(c.s.traffic.wire_in > len);
    conn_end(&c);
    free(data);
    free(out);
}

/* A 1000-byte record read 10 bytes at a time: pending_input says so. */
static void test_tls_pending_input_and_eof(void)
{
    qr_tls_options o;
    char buf[1000];
    int last;
    conn c;

    opts(&o, "localhost");
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_BLOB, NULL), 0);
    CHECK_UINT_EQ(tt_read_some(&c.s, buf, 10, 10, &last), 10);
    CHECK_INT_EQ(qr_stack_pending_input(&c.s), 1);
    CHECK_INT_EQ(qr_stack_read(&c.s, buf + 10, 990), 990);
    CHECK_INT_EQ(qr_stack_pending_input(&c.s), 0);
    CHECK(buf[0] == 'x' && buf[999] == 'x');
    CHECK_UINT_EQ(tt_read_some(&c.s, buf, 1, 1, &last), 0);
    CHECK_INT_EQ(last, QR_EOF);
    CHECK_STR_EQ(errmsg(&c), "TLS read from localhost: 0 bytes read (got EOF)");
    CHECK_INT_EQ(qr_stack_read(&c.s, buf, 1), QR_EOF);
    conn_end(&c);
}

/* ---- verification ---------------------------------------------------------------- */

/* Handshake with o against crt: must fail with QR_ETLS and this message start. */
static void refused(const qr_tls_options *o, const cert *crt, const char *prefix,
                    const char *phrase)
{
    conn c;

    CHECK_INT_EQ(conn_start(&c, o, crt, SRV_ECHO, NULL), QR_ETLS);
    CHECK(strncmp(errmsg(&c), prefix, strlen(prefix)) == 0);
    CHECK(strstr(errmsg(&c), phrase) != NULL);
    if (strncmp(errmsg(&c), prefix, strlen(prefix)) != 0 || !strstr(errmsg(&c), phrase))
        printf("# message: %s\n", errmsg(&c));
    CHECK_INT_EQ(qr_tls_layer_version(c.tls), -1);
    CHECK_INT_EQ(qr_stack_step(&c.s), QR_ETLS); /* sticky */
    conn_end(&c);
    CHECK(c.srv.hs_rc < 0);
}

#define REFUSED_CERT                                                                               \
    "Can't initiate TLS/SSL handshake with localhost: certificate verification failed: "

static void test_tls_refuse_self_signed(void)
{
    qr_tls_options o;

    opts(&o, "localhost");
    refused(&o, &selfsigned, REFUSED_CERT, "The certificate issuer is unknown.");
    CHECK(has_line("D [0] preverify=0"));
}

static void test_tls_refuse_unknown_ca(void)
{
    qr_tls_options o;

    opts(&o, "localhost");
    refused(&o, &unknown_ca_leaf, REFUSED_CERT, "The certificate issuer is unknown.");
    CHECK(has_line("D   Issuer Name: /O=libqresync tests/CN=Unknown CA"));
}

static void test_tls_refuse_wrong_host(void)
{
    qr_tls_options o;

    opts(&o, "localhost");
    refused(&o, &wronghost, REFUSED_CERT,
            "The name in the certificate does not match the expected.");
}

static void test_tls_refuse_expired(void)
{
    qr_tls_options o;

    opts(&o, "localhost");
    refused(&o, &expired, REFUSED_CERT, "The certificate chain uses expired certificate.");
}

/* Without SSL_CAfile the system store is used: our CA is not in it. */
static void test_tls_refuse_system_store(void)
{
    qr_tls_options o;

    opts(&o, "localhost");
    o.cafile = NULL;
    refused(&o, &leaf, REFUSED_CERT, "The certificate issuer is unknown.");
    CHECK(has_line("D Using default locations for trusted CA certificates"));
}

static void test_tls_cn_only_and_hostname_not_used_for_check(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.hostname = "imap.example"; /* SNI only: the check still uses host */
    CHECK_INT_EQ(conn_start(&c, &o, &cnonly, SRV_ECHO, NULL), 0);
    CHECK_STR_EQ(qr_tls_layer_sni(c.tls), "imap.example");
    CHECK(has_line("D Using SNI with name imap.example"));
    conn_end(&c);
    CHECK_STR_EQ(c.srv.sni, "imap.example");
}

static void test_tls_ip_literal(void)
{
    const char *hosts[] = {"127.0.0.1", "[127.0.0.1]"};
    qr_tls_options o;
    size_t i;
    conn c;

    for (i = 0; i < 2; i++) {
        opts(&o, hosts[i]);
        CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
        CHECK(qr_tls_layer_sni(c.tls) == NULL);
        CHECK(strstr(logbuf, "Using SNI") == NULL);
        conn_end(&c);
        CHECK_STR_EQ(c.srv.sni, "");
        CHECK_INT_EQ(c.srv.hs_rc, 0);
    }
    /* an address the certificate does not name */
    opts(&o, "[10.1.2.3]");
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK_STR_EQ(errmsg(&c), "Can't initiate TLS/SSL handshake with 10.1.2.3: certificate "
                             "verification failed: The certificate is NOT trusted. The name in "
                             "the certificate does not match the expected. ");
    conn_end(&c);
    CHECK_STR_EQ(c.srv.sni, "");
}

static void test_tls_sni_rules(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.hostname = ""; /* disables SNI */
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK(qr_tls_layer_sni(c.tls) == NULL);
    CHECK(strstr(logbuf, "Using SNI") == NULL);
    conn_end(&c);
    CHECK_STR_EQ(c.srv.sni, "");
    /* an IP literal host with an explicit hostname: that name is sent */
    opts(&o, "127.0.0.1");
    o.hostname = "mail.example";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    conn_end(&c);
    CHECK_STR_EQ(c.srv.sni, "mail.example");
}

/* ---- pins ------------------------------------------------------------------------ */

static void test_tls_pin_mismatch_refused(void)
{
    qr_tls_options o;
    char pin[160];
    conn c;

    spki_pin(&selfsigned, GNUTLS_KEYID_USE_SHA256, "sha256", 0, pin, sizeof(pin));
    opts(&o, "localhost");
    o.fingerprints = pin; /* the chain is fine, the pin is another key's */
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK_STR_EQ(errmsg(&c), "Can't initiate TLS/SSL handshake with localhost: Fingerprint "
                             "doesn't match! MiTM in action?");
    CHECK(has_line("W Fingerprint doesn't match! MiTM in action?"));
    conn_end(&c);
    /* verify off: the pin alone decides */
    opts(&o, "localhost");
    o.verify = 0;
    o.fingerprints = pin;
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK(has_line("W Fingerprint doesn't match! MiTM in action?"));
    conn_end(&c);
}

static void test_tls_pin_match_verify_off(void)
{
    qr_tls_options o;
    char pin[160], line[260];
    conn c;

    spki_pin(&selfsigned, GNUTLS_KEYID_USE_SHA256, "", 0, pin, sizeof(pin)); /* no ALGO$ */
    opts(&o, "localhost");
    o.verify = 0;
    o.fingerprints = pin;
    CHECK_INT_EQ(conn_start(&c, &o, &selfsigned, SRV_ECHO, NULL), 0);
    snprintf(line, sizeof(line), "D Peer certificate matches pinned SPKI digest sha256$%s", pin);
    CHECK(has_line(line));
    conn_end(&c);
    /* verify off and no pin: anything goes */
    opts(&o, "other.host");
    o.verify = 0;
    CHECK_INT_EQ(conn_start(&c, &o, &expired, SRV_ECHO, NULL), 0);
    conn_end(&c);
}

static void test_tls_pin_several(void)
{
    char p1[160], p2[160], p3[160], list[600], line[260];
    qr_tls_options o;
    conn c;

    spki_pin(&selfsigned, GNUTLS_KEYID_USE_SHA1, "sha1", 0, p1, sizeof(p1));
    spki_pin(&leaf, GNUTLS_KEYID_USE_SHA512, "SHA512", 1, p2, sizeof(p2)); /* case-insensitive */
    spki_pin(&ca, GNUTLS_KEYID_USE_SHA256, "sha256", 0, p3, sizeof(p3));
    snprintf(list, sizeof(list), "%s  %s %s", p1, p2, p3);
    opts(&o, "localhost");
    o.fingerprints = list; /* verify on: chain, name and pin all pass */
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    snprintf(line, sizeof(line), "D Peer certificate matches pinned SPKI digest %s", p2);
    CHECK(has_line(line));
    conn_end(&c);
}

static void test_tls_pin_parse(void)
{
    qr_tls_pin *pins = NULL;
    qr_errslot err;
    size_t n = 9;

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tls_pins_parse("md99$abcd", &pins, &n, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Can't find MD value for name 'md99'");
    CHECK(pins == NULL);
    CHECK_INT_EQ(qr_tls_pins_parse("sha1$abcd", &pins, &n, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message,
                 "SSL_fingerprint: 'sha1$abcd' is not a HEX sha1 digest (20 bytes)");
    CHECK_INT_EQ(qr_tls_pins_parse("sha1$00:11:22:33:44:55:66:77:88:99:aa:BB:cc:dd:ee:ff:00:11:22:"
                                   "3z",
                                   &pins, &n, &err),
                 QR_EINVAL);
    CHECK_INT_EQ(qr_tls_pins_parse("  ", &pins, &n, &err), 0);
    CHECK_UINT_EQ(n, 0);
    CHECK_INT_EQ(qr_tls_pins_parse("sha1$00:11:22:33:44:55:66:77:88:99:aa:BB:cc:dd:ee:ff:00:11:22:"
                                   "33 SHA384$"
                                   "000000000000000000000000000000000000000000000000"
                                   "000000000000000000000000000000000000000000000000",
                                   &pins, &n, &err),
                 0);
    CHECK_UINT_EQ(n, 2);
    if (n == 2) {
        CHECK_INT_EQ(pins[0].algo, GNUTLS_DIG_SHA1);
        CHECK_UINT_EQ(pins[0].len, 20);
        CHECK_INT_EQ(pins[0].digest[11], 0xbb);
        CHECK_INT_EQ(pins[1].algo, GNUTLS_DIG_SHA384);
        CHECK(strncmp(pins[1].label, "SHA384$0000", 11) == 0);
    }
    qr_tls_pins_free(pins, n);
}

/* ---- protocols, priorities, ciphers ------------------------------------------------ */

static void test_tls_protocol_min_above_server(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.protocol_min = "TLSv1.3";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, "NORMAL:-VERS-ALL:+VERS-TLS1.2"), QR_ETLS);
    CHECK_STR_EQ(errmsg(&c), "Can't initiate TLS/SSL handshake with localhost: the peer sent a "
                             "fatal alert: Handshake failed");
    CHECK_INT_EQ(qr_errslot_get(&c.err)->lib_code, GNUTLS_E_FATAL_ALERT_RECEIVED);
    CHECK(has_line("D Minimum SSL/TLS protocol version: TLSv1.3"));
    conn_end(&c);
}

static void test_tls_protocol_max_12(void)
{
    qr_tls_options o;
    char out[8];
    conn c;

    opts(&o, "localhost");
    o.protocol_max = "TLSv1.2";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK_INT_EQ(qr_tls_layer_version(c.tls), QR_TLS_V1_2);
    CHECK(has_line("D Maximum SSL/TLS protocol version: TLSv1.2"));
    CHECK(has_line("D SSL protocol: TLSv1.2 (0x303)"));
    CHECK_INT_EQ(tt_echo(&c.s, "ping", out, 4, 8), 0);
    CHECK_MEM_EQ(out, 4, "ping", 4);
    conn_end(&c);
}

static void test_tls_protocol_names(void)
{
    qr_tls_options o;
    qr_errslot err;
    qr_layer *l = (qr_layer *)&o;
    qr_stack s;
    int v = -1;

    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    CHECK_INT_EQ(qr_tls_parse_version("TLSv1.1", &v, &err), 0);
    CHECK_INT_EQ(v, QR_TLS_V1_1);
    CHECK_INT_EQ(qr_tls_parse_version("SSLv2", &v, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Unknown protocol version: SSLv2");
    opts(&o, "localhost");
    o.protocol_min = "TLSv9";
    CHECK_INT_EQ(qr_tls_layer_create(&l, &s, &o, NULL, NULL), QR_EINVAL);
    CHECK(l == NULL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Unknown protocol version: TLSv9");
    opts(&o, "localhost");
    o.protocol_min = "TLSv1.3";
    o.protocol_max = "TLSv1.2";
    CHECK_INT_EQ(qr_tls_layer_create(&l, &s, &o, NULL, NULL), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message,
                 "SSL_protocol_min TLSv1.3 is above SSL_protocol_max TLSv1.2");
    opts(&o, "");
    CHECK_INT_EQ(qr_tls_layer_create(&l, &s, &o, NULL, NULL), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "TLS layer: no host name to verify");
    qr_stack_destroy(&s);
}

static void test_tls_protocols_list(void)
{
    qr_errslot err;
    unsigned off = 0;
    char names[128];

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tls_parse_protocols("TLSv1.2 TLSv1.3", &off, &err), 0);
    qr_tls_format_protocols(off, names, sizeof(names));
    CHECK_STR_EQ(names, "SSLv2, SSLv3, TLSv1, TLSv1.1");
    CHECK_INT_EQ(qr_tls_parse_protocols("!SSLv3 !TLSv1.0", &off, &err), 0);
    qr_tls_format_protocols(off, names, sizeof(names));
    CHECK_STR_EQ(names, "SSLv3, TLSv1");
    CHECK_INT_EQ(qr_tls_parse_protocols("TLSv1.3 !TLSv1.3", &off, &err), 0);
    qr_tls_format_protocols(off, names, sizeof(names));
    CHECK_STR_EQ(names, "SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3");
    CHECK_INT_EQ(qr_tls_parse_protocols("", &off, &err), 0);
    CHECK_UINT_EQ(off, 0);
    CHECK_INT_EQ(qr_tls_parse_protocols("TLSv1.2 !TLSv2", &off, &err), QR_EINVAL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, "Unknown SSL protocol: TLSv2");
}

/* The priority a set of options gives. */
static void check_priority(const qr_tls_options *o, const char *want, int want_append)
{
    qr_errslot err;
    char *text = NULL;
    int append = -1;

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tls_priority_string(o, &logger, &text, &append, &err), 0);
    CHECK_STR_EQ(text, want);
    CHECK_INT_EQ(append, want_append);
    qr_free(text);
}

static void test_tls_priority_strings(void)
{
    qr_tls_options o;

    logbuf[0] = '\0';
    qr_logger_init(&logger, log_fn, NULL, QR_LOG_DEBUG);
    opts(&o, "h");
    check_priority(&o, "", 1);
    o.protocol_min = "TLSv1.2";
    check_priority(&o, "-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3", 1);
    o.protocol_max = "TLSv1.2";
    o.protocols = "SSLv3"; /* ignored when min or max is set */
    check_priority(&o, "-VERS-ALL:+VERS-TLS1.2", 1);
    CHECK(strstr(logbuf, "deprecated") == NULL);
    opts(&o, "h");
    o.protocols = "!SSLv2 !SSLv3 !TLSv1 !TLSv1.1";
    check_priority(&o, "-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1", 1);
    CHECK(has_line("W SSL_protocols is deprecated and will be removed in a future release! Use "
                   "SSL_protocol_{min,max} instead."));
    CHECK(has_line("D Disabling SSL protocols: SSLv2, SSLv3, TLSv1, TLSv1.1"));
    o.priority = "SECURE256:+VERS-TLS1.3"; /* wins */
    check_priority(&o, "SECURE256:+VERS-TLS1.3", 0);
    o.priority = "";
    o.protocols = NULL;
    o.cipherlist = "ECDHE-RSA-AES128-GCM-SHA256";
    o.protocol_min = "TLSv1";
    check_priority(&o,
                   "-VERS-ALL:+VERS-TLS1.0:+VERS-TLS1.1:+VERS-TLS1.2:+VERS-TLS1.3:-CIPHER-ALL:+AES-"
                   "128-GCM:-KX-ALL:+ECDHE-RSA:-MAC-ALL:+AEAD",
                   1);
}

/* qr_tls_map_ciphers(list, suites) must give want. */
static void check_map(const char *list, const char *suites, const char *want)
{
    qr_errslot err;
    char *text = NULL;

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tls_map_ciphers(list, suites, &text, &err), 0);
    CHECK_STR_EQ(text, want);
    qr_free(text);
}

static void check_unmappable(const char *list, const char *suites, const char *want)
{
    qr_errslot err;
    char *text = (char *)"x";

    qr_errslot_clear(&err);
    CHECK_INT_EQ(qr_tls_map_ciphers(list, suites, &text, &err), QR_EINVAL);
    CHECK(text == NULL);
    CHECK_STR_EQ(qr_errslot_get(&err)->message, want);
}

static void test_tls_cipher_mapping(void)
{
    check_map(NULL, NULL, "");
    check_map("DEFAULT", NULL, "");
    check_map("HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:@STRENGTH", NULL, "");
    check_map(
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256", NULL,
        "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:-MAC-ALL:+AEAD");
    check_map("EECDH+AESGCM:EDH+AESGCM:!aNULL", NULL,
              "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:+DHE-RSA");
    check_map("ECDHE+aRSA+CHACHA20", NULL, "-CIPHER-ALL:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA");
    check_map("AES128-SHA,AES256-SHA", NULL,
              "-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-KX-ALL:+RSA:-MAC-ALL:+SHA1");
    check_map("HIGH:!kRSA:!SHA1:!AESCCM", NULL, "-AES-128-CCM:-AES-256-CCM:-RSA:-SHA1");
    check_map(NULL, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
              "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305");
    check_map(NULL, "TLS_AES_128_CCM_8_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_GCM_SHA256",
              "-CIPHER-ALL:+AES-128-GCM:+AES-128-CCM:+AES-128-CCM-8");
    check_map(NULL, "", "-VERS-TLS1.3");
    check_map("ECDHE-RSA-AES128-SHA", "TLS_AES_256_GCM_SHA384",
              "-CIPHER-ALL:+AES-256-GCM:+AES-128-CBC:-KX-ALL:+ECDHE-RSA:-MAC-ALL:+AEAD:+SHA1");
    check_map("HIGH", "TLS_AES_256_GCM_SHA384", "");
    check_unmappable("HIGH:@SECLEVEL=2", NULL,
                     "SSL_cipherlist: cannot map '@SECLEVEL=2' to a GnuTLS priority; use "
                     "SSL_priority");
    check_unmappable("ECDHE+CAMELLIA", NULL,
                     "SSL_cipherlist: cannot map 'ECDHE+CAMELLIA' to a GnuTLS priority; use "
                     "SSL_priority");
    check_unmappable("HIGH:!ECDHE-RSA-AES128-SHA", NULL,
                     "SSL_cipherlist: cannot map '!ECDHE-RSA-AES128-SHA' to a GnuTLS priority; "
                     "use SSL_priority");
    check_unmappable(NULL, "TLS_AES_256_GCM_SHA384:TLS_SM4_GCM_SM3",
                     "SSL_ciphersuites: cannot map 'TLS_SM4_GCM_SM3' to a GnuTLS priority; use "
                     "SSL_priority");
}

/* Mapped options reach the handshake. */
static void test_tls_ciphers_negotiated(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.ciphersuites = "TLS_AES_128_GCM_SHA256";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK(has_line("D SSL cipher: TLS_AES_128_GCM_SHA256 (128 bits)"));
    conn_end(&c);
    opts(&o, "localhost");
    o.cipherlist = "ECDHE-ECDSA-CHACHA20-POLY1305";
    o.protocol_max = "TLSv1.2";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK(has_line("D SSL cipher: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (256 bits)"));
    conn_end(&c);
    opts(&o, "localhost");
    o.cipherlist = "ECDHE-RSA-AES128-GCM-SHA256"; /* our ECDSA server cannot do it */
    o.protocol_max = "TLSv1.2";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    conn_end(&c);
    opts(&o, "localhost");
    o.cipherlist = "ALL";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_EINVAL);
    CHECK_STR_EQ(errmsg(&c),
                 "SSL_cipherlist: cannot map 'ALL' to a GnuTLS priority; use SSL_priority");
    conn_end(&c);
}

static void test_tls_raw_priority(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
    o.protocol_min = "TLSv1.3"; /* SSL_priority wins */
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK_INT_EQ(qr_tls_layer_version(c.tls), QR_TLS_V1_2);
    conn_end(&c);
    opts(&o, "localhost");
    o.priority = "NORMAL:+BOGUS-THING";
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), QR_EINVAL);
    CHECK_STR_EQ(errmsg(&c), "SSL_priority: invalid GnuTLS priority 'NORMAL:+BOGUS-THING' at "
                             "'+BOGUS-THING': The request is invalid.");
    CHECK_INT_EQ(qr_errslot_get(&c.err)->lib_code, GNUTLS_E_INVALID_REQUEST);
    conn_end(&c);
}

/* ---- failures of the peer and of the set-up ----------------------------------------- */

static void test_tls_silent_server_times_out(void)
{
    qr_tls_options o;
    int64_t start, dl;
    conn c;
    int rc;

    opts(&o, "localhost");
    o.handshake_timeout_ms = 300;
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_SILENT, NULL), 0);
    start = qr_now_ms();
    CHECK_INT_EQ(qr_stack_step(&c.s), QR_EAGAIN);
    dl = qr_stack_deadline(&c.s);
    CHECK(dl >= start + 300 && dl <= qr_now_ms() + 300);
    CHECK_INT_EQ(qr_stack_interest(&c.s), POLLIN); /* waiting for the ServerHello */
    while ((rc = qr_stack_step(&c.s)) == QR_EAGAIN && qr_now_ms() < start + 5000)
        tt_wait(&c.s, POLLIN, (int)(dl - qr_now_ms() > 0 ? dl - qr_now_ms() : 0));
    CHECK_INT_EQ(rc, QR_ETLS);
    CHECK(qr_now_ms() >= start + 300);
    CHECK_STR_EQ(errmsg(&c), "Can't initiate TLS/SSL handshake with localhost: timed out after "
                             "300 ms");
    CHECK_INT_EQ(qr_errslot_get(&c.err)->lib_code, GNUTLS_E_TIMEDOUT);
    CHECK_INT_EQ(qr_stack_deadline(&c.s), -1);
    conn_end(&c);
}

static void test_tls_server_hangs_up_mid_handshake(void)
{
    qr_tls_options o;
    char buf[4];
    conn c;

    opts(&o, "localhost");
    CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_HANGUP, NULL), QR_ETLS);
    CHECK_STR_EQ(errmsg(&c), "Can't initiate TLS/SSL handshake with localhost: connection closed "
                             "by the peer (got EOF)");
    CHECK_INT_EQ(qr_stack_read(&c.s, buf, sizeof(buf)), QR_ETLS);
    CHECK_INT_EQ(qr_stack_close(&c.s), 0);
    conn_end(&c);
}

static void test_tls_io_before_handshake(void)
{
    struct iovec v = {(void *)(uintptr_t) "x", 1};
    qr_tls_options o;
    char buf[4];
    conn c;

    opts(&o, "localhost");
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_ECHO, NULL), 0);
    CHECK_INT_EQ(qr_stack_read(&c.s, buf, sizeof(buf)), QR_EINVAL);
    CHECK_STR_EQ(errmsg(&c), "TLS read from localhost before the handshake is done");
    CHECK_INT_EQ(qr_stack_write(&c.s, &v, 1), QR_EINVAL);
    CHECK_INT_EQ(tt_step(&c.s), 0);
    CHECK_INT_EQ(qr_stack_step(&c.s), 0);
    CHECK_INT_EQ(qr_stack_close(&c.s), 0);
    CHECK_INT_EQ(qr_stack_write(&c.s, &v, 1), QR_EINVAL);
    CHECK_STR_EQ(errmsg(&c), "TLS write to localhost after close");
    conn_end(&c);
}

static void test_tls_bad_cafile(void)
{
    qr_tls_options o;
    conn c;

    opts(&o, "localhost");
    o.cafile = "/nonexistent/ca.pem";
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK(c.tls == NULL);
    CHECK(strncmp(errmsg(&c),
                  "Can't load trust anchors from SSL_CAfile '/nonexistent/ca.pem': ", 64) == 0);
    CHECK(qr_errslot_get(&c.err)->lib_code < 0);
    conn_end(&c);
    opts(&o, "localhost");
    o.cafile = "/dev/null";
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK(strncmp(errmsg(&c), "Can't load trust anchors from SSL_CAfile '/dev/null': ", 54) == 0);
    conn_end(&c);
    opts(&o, "localhost");
    o.cafile = NULL;
    o.capath = "/nonexistent-dir";
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_ECHO, NULL), QR_ETLS);
    CHECK(strncmp(errmsg(&c),
                  "Can't load trust anchors from SSL_CApath '/nonexistent-dir': ", 61) == 0);
    conn_end(&c);
}

/* One credentials object for two connections. */
static void test_tls_shared_creds(void)
{
    qr_tls_options o;
    qr_errslot err;
    int i;

    qr_errslot_clear(&err);
    opts(&o, "localhost");
    CHECK_INT_EQ(qr_tls_creds_new(&conn_creds, &o, &err, NULL), 0);
    o.cafile = "/nonexistent"; /* not loaded again: the shared object is used */
    for (i = 0; i < 2 && conn_creds; i++) {
        char out[4];
        conn c;

        CHECK_INT_EQ(conn_start(&c, &o, &leaf, SRV_ECHO, NULL), 0);
        CHECK_INT_EQ(tt_echo(&c.s, "abc", out, 3, 4), 0);
        CHECK_MEM_EQ(out, 3, "abc", 3);
        conn_end(&c);
    }
    qr_tls_creds_unref(conn_creds); /* the layers dropped theirs: this frees (ASan checks) */
    conn_creds = NULL;
}

/* STARTTLS: plaintext through the socket layer, then the TLS layer on top. */
static void test_tls_starttls(void)
{
    qr_tls_options o;
    qr_layer *t = NULL;
    char buf[32];
    int last;
    conn c;

    opts(&o, "localhost");
    CHECK_INT_EQ(conn_open(&c, &o, &leaf, SRV_STARTTLS, NULL), 0);
    CHECK_INT_EQ(tt_write_all(&c.s, "a1 STARTTLS\r\n", 13), 0);
    CHECK_UINT_EQ(tt_read_some(&c.s, buf, 10, sizeof(buf), &last), 10);
    CHECK_MEM_EQ(buf, 10, "OK begin\r\n", 10);
    CHECK_INT_EQ(qr_tls_layer_create(&t, &c.s, &o, NULL, &logger), 0);
    qr_stack_push(&c.s, t);
    CHECK_INT_EQ(tt_step(&c.s), 0);
    CHECK_INT_EQ(tt_echo(&c.s, "a2 CAPABILITY\r\n", buf, 15, sizeof(buf)), 0);
    CHECK_MEM_EQ(buf, 15, "a2 CAPABILITY\r\n", 15);
    CHECK_UINT_EQ(c.s.traffic.plain_out, 13 + 15);
    conn_end(&c);
    CHECK_STR_EQ(c.srv.plain, "a1 STARTTLS\r\n");
    CHECK_INT_EQ(c.srv.hs_rc, 0);
}

/* Every allocation failure while creating the layer: QR_ENOMEM, no leak (ASan). */
static void test_tls_create_alloc_failures(void)
{
    qr_tls_options o;
    unsigned long n, total;
    qr_errslot err;
    qr_stack s;
    char pin[160];

    spki_pin(&leaf, GNUTLS_KEYID_USE_SHA256, "sha256", 0, pin, sizeof(pin));
    opts(&o, "localhost");
    o.fingerprints = pin;
    o.protocol_min = "TLSv1.2";
    qr_errslot_clear(&err);
    qr_stack_init(&s, &err);
    qr_alloc_fail_at(0, 0); /* disarmed; counts from here */
    {
        qr_layer *l = NULL;

        CHECK_INT_EQ(qr_tls_layer_create(&l, &s, &o, NULL, NULL), 0);
        total = qr_alloc_count();
        if (l)
            l->ops->destroy(l);
    }
    CHECK(total >= 5);
    for (n = 1; n <= total; n++) {
        qr_layer *l = (qr_layer *)&o;

        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(qr_tls_layer_create(&l, &s, &o, NULL, NULL), QR_ENOMEM);
        CHECK(l == NULL);
    }
    qr_alloc_fail_at(0, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server thread writes to closed socketpairs */
    make_certs();
    TAP_RUN(test_tls_echo);
    TAP_RUN(test_tls_echo_1mib_small_reads);
    TAP_RUN(test_tls_pending_input_and_eof);
    TAP_RUN(test_tls_refuse_self_signed);
    TAP_RUN(test_tls_refuse_unknown_ca);
    TAP_RUN(test_tls_refuse_wrong_host);
    TAP_RUN(test_tls_refuse_expired);
    TAP_RUN(test_tls_refuse_system_store);
    TAP_RUN(test_tls_cn_only_and_hostname_not_used_for_check);
    TAP_RUN(test_tls_ip_literal);
    TAP_RUN(test_tls_sni_rules);
    TAP_RUN(test_tls_pin_mismatch_refused);
    TAP_RUN(test_tls_pin_match_verify_off);
    TAP_RUN(test_tls_pin_several);
    TAP_RUN(test_tls_pin_parse);
    TAP_RUN(test_tls_protocol_min_above_server);
    TAP_RUN(test_tls_protocol_max_12);
    TAP_RUN(test_tls_protocol_names);
    TAP_RUN(test_tls_protocols_list);
    TAP_RUN(test_tls_priority_strings);
    TAP_RUN(test_tls_cipher_mapping);
    TAP_RUN(test_tls_ciphers_negotiated);
    TAP_RUN(test_tls_raw_priority);
    TAP_RUN(test_tls_silent_server_times_out);
    TAP_RUN(test_tls_server_hangs_up_mid_handshake);
    TAP_RUN(test_tls_io_before_handshake);
    TAP_RUN(test_tls_bad_cafile);
    TAP_RUN(test_tls_shared_creds);
    TAP_RUN(test_tls_starttls);
    TAP_RUN(test_tls_create_alloc_failures);
    unlink(cafile);
    return tap_done();
}
