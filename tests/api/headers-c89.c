/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Compiled with -std=c89 -pedantic-errors: the public headers stay C89. */
#include <qresync/qresync.h>

int main(void)
{
    qr_buf b = QR_BUF_INIT;
    qr_log_level level = QR_LOG_INFO;

    (void)level;
    qr_buf_dispose(&b);
    return qr_version()[0] == '\0';
}
