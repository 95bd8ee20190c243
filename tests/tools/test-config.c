/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-config.c: the INI reader (Config::Tiny semantics), section merging
 * and validation, typed settings with their defaults, XDG resolution and
 * the process environment (tools/common/ini.c, config.c, keys.c,
 * settings.c, xdg.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "config.h"
#include "exitcodes.h"
#include "ini.h"
#include "settings.h"
#include "xdg.h"

static struct qrt_ini *parse(const char *text, struct qrt_err *err)
{
    struct qrt_ini *ini = NULL;

    if (qrt_ini_parse(text, strlen(text), "/cfg", &ini, err) < 0)
        return NULL;
    return ini;
}

static const char *get(const struct qrt_ini *ini, const char *sec, const char *key)
{
    return qrt_ini_get(qrt_ini_section(ini, sec), key);
}

static void test_ini_syntax(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_ini *ini = parse("top = 1\r\n"
                                "  # comment\r\r\n"
                                "; comment\r"
                                " \t\v\f\n"
                                "  key  =  a = b  \n"
                                "k2 = v ; note\n"
                                "k3 = v ;\n"
                                "k4 = a;b\n"
                                "k5 = x # not a comment\n"
                                "k6 =\n"
                                "  =v\n"
                                "[ local ] ; c\n"
                                "host = h1\n"
                                "[remote]\n"
                                "[local]\n"
                                "host = h2\n"
                                "port = 1\n"
                                "[ ]\n"
                                "x = y\n"
                                "[a]b]\n",
                                &err);

    CHECK(ini != NULL);
    if (ini == NULL)
        return;
    CHECK_STR_EQ(ini->sections[0].name, "_");
    CHECK_STR_EQ(get(ini, "_", "top"), "1");
    CHECK_STR_EQ(get(ini, "_", "key"), "a = b");
    CHECK_STR_EQ(get(ini, "_", "k2"), "v");
    CHECK_STR_EQ(get(ini, "_", "k3"), "v ;");
    CHECK_STR_EQ(get(ini, "_", "k4"), "a;b");
    CHECK_STR_EQ(get(ini, "_", "k5"), "x # not a comment");
    CHECK_STR_EQ(get(ini, "_", "k6"), "");
    CHECK_STR_EQ(get(ini, "_", " "), "v");
    CHECK_STR_EQ(get(ini, "local", "host"), "h2");
    CHECK_STR_EQ(get(ini, "local", "port"), "1");
    CHECK(qrt_ini_section(ini, "remote") != NULL);
    CHECK_STR_EQ(get(ini, " ", "x"), "y");
    CHECK(qrt_ini_section(ini, "a]b") != NULL);
    CHECK_UINT_EQ(ini->n_sections, 5);
    CHECK_UINT_EQ(qrt_ini_section(ini, "local")->entries[0].line, 16);
    qrt_ini_free(ini);
}

static void check_syntax_error(const char *text, size_t len, const char *msg)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_ini *ini = NULL;

    CHECK_INT_EQ(qrt_ini_parse(text, len, "/cfg", &ini, &err), -1);
    CHECK(ini == NULL);
    CHECK_STR_EQ(err.msg, msg);
    CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    qrt_err_clear(&err);
}

static void test_ini_errors(void)
{
    check_syntax_error("[local]\ngarbage\n", 16,
                       "Syntax error in /cfg line 2: expected \"[section]\" or \"key = value\": "
                       "garbage");
    check_syntax_error("a=1\r\r\r\n=v\n", 10,
                       "Syntax error in /cfg line 3: empty key before \"=\": =v");
    check_syntax_error("[]\n", 3,
                       "Syntax error in /cfg line 1: expected \"[section]\" or \"key = value\": "
                       "[]");
    check_syntax_error("[a ; b]\n", 8,
                       "Syntax error in /cfg line 1: expected \"[section]\" or \"key = value\": "
                       "[a ; b]");
    check_syntax_error("a=1\nb=x\0y\n", 10, "Syntax error in /cfg line 2: NUL byte: b=x");
}

static struct qrt_config *build(enum qrt_tool tool, const char *text, const char *const *names,
                                size_t n, struct qrt_err *err)
{
    struct qrt_ini *ini = parse(text, err);
    struct qrt_config *c = NULL;

    if (ini == NULL)
        return NULL;
    if (qrt_config_build(tool, ini, names, n, &c, err) < 0)
        c = NULL;
    qrt_ini_free(ini);
    return c;
}

static const char *const I_NAMES[] = {"_", "local", "remote"};

static void check_interimap_error(const char *text, const char *msg)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_config *c = build(QRT_TOOL_INTERIMAP, text, I_NAMES, 3, &err);

    CHECK(c == NULL);
    CHECK_STR_EQ(err.msg, msg);
    CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    qrt_config_free(c);
    qrt_err_clear(&err);
}

static void test_validation(void)
{
    check_interimap_error("foo = bar\n[local]\n[remote]\n", "Invalid option foo");
    check_interimap_error("[local]\nfoo=1\n[remote]\n", "Invalid option foo");
    check_interimap_error("[local]\n[remote]\nbar = 2\n", "Invalid option bar");
    check_interimap_error("[local]\n", "No such section remote");
    check_interimap_error("[remote]\n", "No such section local");
    check_interimap_error("", "No such section local");
    check_interimap_error("[local]\nSTARTTLS = y\n[remote]\n", "Invalid option STARTTLS = y");
    check_interimap_error("[local]\nhost =\n[remote]\n", "Invalid option host = ");
    check_interimap_error("[local]\ntype = IMAP\n[remote]\n", "Invalid option type = IMAP");
    check_interimap_error("[local]\nstatefile = x\n[remote]\n", "Invalid option statefile");
    check_interimap_error("logfile = rel\n[local]\n[remote]\n", "Invalid option logfile = rel");
    check_interimap_error("list-select-opts = a\"b\n[local]\n[remote]\n",
                          "Invalid option list-select-opts = a\"b");
    check_interimap_error("[local]\nauth = PLAIN  LOGIN\n[remote]\n",
                          "Invalid option auth = PLAIN  LOGIN");
    check_interimap_error("[local]\nSSL_protocols = TLSv1.2 !TLSv1.4\n[remote]\n",
                          "Invalid option SSL_protocols = TLSv1.2 !TLSv1.4");
    check_interimap_error("[local]\nSSL_fingerprint = sha256$xyz\n[remote]\n",
                          "Invalid option SSL_fingerprint = sha256$xyz");
    check_interimap_error("[local]\nusername = caf\xc3\xa9\n[remote]\n",
                          "Invalid option username = caf\xc3\xa9");
    check_interimap_error("[local]\nhost = a\x01"
                          "b\n[remote]\n",
                          "Invalid option host = a\x01"
                          "b");
    check_interimap_error("[local]\nhost = a\xc2\x85\n[remote]\n",
                          "Invalid option host = a\xc2\x85");
    check_interimap_error("list-mailbox = a\x80\n[local]\n[remote]\n",
                          "Invalid option list-mailbox = a\x80");
    /* the default section is checked first, then local, then remote */
    check_interimap_error("[local]\nport =\n[remote]\nzzz = 1\n", "Invalid option port = ");
    check_interimap_error("x = 1\n[local]\ny = 2\n", "Invalid option x");
    /* keys in file order: the first bad one wins */
    check_interimap_error("[local]\ncompress = maybe\nbogus = 1\n[remote]\n",
                          "Invalid option compress = maybe");
}

static void test_values_and_defaults(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_interimap_settings s;
    struct qrt_config *c = build(QRT_TOOL_INTERIMAP,
                                 "list-reference = ref/\ncompress = yes\n"
                                 "host = h\xe2\x82\xac\n"
                                 "[local]\ntype = tunnel\ncommand = doveadm exec imap\n"
                                 "null-stderr = Yes\nSSL_verify = no\n"
                                 "[remote]\ntype=imap\nhost=imap.example.net\ncompress = NO\n"
                                 "SSL_fingerprint = sha256$0aF 0123\nSSL_hostname =\n"
                                 "SSL_protocols = !SSLv2 TLSv1 TLSv1.3\n",
                                 I_NAMES, 3, &err);

    CHECK(c != NULL);
    if (c == NULL) {
        printf("# %s\n", err.msg);
        qrt_err_clear(&err);
        return;
    }
    qrt_interimap_settings_get(c, &s);
    CHECK_STR_EQ(s.database, "imap.example.net.db");
    CHECK_STR_EQ(s.log_prefix, "%?n?%?m?%n(%m)&%n?: ?");
    CHECK(s.logfile == NULL);
    CHECK(s.list_mailbox == NULL);
    CHECK_STR_EQ(s.local.type, "tunnel");
    CHECK(s.local.port == NULL);
    CHECK_STR_EQ(s.local.host, "h\xe2\x82\xac");
    CHECK_STR_EQ(s.local.auth, "PLAIN LOGIN");
    CHECK_INT_EQ(s.local.compress, 1);
    CHECK_INT_EQ(s.local.null_stderr, 1);
    CHECK_INT_EQ(s.local.ssl_verify, 0);
    CHECK_INT_EQ(s.local.starttls, 1);
    CHECK_STR_EQ(s.local.list_reference, "ref/");
    CHECK_STR_EQ(s.remote.port, "143");
    CHECK_INT_EQ(s.remote.compress, 0);
    CHECK_STR_EQ(s.remote.ssl_hostname, "");
    CHECK_STR_EQ(s.remote.ssl_fingerprint, "sha256$0aF 0123");
    CHECK_STR_EQ(qrt_conf_str(qrt_config_section(c, "_"), "port"), "993");
    CHECK_STR_EQ(qrt_conf_str(qrt_config_section(c, "_"), "compress"), "1");
    qrt_interimap_settings_free(&s);
    qrt_config_free(c);

    c = build(QRT_TOOL_INTERIMAP, "[local]\n[remote]\ntype=tunnel\n", I_NAMES, 3, &err);
    qrt_interimap_settings_get(c, &s);
    CHECK_STR_EQ(s.database, "localhost.db");
    CHECK_INT_EQ(s.local.compress, 0);
    CHECK_INT_EQ(s.remote.compress, 1);
    CHECK_STR_EQ(s.local.port, "993");
    CHECK_STR_EQ(s.local.list_reference, "");
    qrt_interimap_settings_free(&s);
    qrt_config_free(c);
}

static int pull(const char *text, const char *section, struct qrt_pullimap_settings *p,
                struct qrt_config **cp, struct qrt_err *err)
{
    *cp = build(QRT_TOOL_PULLIMAP, text, &section, 1, err);
    if (*cp == NULL)
        return -1;
    return qrt_pullimap_settings_get(*cp, p, err);
}

static void check_pullimap_error(const char *text, const char *section, const char *msg)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_pullimap_settings p;
    struct qrt_config *c = NULL;

    CHECK_INT_EQ(pull(text, section, &p, &c, &err), -1);
    CHECK_STR_EQ(err.msg, msg);
    CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    if (c != NULL)
        qrt_pullimap_settings_free(&p);
    qrt_config_free(c);
    qrt_err_clear(&err);
}

static void test_pullimap_config(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_pullimap_settings p;
    struct qrt_config *c = NULL;

    CHECK_INT_EQ(
        pull("purge-after = 90\n[acct]\nhost = h\nmailbox = inBox\n", "acct", &p, &c, &err), 0);
    CHECK_STR_EQ(p.statefile, "acct");
    CHECK_STR_EQ(p.mailbox, "INBOX");
    CHECK_INT_EQ(p.proto, QRT_DELIVER_SMTP);
    CHECK_STR_EQ(p.deliver_addr, "127.0.0.1");
    CHECK_UINT_EQ(p.deliver_port, 25);
    CHECK_STR_EQ(p.deliver_ehlo, "localhost.localdomain");
    CHECK(p.deliver_rcpt == NULL);
    CHECK_INT_EQ(p.purge, 1);
    CHECK_UINT_EQ(p.purge_after, 90);
    CHECK_INT_EQ(p.conn.compress, 1);
    CHECK_STR_EQ(p.conn.port, "993");
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    CHECK_INT_EQ(pull("[a]\ndeliver-method = lmtp:[::1]:24\npurge-after =\nstatefile = s\n"
                      "mailbox = Archive\n",
                      "a", &p, &c, &err),
                 0);
    CHECK_INT_EQ(p.proto, QRT_DELIVER_LMTP);
    CHECK_STR_EQ(p.deliver_addr, "::1");
    CHECK_INT_EQ(p.deliver_ipv6, 1);
    CHECK_UINT_EQ(p.deliver_port, 24);
    CHECK_INT_EQ(p.purge, 0);
    CHECK_STR_EQ(p.statefile, "s");
    CHECK_STR_EQ(p.mailbox, "Archive");
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    check_pullimap_error("[a]\nlogfile = /x\n", "a", "Invalid option logfile");
    check_pullimap_error("database = x\n[a]\n", "a", "Invalid option database");
    check_pullimap_error("[b]\n", "a", "No such section a");
    check_pullimap_error("bogus = 1\n[b]\n", "a", "No such section a");
    check_pullimap_error("[a]\ndeliver-method = smtp:127.0.0.1:25\n", "a",
                         "Invalid option deliver-method = smtp:127.0.0.1:25");
    check_pullimap_error("[a]\ndeliver-method = smtp:[bad host]:25\n", "a",
                         "Invalid address bad host");
    check_pullimap_error("[a]\ndeliver-method = smtp:[]:25\n", "a", "Invalid address ");
    check_pullimap_error("[a]\ndeliver-method = smtp:[1.2.3.999]:25\n", "a",
                         "Invalid address 1.2.3.999");
    check_pullimap_error("[a]\ndeliver-method = smtp:[a..b]:25\n", "a", "Invalid address a..b");
    check_pullimap_error("[a]\ndeliver-method = smtp:[::g]:25\n", "a", "Invalid address ::g");
    check_pullimap_error("[a]\ndeliver-starttls = maybe\n", "a",
                         "Invalid option deliver-starttls = maybe");
    check_pullimap_error("[a]\ndeliver-SSL_verify = 1\n", "a",
                         "Invalid option deliver-SSL_verify = 1");
    check_pullimap_error("[a]\ndeliver-auth = PLAIN  LOGIN\n", "a",
                         "Invalid option deliver-auth = PLAIN  LOGIN");
    check_pullimap_error("[a]\ndeliver-SSL_fingerprint = sha256$xyz\n", "a",
                         "Invalid option deliver-SSL_fingerprint = sha256$xyz");
    check_pullimap_error("[a]\ndeliver-method = smtp:[127.0.0.1]:70000\n", "a",
                         "Invalid option deliver-method = smtp:[127.0.0.1]:70000");
    check_pullimap_error("[a]\npurge-after = 1d\n", "a", "Invalid option purge-after = 1d");
}

/* Ours: host names in deliver-method, the delivery security keys. */
static void test_pullimap_deliver(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_pullimap_settings p;
    struct qrt_config *c = NULL;
    struct qrt_config *ic = NULL;

    CHECK_INT_EQ(pull("[a]\n", "a", &p, &c, &err), 0);
    CHECK_INT_EQ(p.deliver_starttls, QRT_STARTTLS_DEFAULT);
    CHECK(p.deliver_auth == NULL && p.deliver_username == NULL && p.deliver_password == NULL);
    CHECK_INT_EQ(p.deliver_ssl_verify, 1);
    CHECK(p.deliver_ssl_cafile == NULL && p.deliver_ssl_hostname == NULL);
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    CHECK_INT_EQ(pull("deliver-method = lmtp:[mail-1.example_x.org]:24\n"
                      "deliver-starttls = Required\ndeliver-auth = SCRAM-SHA-256 PLAIN\n"
                      "deliver-username = u\ndeliver-password = p w\n"
                      "deliver-SSL_verify = no\ndeliver-SSL_CAfile = /ca.pem\n"
                      "deliver-SSL_CApath = /etc/ssl/certs\ndeliver-SSL_hostname =\n"
                      "deliver-SSL_fingerprint = sha256$ab12\n"
                      "deliver-SSL_protocol_min = TLSv1.3\n[a]\n",
                      "a", &p, &c, &err),
                 0);
    CHECK_INT_EQ(p.proto, QRT_DELIVER_LMTP);
    CHECK_STR_EQ(p.deliver_addr, "mail-1.example_x.org");
    CHECK_INT_EQ(p.deliver_ipv6, 0);
    CHECK_UINT_EQ(p.deliver_port, 24);
    CHECK_INT_EQ(p.deliver_starttls, QRT_STARTTLS_REQUIRED);
    CHECK_STR_EQ(p.deliver_auth, "SCRAM-SHA-256 PLAIN");
    CHECK_STR_EQ(p.deliver_username, "u");
    CHECK_STR_EQ(p.deliver_password, "p w");
    CHECK_INT_EQ(p.deliver_ssl_verify, 0);
    CHECK_STR_EQ(p.deliver_ssl_cafile, "/ca.pem");
    CHECK_STR_EQ(p.deliver_ssl_capath, "/etc/ssl/certs");
    CHECK_STR_EQ(p.deliver_ssl_hostname, "");
    CHECK_STR_EQ(p.deliver_ssl_fingerprint, "sha256$ab12");
    CHECK_STR_EQ(p.deliver_ssl_protocol_min, "TLSv1.3");
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    CHECK_INT_EQ(pull("[a]\ndeliver-method = smtp:[localhost]:587\ndeliver-starttls = NO\n", "a",
                      &p, &c, &err),
                 0);
    CHECK_STR_EQ(p.deliver_addr, "localhost");
    CHECK_UINT_EQ(p.deliver_port, 587);
    CHECK_INT_EQ(p.deliver_starttls, QRT_STARTTLS_NO);
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    CHECK_INT_EQ(pull("[a]\ndeliver-method = smtp:[10.1.2.3]:25\ndeliver-starttls = offered\n", "a",
                      &p, &c, &err),
                 0);
    CHECK_STR_EQ(p.deliver_addr, "10.1.2.3");
    CHECK_INT_EQ(p.deliver_starttls, QRT_STARTTLS_OFFERED);
    qrt_pullimap_settings_free(&p);
    qrt_config_free(c);

    /* interimap does not know them. */
    ic = build(QRT_TOOL_INTERIMAP, "deliver-starttls = no\n[local]\n[remote]\n", I_NAMES, 3, &err);
    CHECK(ic == NULL);
    CHECK_STR_EQ(err.msg, "Invalid option deliver-starttls");
    qrt_err_clear(&err);
    ic = build(QRT_TOOL_INTERIMAP, "[local]\ndeliver-SSL_CAfile = x\n[remote]\n", I_NAMES, 3, &err);
    CHECK(ic == NULL);
    CHECK_STR_EQ(err.msg, "Invalid option deliver-SSL_CAfile");
    qrt_err_clear(&err);
}

static char tmpdir[64];

static void run(const char *cmd)
{
    if (system(cmd) != 0)
        printf("# command failed: %s\n", cmd);
}

static void check_resolve(const char *path, const char *expected, const char *msg)
{
    struct qrt_err err = QRT_ERR_INIT;
    char *out = NULL;
    int rc = qrt_xdg_config_file("interimap", path, &out, &err);

    CHECK_INT_EQ(rc, expected ? 0 : -1);
    CHECK_STR_EQ(out, expected);
    CHECK_STR_EQ(err.msg, msg);
    free(out);
    qrt_err_clear(&err);
}

static void test_xdg(void)
{
    char want[256], cmd[256], msg[256];
    struct stat st;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qrt-xdg-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return;
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", tmpdir, 1);
    snprintf(msg, sizeof(msg), "No such directory: %s/.config", tmpdir);
    check_resolve(NULL, NULL, msg);
    check_resolve("/abs/file", "/abs/file", NULL);
    check_resolve("", NULL, "Insecure ");
    check_resolve("a\tb", NULL, "Insecure a\tb");
    snprintf(cmd, sizeof(cmd), "mkdir %s/.config", tmpdir);
    run(cmd);
    snprintf(want, sizeof(want), "%s/.config/interimap/config", tmpdir);
    check_resolve(NULL, want, NULL);
    snprintf(want, sizeof(want), "%s/.config/interimap", tmpdir);
    CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    snprintf(want, sizeof(want), "%s/.config/interimap/sub/x", tmpdir);
    check_resolve("sub/x", want, NULL);
    setenv("XDG_CONFIG_HOME", "", 1);
    check_resolve("c", NULL, "No such directory: ");
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    snprintf(want, sizeof(want), "%s/interimap/c", tmpdir);
    check_resolve("c", want, NULL);
    unsetenv("HOME");
    unsetenv("XDG_CONFIG_HOME");
    check_resolve("c", NULL, "No such directory: /.config");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    run(cmd);
}

static void test_read_file(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_ini *ini = NULL;
    char path[128], msg[256];
    FILE *f;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qrt-ini-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return;
    snprintf(path, sizeof(path), "%s/config", tmpdir);
    CHECK_INT_EQ(qrt_ini_read_file(path, &ini, &err), -1);
    snprintf(msg, sizeof(msg), "No such config file %s", path);
    CHECK_STR_EQ(err.msg, msg);
    CHECK_INT_EQ(qrt_ini_read_file(tmpdir, &ini, &err), -1);
    snprintf(msg, sizeof(msg), "No such config file %s", tmpdir);
    CHECK_STR_EQ(err.msg, msg);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("[local]\nhost = x\n[remote]\noops\n", f);
        fclose(f);
    }
    CHECK_INT_EQ(qrt_ini_read_file(path, &ini, &err), -1);
    snprintf(msg, sizeof(msg),
             "Syntax error in %s line 4: expected \"[section]\" or \"key = value\": oops", path);
    CHECK_STR_EQ(err.msg, msg);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("[local]\nhost = x\n", f);
        fclose(f);
    }
    CHECK_INT_EQ(qrt_ini_read_file(path, &ini, &err), 0);
    CHECK_STR_EQ(get(ini, "local", "host"), "x");
    qrt_ini_free(ini);
    qrt_err_clear(&err);
    unlink(path);
    rmdir(tmpdir);
}

static void test_env(void)
{
    setenv("IFS", "x", 1);
    setenv("CDPATH", "x", 1);
    setenv("ENV", "x", 1);
    setenv("BASH_ENV", "x", 1);
    setenv("PATH", "/nowhere", 1);
    CHECK_INT_EQ(qrt_env_sanitize(), 0);
    CHECK_STR_EQ(getenv("PATH"), "/usr/bin:/bin");
    CHECK(getenv("IFS") == NULL);
    CHECK(getenv("CDPATH") == NULL);
    CHECK(getenv("ENV") == NULL);
    CHECK(getenv("BASH_ENV") == NULL);
}

int main(void)
{
    TAP_RUN(test_ini_syntax);
    TAP_RUN(test_ini_errors);
    TAP_RUN(test_validation);
    TAP_RUN(test_values_and_defaults);
    TAP_RUN(test_pullimap_config);
    TAP_RUN(test_pullimap_deliver);
    TAP_RUN(test_xdg);
    TAP_RUN(test_read_file);
    TAP_RUN(test_env);
    return tap_done();
}
