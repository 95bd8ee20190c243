/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qr_version(): the run-time version string (see include/qresync/common.h). */
#include "config.h"

#include <qresync/common.h>

QR_EXTERN const char *qr_version(void)
{
    return QR_PACKAGE_VERSION;
}
