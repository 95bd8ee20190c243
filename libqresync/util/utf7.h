/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox
 * names when UTF8=ACCEPT is not enabled.
 *
 * Printable US-ASCII other than '&' (0x20-0x25, 0x27-0x7e) stands for
 * itself; '&' is written "&-"; every other character is written as UTF-16
 * in a modified base64 (',' in place of '/', no '=' padding) between '&'
 * and '-'. Both directions are strict and canonical: the encoder produces
 * the one shortest form, and the decoder accepts only that form, so
 * decode(x) succeeds exactly when encode(decode(x)) == x. This matters to
 * a synchronizer: two spellings of one name would otherwise map to one
 * local folder.
 */
#ifndef QR_UTIL_UTF7_H
#define QR_UTIL_UTF7_H

#include <stddef.h>

#include "util/dynbuf.h"

/*
 * Encode UTF-8 text as modified UTF-7 and append it to out. Every maximal
 * run of characters that cannot stand for themselves goes in one shift.
 * Returns 0; QR_EINVAL when utf8 is not valid UTF-8 (qr_utf8_decode) or
 * holds U+0000; QR_ELIMIT or QR_ENOMEM from the dynbuf. On error out is
 * unchanged.
 */
int qr_utf7_encode(qr_dynbuf *out, const char *utf8, size_t len);

/*
 * Decode modified UTF-7 and append the UTF-8 text to out. Returns 0;
 * QR_EINVAL when mutf7 is not in the canonical form described above:
 *   - a byte outside 0x20-0x7e;
 *   - '&' not closed by '-' (at the end, or before a non-base64 byte);
 *   - a base64 byte outside [A-Za-z0-9+,] (so '/' and '=' are invalid);
 *   - a shift that encodes a printable ASCII character (0x20-0x7e, '&'
 *     included), which must be written directly;
 *   - a shift directly after another one ("&AOQ-&APY-" must be "&AOQA9g-");
 *   - 6 or more leftover bits at the end of a shift, or non-zero leftover
 *     bits;
 *   - an encoded U+0000;
 *   - a surrogate that is not part of a high-low pair inside one shift.
 * "&-" is '&'. QR_ELIMIT or QR_ENOMEM from the dynbuf. On error out is
 * unchanged.
 */
int qr_utf7_decode(qr_dynbuf *out, const char *mutf7, size_t len);

/* 1 if qr_utf7_decode() would accept mutf7, 0 if not. Allocates nothing. */
int qr_utf7_valid(const char *mutf7, size_t len);

#endif /* QR_UTIL_UTF7_H */
