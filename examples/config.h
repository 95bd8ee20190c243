/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h: the examples' tiny reader of interimap-style configuration
 * files, mapped onto qr_conn_options.
 *
 *     [remote]
 *     type = imaps
 *     host = imap.example.org
 *     username = me
 *     password = secret
 *
 * One `key = value` per line under `[section]`; lines starting with `#`
 * or `;` are comments. The keys are interimap's (docs/connection-options.md):
 * type host port proxy command null-stderr STARTTLS auth username password
 * compress SSL_verify SSL_CAfile SSL_CApath SSL_hostname SSL_fingerprint
 * SSL_protocol_min SSL_protocol_max SSL_cipherlist SSL_ciphersuites.
 */
#ifndef QR_EXAMPLES_CONFIG_H
#define QR_EXAMPLES_CONFIG_H

#include <qresync/qresync.h>

/* The values of one section; the strings stay owned by it. */
typedef struct ex_config {
    char *keys[32];
    char *values[32];
    int n;
} ex_config;

/* Read `section` of `path` into `cfg` and fill `o` (first set to the
 * defaults) from it. Returns 0, or -1 after printing one line to stderr. */
int ex_config_load(ex_config *cfg, const char *path, const char *section, qr_conn_options *o);

/* Free the strings of a section read by ex_config_load(). */
void ex_config_free(ex_config *cfg);

#endif
