/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Result codes (qr_strerror, qr_error_is_fatal) and the per-handle error
 * slot (see util/error.h).
 */
#include "config.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

struct code_info {
    int code;
    const char *text;
    int fatal;
};

static const struct code_info code_table[] = {
    {QR_OK, "success", 0},
    {QR_ERROR, "internal error", 1},
    {QR_ENOMEM, "out of memory", 1},
    {QR_EINVAL, "invalid argument", 0},
    {QR_EAGAIN, "operation would block", 0},
    {QR_EOF, "connection closed by peer", 1},
    {QR_EIO, "input/output error", 1},
    {QR_ETLS, "TLS error", 1},
    {QR_ECOMPRESS, "compression stream error", 1},
    {QR_EPROTO, "protocol error", 1},
    {QR_ELIMIT, "size limit exceeded", 0},
    {QR_ENO, "command failed (NO)", 0},
    {QR_EBAD, "command rejected (BAD)", 0},
    {QR_EBYE, "server closed the session (BYE)", 1},
    {QR_EAUTH, "authentication failed", 0},
    {QR_ECAPABILITY, "required capability missing", 0},
    {QR_ECANCELED, "operation canceled", 0},
    {QR_EUIDVALIDITY, "UIDVALIDITY changed", 0},
    {QR_ESTORE, "state database error", 0},
    {QR_ELOCKED, "state database is locked", 0},
    {QR_EUSER, "aborted by callback", 0},
    {QR_PAUSE, "paused", 0},
};

static const struct code_info *code_lookup(int code)
{
    size_t i;

    for (i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
        if (code_table[i].code == code)
            return &code_table[i];
    return NULL;
}

QR_EXTERN const char *qr_strerror(int code)
{
    const struct code_info *info = code_lookup(code);

    return info ? info->text : "unknown error";
}

QR_EXTERN int qr_error_is_fatal(int code)
{
    const struct code_info *info = code_lookup(code);

    return info ? info->fatal : 0;
}

/* Copy src into dst[cap], cutting with "..." if it does not fit. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, cap - 4);
    memcpy(dst + cap - 4, "...", 4);
}

void qr_errslot_clear(qr_errslot *slot)
{
    memset(&slot->pub, 0, sizeof(slot->pub));
    slot->message[0] = '\0';
    slot->pub.code = QR_OK;
    slot->pub.message = slot->message;
}

const qr_error *qr_errslot_get(const qr_errslot *slot)
{
    return &slot->pub;
}

int qr_errslot_vset(qr_errslot *slot, const char *file, int line, const char *func, int code,
                    const char *fmt, va_list ap)
{
    int n;

    qr_errslot_clear(slot);
    slot->pub.code = code;
    n = vsnprintf(slot->message, sizeof(slot->message), fmt, ap);
    if (n < 0)
        copy_cut(slot->message, sizeof(slot->message), qr_strerror(code));
    else if ((size_t)n >= sizeof(slot->message))
        memcpy(slot->message + sizeof(slot->message) - 4, "...", 4);
#if QR_ENABLE_ERROR_ORIGIN
    snprintf(slot->origin, sizeof(slot->origin), "%s:%d (%s)", file, line, func);
    slot->pub.origin = slot->origin;
#else
    (void)file;
    (void)line;
    (void)func;
#endif
    return code;
}

int qr_errslot_set(qr_errslot *slot, const char *file, int line, const char *func, int code,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qr_errslot_vset(slot, file, line, func, code, fmt, ap);
    va_end(ap);
    return code;
}

void qr_errslot_set_errno(qr_errslot *slot, int errnum)
{
    size_t len = strlen(slot->message);
    char tmp[QR_ERR_MESSAGE_MAX];

    slot->pub.sys_errno = errnum;
    snprintf(tmp, sizeof(tmp), "%s%s%s", slot->message, len ? ": " : "", strerror(errnum));
    copy_cut(slot->message, sizeof(slot->message), tmp);
}

void qr_errslot_set_lib_code(qr_errslot *slot, int lib_code)
{
    slot->pub.lib_code = lib_code;
}

void qr_errslot_set_resp(qr_errslot *slot, const char *resp_code, const char *resp_text)
{
    slot->pub.resp_code = NULL;
    slot->pub.resp_text = NULL;
    if (resp_code) {
        copy_cut(slot->resp_code, sizeof(slot->resp_code), resp_code);
        slot->pub.resp_code = slot->resp_code;
    }
    if (resp_text) {
        copy_cut(slot->resp_text, sizeof(slot->resp_text), resp_text);
        slot->pub.resp_text = slot->resp_text;
    }
}
