/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interface of the relay's spill file (spill.c): a temporary
 * file that never has a name on disk after spill_open() returns, written
 * sequentially, then read back from the start.
 */
#ifndef QR_RELAY_P_H
#define QR_RELAY_P_H

#include <stddef.h>

/* Open an unnamed read-write file in dir (NULL: $TMPDIR, else /tmp):
 * O_TMPFILE, or mkstemp() then unlink(). The fd, or QR_EIO (errno kept). */
int qr_spill_open(const char *dir);
/* Write all len bytes: 0 or QR_EIO. */
int qr_spill_write(int fd, const char *data, size_t len);
/* Back to the start for reading: 0 or QR_EIO. */
int qr_spill_rewind(int fd);
/* Read up to cap bytes: the count (0 at the end) or QR_EIO. */
int qr_spill_read(int fd, void *buf, size_t cap, size_t *got);

#endif /* QR_RELAY_P_H */
