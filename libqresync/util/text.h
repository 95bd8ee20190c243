/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making untrusted text safe for a log or a terminal.
 *
 * Server text ([ALERT] messages, NO/BAD texts, mailbox names) may hold
 * control characters, terminal escape sequences or invalid UTF-8. Before it
 * reaches a log callback it is escaped: C0 controls, DEL, the C1 range
 * U+0080-U+009F and every byte that is not part of a valid, shortest-form
 * UTF-8 sequence become `\xHH` (one escape per byte); everything else,
 * including valid non-ASCII UTF-8, is kept as it is.
 */
#ifndef QR_UTIL_TEXT_H
#define QR_UTIL_TEXT_H

#include <stddef.h>

/*
 * Escape src[0..len) into dst[0..cap) as described above and NUL-terminate.
 * Never writes past cap (cap >= 4); output that does not fit is cut and ends
 * with "...". Returns the length written, not counting the NUL.
 */
size_t qr_text_escape(char *dst, size_t cap, const char *src, size_t len);

/*
 * Length of the valid UTF-8 sequence starting at s (at most len bytes), or
 * 0 if it is invalid: truncated, overlong, a surrogate, or above U+10FFFF.
 * *cp receives the code point when the sequence is valid.
 */
size_t qr_utf8_decode(const unsigned char *s, size_t len, unsigned long *cp);

#endif /* QR_UTIL_TEXT_H */
