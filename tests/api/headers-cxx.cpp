// SPDX-License-Identifier: LGPL-2.1-or-later
// Compiled as C++: the public headers have C linkage and no C-only syntax.
#include <qresync/qresync.h>

int main()
{
    qr_buf b = QR_BUF_INIT;
    qr_buf_dispose(&b);
    return qr_strerror(QR_OK)[0] == '\0';
}
