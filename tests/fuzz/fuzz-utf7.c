/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-utf7: modified UTF-7 in both directions on arbitrary bytes.
 *
 *   - decode never crashes; qr_utf7_valid() agrees with it; when it
 *     succeeds, encoding the result gives back exactly the input (the
 *     decoder accepts only canonical text);
 *   - encode of the bytes read as UTF-8 either fails with QR_EINVAL or
 *     gives valid modified UTF-7 that decodes back to the input.
 * Any violation calls abort() so that libFuzzer records the input.
 */
#include "config.h"

#include <qresync/error.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/dynbuf.h"
#include "util/utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define CAP ((size_t)1 << 22)

static void check_decode(const char *in, size_t len)
{
    qr_dynbuf utf8, back;
    int rc;

    qr_dynbuf_init(&utf8, CAP);
    qr_dynbuf_init(&back, CAP);
    rc = qr_utf7_decode(&utf8, in, len);
    REQUIRE(rc == 0 || rc == QR_EINVAL);
    REQUIRE(qr_utf7_valid(in, len) == (rc == 0));
    if (rc == 0) {
        REQUIRE(qr_utf7_encode(&back, qr_dynbuf_str(&utf8), utf8.len) == 0);
        REQUIRE(back.len == len && memcmp(qr_dynbuf_str(&back), in, len) == 0);
    } else {
        REQUIRE(utf8.len == 0);
    }
    qr_dynbuf_free(&utf8);
    qr_dynbuf_free(&back);
}

static void check_encode(const char *in, size_t len)
{
    qr_dynbuf utf7, back;
    int rc;

    qr_dynbuf_init(&utf7, CAP);
    qr_dynbuf_init(&back, CAP);
    rc = qr_utf7_encode(&utf7, in, len);
    REQUIRE(rc == 0 || rc == QR_EINVAL);
    if (rc == 0) {
        REQUIRE(qr_utf7_valid(qr_dynbuf_str(&utf7), utf7.len));
        REQUIRE(qr_utf7_decode(&back, qr_dynbuf_str(&utf7), utf7.len) == 0);
        REQUIRE(back.len == len && memcmp(qr_dynbuf_str(&back), in, len) == 0);
    } else {
        REQUIRE(utf7.len == 0);
    }
    qr_dynbuf_free(&utf7);
    qr_dynbuf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qr_alloc_fail_at(0, 0);
    check_decode((const char *)data, size);
    check_encode((const char *)data, size);
    return 0;
}
