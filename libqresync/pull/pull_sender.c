/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The envelope sender of a pulled message (spec/pullimap.md §4.3 step 1):
 * the first address of the IMAP ENVELOPE's Sender field (servers fill it
 * from From when there is no Sender header).
 *
 * With both a local part L and a domain D:
 *   - L is a dot-string (RFC 5321: atoms of A-Z a-z 0-9 and
 *     ! # $ % & ' * + - / = ? ^ _ ` { | } ~, joined by single dots)
 *     -> L@D;
 *   - else L is printable ASCII (0x20-0x7E, possibly empty) -> "L'"@D
 *     with `"` and `\` backslash-escaped;
 *   - else (8-bit or control bytes) -> "" (the null reverse-path).
 * NIL for either gives "".
 *
 * The reference does not look at D. Here a domain holding a byte outside
 * 0x21-0x7E (a space, CR, LF, NUL, 8-bit) also gives "": the sender goes
 * into `MAIL FROM:<...>` verbatim, and such bytes could only break or
 * inject SMTP commands. IMAP quoted strings cannot carry CR or LF, so
 * Dovecot never shows the difference.
 *
 * Pure code: no I/O, no state.
 */
#include "config.h"

#include <string.h>

#include "pull/pull_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

/* RFC 5321 atext (the reference's RE_ATOM). */
static int atext(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int dot_string(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.' ? s[i + 1] == '.' : !atext(c))
            return 0;
    }
    return 1;
}

static int printable(const char *s, size_t len, unsigned char lo)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < lo || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

char *pl_sender(const char *local, size_t llen, const char *domain, size_t dlen)
{
    qr_dynbuf b;
    size_t i;
    int rc = 0;
    char *out;

    if (local == NULL || domain == NULL || !printable(domain, dlen, 0x21) ||
        !printable(local, llen, 0x20))
        return qr_strdup("");
    qr_dynbuf_init(&b, llen * 2 + dlen + 8);
    if (dot_string(local, llen)) {
        rc = qr_dynbuf_add(&b, local, llen);
    } else {
        rc = qr_dynbuf_addc(&b, '"');
        for (i = 0; i < llen && rc == 0; i++) {
            if (local[i] == '"' || local[i] == '\\')
                rc = qr_dynbuf_addc(&b, '\\');
            if (rc == 0)
                rc = qr_dynbuf_addc(&b, local[i]);
        }
        if (rc == 0)
            rc = qr_dynbuf_addc(&b, '"');
    }
    if (rc == 0)
        rc = qr_dynbuf_addc(&b, '@');
    if (rc == 0)
        rc = qr_dynbuf_add(&b, domain, dlen);
    out = rc == 0 ? qr_memdup0(qr_dynbuf_str(&b), b.len) : NULL;
    qr_dynbuf_free(&b);
    return out;
}

char *pl_envelope_sender(const qr_resp_envelope *e)
{
    const qr_resp_address *a;

    if (e == NULL || e->sender.count == 0)
        return qr_strdup("");
    a = &e->sender.items[0];
    return pl_sender(a->mailbox.ptr, a->mailbox.len, a->host.ptr, a->host.len);
}
