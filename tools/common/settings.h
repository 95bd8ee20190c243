/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * settings.h: each tool's configuration as typed values with the
 * reference's defaults applied (interimap.md §2.5, pullimap.md §2).
 * Strings point into the struct qrt_config, which must outlive them.
 */
#ifndef QRT_SETTINGS_H
#define QRT_SETTINGS_H

#include "config.h"
#include "err.h"

/** Connection settings of one server (imap-client.md §2-§5). */
struct qrt_conn_settings {
    const char *name;             /* section name: "local", "remote", pullimap's SECTION */
    const char *type;             /* "imap", "imaps" or "tunnel" */
    const char *host;             /* host name or [address] */
    const char *port;             /* number or service name, NULL for a tunnel */
    const char *proxy;            /* SOCKS URI or NULL */
    const char *command;          /* tunnel command or NULL */
    const char *auth;             /* space-separated mechanisms */
    const char *username;         /* or NULL */
    const char *password;         /* or NULL */
    const char *list_reference;   /* interimap: reference prefix ("" when unset) */
    int starttls;                 /* STARTTLS (default 1) */
    int compress;                 /* interimap local 0 / remote 1, pullimap 1 */
    int null_stderr;              /* default 0 */
    int ssl_verify;               /* default 1 */
    const char *ssl_protocols;    /* deprecated list or NULL */
    const char *ssl_protocol_min; /* or NULL */
    const char *ssl_protocol_max; /* or NULL */
    const char *ssl_fingerprint;  /* space-separated pins or NULL */
    const char *ssl_cipherlist;   /* or NULL */
    const char *ssl_ciphersuites; /* or NULL (may be "") */
    const char *ssl_hostname;     /* or NULL (may be "": no SNI) */
    const char *ssl_capath;       /* or NULL */
    const char *ssl_cafile;       /* or NULL */
};

/** Fill conn from a merged section; compress_default is the tool's default. */
void qrt_conn_settings_get(const struct qrt_conf_section *s, int compress_default,
                           struct qrt_conn_settings *conn);

/** interimap's settings (default section + [local] + [remote]). */
struct qrt_interimap_settings {
    const char *database;            /* database file, unresolved ("HOST.db" by default) */
    char *database_default;          /* owned storage behind database when defaulted */
    const char *logfile;             /* absolute path or NULL (stderr only) */
    const char *log_prefix;          /* default QRT_LOGPREFIX_DEFAULT */
    const char *list_mailbox;        /* raw value or NULL (meaning "*") */
    const char *list_select_opts;    /* raw value or NULL */
    const char *ignore_mailbox;      /* raw pattern or NULL */
    struct qrt_conn_settings local;  /* [local] */
    struct qrt_conn_settings remote; /* [remote] */
};

/** Build from a configuration made of "_", "local", "remote". */
void qrt_interimap_settings_get(const struct qrt_config *c, struct qrt_interimap_settings *out);
void qrt_interimap_settings_free(struct qrt_interimap_settings *s);

/** pullimap's delivery protocol. */
enum qrt_deliver_proto {
    QRT_DELIVER_SMTP, /* EHLO */
    QRT_DELIVER_LMTP, /* LHLO */
};

/** pullimap's deliver-starttls (ours). */
enum qrt_deliver_starttls {
    QRT_STARTTLS_DEFAULT,  /* unset: "offered", or "no" for a loopback host */
    QRT_STARTTLS_NO,       /* "no": never */
    QRT_STARTTLS_OFFERED,  /* "offered": when the server offers it */
    QRT_STARTTLS_REQUIRED, /* "required": refuse to deliver without it */
};

/** pullimap's settings (default section + [SECTION]). */
struct qrt_pullimap_settings {
    const char *statefile;         /* unresolved; default: the section name */
    char mailbox_inbox[6];         /* storage for "INBOX" when folded */
    const char *mailbox;           /* default INBOX; "inbox" in any case folded */
    enum qrt_deliver_proto proto;  /* from deliver-method */
    char *deliver_addr;            /* owned address or host name, without brackets */
    int deliver_ipv6;              /* the address contains ':' */
    unsigned deliver_port;         /* 1-65535 */
    const char *deliver_ehlo;      /* default "localhost.localdomain" */
    const char *deliver_rcpt;      /* NULL: the effective user's name */
    int purge;                     /* purge-after set and non-empty */
    unsigned long purge_after;     /* days */
    struct qrt_conn_settings conn; /* the server */
    /* Delivery security, our keys (NULL when unset). */
    enum qrt_deliver_starttls deliver_starttls; /* deliver-starttls */
    const char *deliver_auth;                   /* deliver-auth: SASL mechanisms */
    const char *deliver_username;               /* deliver-username */
    const char *deliver_password;               /* deliver-password */
    int deliver_ssl_verify;                     /* deliver-SSL_verify (default 1) */
    const char *deliver_ssl_cafile;             /* deliver-SSL_CAfile */
    const char *deliver_ssl_capath;             /* deliver-SSL_CApath */
    const char *deliver_ssl_hostname;           /* deliver-SSL_hostname */
    const char *deliver_ssl_fingerprint;        /* deliver-SSL_fingerprint */
    const char *deliver_ssl_protocol_min;       /* deliver-SSL_protocol_min */
};

/**
 * Build from a configuration made of the one SECTION. Errors (255):
 * "Invalid address ADDR" (neither a numeric IPv4/IPv6 address nor a host
 * name of letters, digits, '-', '_' and dots; the reference accepted
 * numeric addresses only and found a bad one at the first delivery),
 * "Invalid option deliver-method = V" (port 0 or above 65535), "Invalid
 * option purge-after = V" (more than 1000000 days). On error nothing is
 * left to free.
 */
int qrt_pullimap_settings_get(const struct qrt_config *c, struct qrt_pullimap_settings *out,
                              struct qrt_err *err);
void qrt_pullimap_settings_free(struct qrt_pullimap_settings *s);

#endif /* QRT_SETTINGS_H */
