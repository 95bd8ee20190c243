/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Escaping of untrusted text and a strict UTF-8 decoder (see util/text.h).
 */
#include "config.h"

#include "util/text.h"

#include <string.h>

size_t qr_utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
    unsigned long c;
    size_t n, i;

    if (len == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        c = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        c = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

size_t qr_text_escape(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    while (i < len) {
        unsigned long cp = 0;
        size_t n = qr_utf8_decode(s + i, len - i, &cp);
        int escape = n == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
        size_t need = escape ? 4 : n;

        if (o + need + 4 > cap) { /* keep room for "..." and the NUL */
            memcpy(dst + o, "...", 4);
            return o + 3;
        }
        if (escape) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[s[i] >> 4];
            dst[o++] = hex[s[i] & 0xF];
            i++;
        } else {
            memcpy(dst + o, s + i, n);
            o += n;
            i += n;
        }
    }
    dst[o] = '\0';
    return o;
}
