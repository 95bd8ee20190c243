/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keys.c: the table of configuration keys and their value syntax.
 *
 * Each check is the reference's validating regular expression written as
 * code (the regex is quoted above each function). The table says which
 * tool accepts which key: the connection keys are common; interimap adds
 * its program keys (database, logfile, log-prefix, list-*,
 * ignore-mailbox) and pullimap its own (statefile, mailbox, deliver-*,
 * purge-after, and, ours, the deliver-starttls, deliver-auth,
 * deliver-username, deliver-password and deliver-SSL_* keys of the
 * delivery connection). A key of the other tool is unknown ("Invalid
 * option K").
 */
#include <string.h>
#include <strings.h>

#include "keys.h"

#define B_I (1u << QRT_TOOL_INTERIMAP)
#define B_P (1u << QRT_TOOL_PULLIMAP)

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of a valid UTF-8 sequence at p that is not a C1 control, else 0. */
static size_t utf8_noncontrol(const unsigned char *p)
{
    unsigned cp, n, i;

    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2, cp = p[0] & 0x1Fu;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, cp = p[0] & 0x0Fu;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, cp = p[0] & 0x07u;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return n;
}

int qrt_printable(const char *value, int allow_empty)
{
    const unsigned char *p = (const unsigned char *)value;
    int latin1 = 1, utf8 = 1;

    if (*p == '\0')
        return allow_empty;
    for (const unsigned char *q = p; *q != '\0'; q++)
        if (*q < 0x20 || (*q >= 0x7F && *q <= 0x9F))
            latin1 = 0;
    while (*p != '\0' && utf8) {
        size_t n = *p < 0x80 ? 1 : utf8_noncontrol(p);

        if (n == 0 || *p < 0x20 || *p == 0x7F)
            utf8 = 0;
        p += n ? n : 1;
    }
    return latin1 || utf8;
}

/* \A(\P{Control}+)\z */
static int chk_print1(const char *v)
{
    return qrt_printable(v, 0);
}

/* \A(\P{Control}*)\z */
static int chk_print0(const char *v)
{
    return qrt_printable(v, 1);
}

/* \A([\x01-\x7F]+)\z */
static int chk_ascii1(const char *v)
{
    for (const char *p = v; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x80)
            return 0;
    return *v != '\0';
}

/* [\x01-\x09\x0B\x0C\x0E-\x7F] */
static int text_only(const char *v)
{
    for (const char *p = v; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x80 || *p == '\r' || *p == '\n')
            return 0;
    return 1;
}

static int chk_text0(const char *v)
{
    return text_only(v);
}

static int chk_text1(const char *v)
{
    return *v != '\0' && text_only(v);
}

/* \A(imaps?|tunnel)\z */
static int chk_type(const char *v)
{
    return !strcmp(v, "imap") || !strcmp(v, "imaps") || !strcmp(v, "tunnel");
}

/* \A(YES|NO)\z/i */
static int chk_bool(const char *v)
{
    return !strcasecmp(v, "YES") || !strcasecmp(v, "NO");
}

/* RFC 3501 ATOM-CHAR: [\x21\x23\x24\x26\x27\x2B-\x5B\x5E-\x7A\x7C-\x7E] */
static int is_atom_char(char c)
{
    return c == 0x21 || c == 0x23 || c == 0x24 || c == 0x26 || c == 0x27 ||
           (c >= 0x2B && c <= 0x5B) || (c >= 0x5E && c <= 0x7A) || (c >= 0x7C && c <= 0x7E);
}

/* Words separated by single spaces, each checked by word(); no empty word. */
static int words(const char *v, int (*word)(const char *b, size_t n))
{
    const char *b = v;

    for (;;) {
        const char *sp = strchr(b, ' ');
        size_t n = sp ? (size_t)(sp - b) : strlen(b);

        if (n == 0 || !word(b, n))
            return 0;
        if (sp == NULL)
            return 1;
        b = sp + 1;
    }
}

static int atom_word(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_atom_char(b[i]))
            return 0;
    return 1;
}

/* \A($RE_ATOM_CHAR+(?: $RE_ATOM_CHAR+)*)\z */
static int chk_auth(const char *v)
{
    return words(v, atom_word);
}

/* !?(?:SSLv[23]|TLSv1|TLSv1\.[0-3]) */
static int proto_word(const char *b, size_t n)
{
    static const char *const names[] = {"SSLv2",   "SSLv3",   "TLSv1",  "TLSv1.0",
                                        "TLSv1.1", "TLSv1.2", "TLSv1.3"};

    if (n > 0 && *b == '!')
        b++, n--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], b, n) == 0)
            return 1;
    return 0;
}

static int chk_protocols(const char *v)
{
    return words(v, proto_word);
}

/* (?:[A-Za-z0-9]+\$)?\p{AHex}+ */
static int fpr_word(const char *b, size_t n)
{
    const char *dollar = memchr(b, '$', n);
    size_t i = 0;

    if (dollar != NULL) {
        if (dollar == b)
            return 0;
        for (; b + i < dollar; i++)
            if (!is_alnum(b[i]))
                return 0;
        i++;
    }
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (!is_hex(b[i]))
            return 0;
    return 1;
}

static int chk_fingerprint(const char *v)
{
    return words(v, fpr_word);
}

/* \A(\/\P{Control}+)\z */
static int chk_abspath(const char *v)
{
    return v[0] == '/' && qrt_printable(v + 1, 0);
}

/* \A([\x20\x21\x23\x24\x26\x27\x2B-\x5B\x5E-\x7A\x7C-\x7E]*)\z */
static int chk_select_opts(const char *v)
{
    for (const char *p = v; *p != '\0'; p++)
        if (*p != ' ' && !is_atom_char(*p))
            return 0;
    return 1;
}

/* \A([ls]mtp:\[.*\]:\d+)\z */
static int chk_deliver_method(const char *v)
{
    size_t n = strlen(v), d = n;

    if (n < 6 || (v[0] != 'l' && v[0] != 's') || strncmp(v + 1, "mtp:[", 5) != 0)
        return 0;
    while (d > 0 && is_digit(v[d - 1]))
        d--;
    return d < n && d >= 8 && v[d - 1] == ':' && v[d - 2] == ']';
}

/* Ours: deliver-starttls = no | offered | required, in any case. */
static int chk_starttls_mode(const char *v)
{
    return !strcasecmp(v, "no") || !strcasecmp(v, "offered") || !strcasecmp(v, "required");
}

/* \A(\d*)\z */
static int chk_digits0(const char *v)
{
    for (const char *p = v; *p != '\0'; p++)
        if (!is_digit(*p))
            return 0;
    return 1;
}

static const struct qrt_key keys[] = {
    {"host", chk_print1, B_I | B_P, 0},
    {"port", chk_print1, B_I | B_P, 0},
    {"proxy", chk_print1, B_I | B_P, 0},
    {"type", chk_type, B_I | B_P, 0},
    {"STARTTLS", chk_bool, B_I | B_P, 1},
    {"username", chk_ascii1, B_I | B_P, 0},
    {"password", chk_ascii1, B_I | B_P, 0},
    {"auth", chk_auth, B_I | B_P, 0},
    {"command", chk_print1, B_I | B_P, 0},
    {"null-stderr", chk_bool, B_I | B_P, 1},
    {"compress", chk_bool, B_I | B_P, 1},
    {"SSL_protocols", chk_protocols, B_I | B_P, 0},
    {"SSL_protocol_min", chk_print1, B_I | B_P, 0},
    {"SSL_protocol_max", chk_print1, B_I | B_P, 0},
    {"SSL_fingerprint", chk_fingerprint, B_I | B_P, 0},
    {"SSL_cipherlist", chk_print1, B_I | B_P, 0},
    {"SSL_ciphersuites", chk_print0, B_I | B_P, 0},
    {"SSL_hostname", chk_print0, B_I | B_P, 0},
    {"SSL_verify", chk_bool, B_I | B_P, 1},
    {"SSL_CApath", chk_print1, B_I | B_P, 0},
    {"SSL_CAfile", chk_print1, B_I | B_P, 0},
    {"database", chk_print1, B_I, 0},
    {"logfile", chk_abspath, B_I, 0},
    {"log-prefix", chk_print0, B_I, 0},
    {"list-reference", chk_text0, B_I, 0},
    {"list-mailbox", chk_text1, B_I, 0},
    {"list-select-opts", chk_select_opts, B_I, 0},
    {"ignore-mailbox", chk_text1, B_I, 0},
    {"statefile", chk_print1, B_P, 0},
    {"mailbox", chk_ascii1, B_P, 0},
    {"deliver-method", chk_deliver_method, B_P, 0},
    {"deliver-ehlo", chk_print1, B_P, 0},
    {"deliver-rcpt", chk_print1, B_P, 0},
    {"purge-after", chk_digits0, B_P, 0},
    /* pullimap, ours: the delivery connection's security (docs/pullimap.1). */
    {"deliver-starttls", chk_starttls_mode, B_P, 0},
    {"deliver-auth", chk_auth, B_P, 0},
    {"deliver-username", chk_ascii1, B_P, 0},
    {"deliver-password", chk_ascii1, B_P, 0},
    {"deliver-SSL_verify", chk_bool, B_P, 1},
    {"deliver-SSL_CAfile", chk_print1, B_P, 0},
    {"deliver-SSL_CApath", chk_print1, B_P, 0},
    {"deliver-SSL_hostname", chk_print0, B_P, 0},
    {"deliver-SSL_fingerprint", chk_fingerprint, B_P, 0},
    {"deliver-SSL_protocol_min", chk_print1, B_P, 0},
};

const struct qrt_key *qrt_key_find(enum qrt_tool tool, const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0 && (keys[i].tools & (1u << tool)))
            return &keys[i];
    return NULL;
}
