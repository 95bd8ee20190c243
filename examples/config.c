/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.c: see config.h. Kept short on purpose; not a full INI parser. */
#define _POSIX_C_SOURCE 200809L /* strdup, strcasecmp */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Remove leading and trailing blanks in place. */
static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* interimap's booleans: YES/NO (also 1/0, true/false, on/off). */
static int boolean(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcmp(v, "0") || !strcasecmp(v, "false") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* The string options: config key -> field of qr_conn_options. */
static const struct {
    const char *key;
    size_t offset;
} strings[] = {
    {"host", offsetof(qr_conn_options, host)},
    {"port", offsetof(qr_conn_options, port)},
    {"proxy", offsetof(qr_conn_options, proxy)},
    {"command", offsetof(qr_conn_options, command)},
    {"auth", offsetof(qr_conn_options, auth)},
    {"username", offsetof(qr_conn_options, username)},
    {"password", offsetof(qr_conn_options, password)},
    {"SSL_CAfile", offsetof(qr_conn_options, ssl_cafile)},
    {"SSL_CApath", offsetof(qr_conn_options, ssl_capath)},
    {"SSL_hostname", offsetof(qr_conn_options, ssl_hostname)},
    {"SSL_fingerprint", offsetof(qr_conn_options, ssl_fingerprint)},
    {"SSL_protocol_min", offsetof(qr_conn_options, ssl_protocol_min)},
    {"SSL_protocol_max", offsetof(qr_conn_options, ssl_protocol_max)},
    {"SSL_cipherlist", offsetof(qr_conn_options, ssl_cipherlist)},
    {"SSL_ciphersuites", offsetof(qr_conn_options, ssl_ciphersuites)},
};

/* Apply one key to the options. */
static int apply(qr_conn_options *o, const char *key, const char *value)
{
    size_t i;

    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (strcmp(key, strings[i].key) == 0) {
            *(const char **)(void *)((char *)o + strings[i].offset) = value;
            return 0;
        }
    if (strcmp(key, "type") == 0) {
        if (strcmp(value, "imaps") == 0)
            o->type = QR_CONN_IMAPS;
        else if (strcmp(value, "imap") == 0)
            o->type = QR_CONN_IMAP;
        else if (strcmp(value, "tunnel") == 0)
            o->type = QR_CONN_TUNNEL;
        else
            return -1;
        return 0;
    }
    if (strcmp(key, "STARTTLS") == 0)
        return boolean(value, &o->starttls);
    if (strcmp(key, "null-stderr") == 0)
        return boolean(value, &o->null_stderr);
    if (strcmp(key, "compress") == 0)
        return boolean(value, &o->compress);
    if (strcmp(key, "SSL_verify") == 0)
        return boolean(value, &o->ssl_verify);
    return -1; /* unknown key: better an error than a silently ignored typo */
}

int ex_config_load(ex_config *cfg, const char *path, const char *section, qr_conn_options *o)
{
    char line[4096];
    int in_section = 0, found = 0, lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");

    memset(cfg, 0, sizeof(*cfg));
    qr_conn_options_init(o, QR_CONN_OPTIONS_VERSION);
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *s = trim(line), *eq;

        lineno++;
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');

            if (end != NULL)
                *end = '\0';
            in_section = strcmp(s + 1, section) == 0;
            found |= in_section;
            continue;
        }
        if (!in_section)
            continue;
        eq = strchr(s, '=');
        if (eq == NULL || cfg->n == 32) {
            fprintf(stderr, "%s:%d: expected key = value\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        cfg->keys[cfg->n] = strdup(trim(s));
        cfg->values[cfg->n] = strdup(trim(eq + 1));
        if (cfg->keys[cfg->n] == NULL || cfg->values[cfg->n] == NULL) {
            fprintf(stderr, "out of memory\n");
            rc = -1;
        }
        cfg->n++;
    }
    fclose(f);
    if (rc == 0 && !found) {
        fprintf(stderr, "%s: no section [%s]\n", path, section);
        rc = -1;
    }
    /* The options point into cfg: keep it until qr_conn_new() copied them. */
    for (int i = 0; rc == 0 && i < cfg->n; i++)
        if (apply(o, cfg->keys[i], cfg->values[i]) != 0) {
            fprintf(stderr, "%s: [%s] %s: unknown key or bad value\n", path, section, cfg->keys[i]);
            rc = -1;
        }
    if (rc != 0)
        ex_config_free(cfg);
    return rc;
}

void ex_config_free(ex_config *cfg)
{
    for (int i = 0; i < cfg->n; i++) {
        free(cfg->keys[i]);
        free(cfg->values[i]);
    }
    cfg->n = 0;
}
