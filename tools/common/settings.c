/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * settings.c: typed settings with each tool's defaults.
 *
 * The values were validated by config.c; here they are only picked,
 * defaulted and, for pullimap's deliver-method and purge-after, decoded.
 * The defaults are the reference's: interimap compresses on [remote] only;
 * its database defaults to "HOST.db" with HOST the effective host of
 * [remote] ("localhost" for a tunnel without host); pullimap compresses by
 * default, pulls INBOX into smtp:[127.0.0.1]:25 with EHLO
 * localhost.localdomain. Ours: deliver-method also takes host names, and
 * the deliver-starttls, deliver-auth, deliver-username, deliver-password
 * and deliver-SSL_* keys describe the SMTP/LMTP connection's security.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exitcodes.h"
#include "logprefix.h"
#include "settings.h"
#include "xalloc.h"

void qrt_conn_settings_get(const struct qrt_conf_section *s, int compress_default,
                           struct qrt_conn_settings *c)
{
    const char *ref = qrt_conf_str(s, "list-reference");

    memset(c, 0, sizeof(*c));
    c->name = s->name;
    c->type = qrt_conf_str(s, "type");
    c->host = qrt_conf_str(s, "host");
    c->port = qrt_conf_str(s, "port");
    c->proxy = qrt_conf_str(s, "proxy");
    c->command = qrt_conf_str(s, "command");
    c->auth = qrt_conf_str(s, "auth");
    c->username = qrt_conf_str(s, "username");
    c->password = qrt_conf_str(s, "password");
    c->list_reference = ref ? ref : "";
    c->starttls = qrt_conf_bool(s, "STARTTLS", 1);
    c->compress = qrt_conf_bool(s, "compress", compress_default);
    c->null_stderr = qrt_conf_bool(s, "null-stderr", 0);
    c->ssl_verify = qrt_conf_bool(s, "SSL_verify", 1);
    c->ssl_protocols = qrt_conf_str(s, "SSL_protocols");
    c->ssl_protocol_min = qrt_conf_str(s, "SSL_protocol_min");
    c->ssl_protocol_max = qrt_conf_str(s, "SSL_protocol_max");
    c->ssl_fingerprint = qrt_conf_str(s, "SSL_fingerprint");
    c->ssl_cipherlist = qrt_conf_str(s, "SSL_cipherlist");
    c->ssl_ciphersuites = qrt_conf_str(s, "SSL_ciphersuites");
    c->ssl_hostname = qrt_conf_str(s, "SSL_hostname");
    c->ssl_capath = qrt_conf_str(s, "SSL_CApath");
    c->ssl_cafile = qrt_conf_str(s, "SSL_CAfile");
}

void qrt_interimap_settings_get(const struct qrt_config *c, struct qrt_interimap_settings *out)
{
    const struct qrt_conf_section *d = qrt_config_section(c, "_");
    const char *prefix = qrt_conf_str(d, "log-prefix");

    memset(out, 0, sizeof(*out));
    qrt_conn_settings_get(qrt_config_section(c, "local"), 0, &out->local);
    qrt_conn_settings_get(qrt_config_section(c, "remote"), 1, &out->remote);
    out->database = qrt_conf_str(d, "database");
    if (out->database == NULL) {
        if (asprintf(&out->database_default, "%s.db", out->remote.host) < 0)
            qrt_oom();
        out->database = out->database_default;
    }
    out->logfile = qrt_conf_str(d, "logfile");
    out->log_prefix = prefix ? prefix : QRT_LOGPREFIX_DEFAULT;
    out->list_mailbox = qrt_conf_str(d, "list-mailbox");
    out->list_select_opts = qrt_conf_str(d, "list-select-opts");
    out->ignore_mailbox = qrt_conf_str(d, "ignore-mailbox");
}

void qrt_interimap_settings_free(struct qrt_interimap_settings *s)
{
    free(s->database_default);
    memset(s, 0, sizeof(*s));
}

/*
 * A deliver-method host: a numeric IPv6 address (it has a ':'), a numeric
 * IPv4 address (only digits and dots), or a host name (ours: letters,
 * digits, '-', '_', non-empty labels separated by dots).
 */
static int deliver_host_ok(const char *h, int ipv6)
{
    unsigned char buf[16];
    size_t label = 0;

    if (ipv6 || *h == '\0' || strspn(h, "0123456789.") == strlen(h))
        return inet_pton(ipv6 ? AF_INET6 : AF_INET, h, buf) == 1;
    for (const char *c = h;; c++) {
        if (*c == '.' || *c == '\0') {
            if (label == 0)
                return 0;
            if (*c == '\0')
                return 1;
            label = 0;
        } else if (isalnum((unsigned char)*c) || *c == '-' || *c == '_') {
            label++;
        } else {
            return 0;
        }
    }
}

/* "smtp:[ADDR]:PORT" (syntax already checked by keys.c). */
static int deliver_method(const char *v, struct qrt_pullimap_settings *p, struct qrt_err *err)
{
    const char *open = strchr(v, '['), *close = strrchr(v, ']');
    unsigned long port = strtoul(close + 2, NULL, 10);

    p->proto = v[0] == 'l' ? QRT_DELIVER_LMTP : QRT_DELIVER_SMTP;
    p->deliver_addr = qrt_xstrndup(open + 1, (size_t)(close - open - 1));
    p->deliver_ipv6 = strchr(p->deliver_addr, ':') != NULL;
    if (!deliver_host_ok(p->deliver_addr, p->deliver_ipv6))
        return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid address %s", p->deliver_addr);
    if (port == 0 || port > 65535 || strlen(close + 2) > 5)
        return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid option deliver-method = %s", v);
    p->deliver_port = (unsigned)port;
    return 0;
}

/* Our deliver-starttls, deliver-auth, ... keys (values checked by keys.c). */
static void deliver_security(const struct qrt_conf_section *s, struct qrt_pullimap_settings *p)
{
    const char *v = qrt_conf_str(s, "deliver-starttls");

    if (v == NULL)
        p->deliver_starttls = QRT_STARTTLS_DEFAULT;
    else if (strcasecmp(v, "no") == 0)
        p->deliver_starttls = QRT_STARTTLS_NO;
    else if (strcasecmp(v, "required") == 0)
        p->deliver_starttls = QRT_STARTTLS_REQUIRED;
    else
        p->deliver_starttls = QRT_STARTTLS_OFFERED;
    p->deliver_auth = qrt_conf_str(s, "deliver-auth");
    p->deliver_username = qrt_conf_str(s, "deliver-username");
    p->deliver_password = qrt_conf_str(s, "deliver-password");
    p->deliver_ssl_verify = qrt_conf_bool(s, "deliver-SSL_verify", 1);
    p->deliver_ssl_cafile = qrt_conf_str(s, "deliver-SSL_CAfile");
    p->deliver_ssl_capath = qrt_conf_str(s, "deliver-SSL_CApath");
    p->deliver_ssl_hostname = qrt_conf_str(s, "deliver-SSL_hostname");
    p->deliver_ssl_fingerprint = qrt_conf_str(s, "deliver-SSL_fingerprint");
    p->deliver_ssl_protocol_min = qrt_conf_str(s, "deliver-SSL_protocol_min");
}

int qrt_pullimap_settings_get(const struct qrt_config *c, struct qrt_pullimap_settings *p,
                              struct qrt_err *err)
{
    const struct qrt_conf_section *s = &c->sections[0];
    const char *v;
    int rc;

    memset(p, 0, sizeof(*p));
    qrt_conn_settings_get(s, 1, &p->conn);
    v = qrt_conf_str(s, "statefile");
    p->statefile = v ? v : s->name;
    v = qrt_conf_str(s, "mailbox");
    if (v == NULL || strcasecmp(v, "INBOX") == 0)
        v = strcpy(p->mailbox_inbox, "INBOX");
    p->mailbox = v;
    v = qrt_conf_str(s, "deliver-method");
    if (deliver_method(v ? v : "smtp:[127.0.0.1]:25", p, err) < 0) {
        qrt_pullimap_settings_free(p);
        return -1;
    }
    v = qrt_conf_str(s, "deliver-ehlo");
    p->deliver_ehlo = v ? v : "localhost.localdomain";
    p->deliver_rcpt = qrt_conf_str(s, "deliver-rcpt");
    deliver_security(s, p);
    rc = qrt_conf_ulong(s, "purge-after", &p->purge_after);
    if (rc < 0 || p->purge_after > 1000000) {
        qrt_err_set(err, QRT_EXIT_FATAL, "Invalid option purge-after = %s",
                    qrt_conf_str(s, "purge-after"));
        qrt_pullimap_settings_free(p);
        return -1;
    }
    p->purge = rc == 1;
    return 0;
}

void qrt_pullimap_settings_free(struct qrt_pullimap_settings *s)
{
    free(s->deliver_addr);
    memset(s, 0, sizeof(*s));
}
