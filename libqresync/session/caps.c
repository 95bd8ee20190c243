/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capabilities of a session.
 *
 * The server's list is kept twice: as the raw names it sent (for lookups by
 * name such as "AUTH=PLAIN", and for callers who want the list) and as a
 * bitmask over the qr_cap enum, built with the string table below (isync's
 * cap_list idea), for the cheap checks the queue and the helpers make.
 *
 * Rules:
 *  - every CAPABILITY source (an untagged `* CAPABILITY`, a `[CAPABILITY]`
 *    code in the greeting, a tagged reply or an untagged status) replaces
 *    the whole list (spec §4.4);
 *  - names are compared case-insensitively (the reference's case-sensitive
 *    STARTTLS/LOGINDISABLED quirk is not copied);
 *  - the LITERAL+ literal mode follows the list whatever its source (the
 *    reference's "only from a code" quirk is not copied either);
 *  - qr_session_caps_invalidate() forgets the list (after STARTTLS or
 *    authentication); until a new list arrives nothing is "known" and
 *    qr_session_require() fails.
 * If storing a new list runs out of memory the list becomes unknown and the
 * caller (the router) fails the session with QR_ENOMEM.
 */
#include "config.h"

#include <string.h>

#include "session/session_p.h"
#include "util/alloc.h"

static const char *const cap_table[QR_CAP_COUNT] = {
    "IMAP4rev1", "IMAP4rev2",     "LITERAL+",      "LITERAL-",    "UIDPLUS",     "CONDSTORE",
    "QRESYNC",   "ENABLE",        "LIST-EXTENDED", "LIST-STATUS", "MULTIAPPEND", "COMPRESS=DEFLATE",
    "STARTTLS",  "LOGINDISABLED", "SASL-IR",       "IDLE",        "NAMESPACE",   "MOVE",
    "ESEARCH",   "BINARY",        "UNSELECT",      "ID",          "UTF8=ACCEPT", "SPECIAL-USE",
    "NOTIFY",
};

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int name_eq(const char *a, size_t alen, const char *b)
{
    size_t i;

    for (i = 0; i < alen; i++)
        if (b[i] == '\0' || ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    return b[alen] == '\0';
}

static int cap_lookup(const char *name, size_t len)
{
    int i;

    for (i = 0; i < QR_CAP_COUNT; i++)
        if (name_eq(name, len, cap_table[i]))
            return i;
    return -1;
}

void qr_caps_clear(qr_session *s)
{
    size_t i;

    for (i = 0; i < s->cap_count; i++)
        qr_free(s->cap_names[i]);
    qr_free(s->cap_names);
    s->cap_names = NULL;
    s->cap_count = 0;
    s->caps = 0;
    s->caps_known = 0;
}

int qr_caps_set(qr_session *s, const qr_resp_strlist *list)
{
    size_t i;
    char **names = NULL;

    qr_caps_clear(s);
    if (list->count > 0) {
        names = qr_calloc(list->count, sizeof(*names));
        if (names == NULL)
            return QR_ENOMEM;
    }
    for (i = 0; i < list->count; i++) {
        const qr_resp_str *it = &list->items[i];
        int bit;

        names[i] = qr_memdup0(it->ptr ? it->ptr : "", it->len);
        if (names[i] == NULL) {
            while (i > 0)
                qr_free(names[--i]);
            qr_free(names);
            s->caps = 0;
            return QR_ENOMEM;
        }
        bit = it->ptr ? cap_lookup(it->ptr, it->len) : -1;
        if (bit >= 0)
            s->caps |= (uint64_t)1 << bit;
    }
    s->cap_names = names;
    s->cap_count = list->count;
    s->caps_known = 1;
    return 0;
}

QR_EXTERN const char *qr_cap_name(qr_cap cap)
{
    if ((int)cap < 0 || (int)cap >= QR_CAP_COUNT)
        return "";
    return cap_table[cap];
}

QR_EXTERN int qr_session_caps_known(const qr_session *s)
{
    return s != NULL && s->caps_known;
}

QR_EXTERN int qr_session_has_cap(const qr_session *s, qr_cap cap)
{
    if (s == NULL || (int)cap < 0 || (int)cap >= QR_CAP_COUNT)
        return 0;
    return (s->caps >> cap) & 1u ? 1 : 0;
}

QR_EXTERN int qr_session_has_cap_name(const qr_session *s, const char *name)
{
    size_t i;

    if (s == NULL || name == NULL)
        return 0;
    for (i = 0; i < s->cap_count; i++)
        if (name_eq(name, strlen(name), s->cap_names[i]))
            return 1;
    return 0;
}

QR_EXTERN const char *const *qr_session_cap_list(const qr_session *s, size_t *count)
{
    if (count != NULL)
        *count = s != NULL ? s->cap_count : 0;
    if (s == NULL || s->cap_count == 0)
        return NULL;
    return (const char *const *)s->cap_names;
}

QR_EXTERN void qr_session_caps_invalidate(qr_session *s)
{
    if (s != NULL)
        qr_caps_clear(s);
}

QR_EXTERN int qr_session_require(qr_session *s, const qr_cap *caps, size_t n)
{
    char missing[512];
    size_t i, used = 0;

    if (s == NULL || (caps == NULL && n > 0))
        return QR_EINVAL;
    missing[0] = '\0';
    for (i = 0; i < n; i++) {
        const char *name;
        size_t len;

        if ((int)caps[i] < 0 || (int)caps[i] >= QR_CAP_COUNT)
            return qr_err_set(&s->err, QR_EINVAL, "unknown capability %d", (int)caps[i]);
        if (s->caps_known && qr_session_has_cap(s, caps[i]))
            continue;
        name = cap_table[caps[i]];
        len = strlen(name);
        if (used + len + 2 < sizeof(missing)) {
            if (used)
                missing[used++] = ' ';
            memcpy(missing + used, name, len + 1);
            used += len;
        }
    }
    if (used == 0)
        return 0;
    if (!s->caps_known)
        return qr_err_set(&s->err, QR_ECAPABILITY, "capabilities not known yet; needed: %s",
                          missing);
    return qr_err_set(&s->err, QR_ECAPABILITY, "server lacks %s", missing);
}
