/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The relay's spill file: where a FETCH body waits when the APPEND that
 * will carry it cannot start yet (its flags and internal date come with
 * the end of the FETCH response).
 *
 * The file must never outlive the relay, even when the process dies, so
 * it never has a name once qr_spill_open() returns: O_TMPFILE where the
 * kernel and file system allow it, otherwise mkstemp() and an immediate
 * unlink(). Closing the descriptor frees the space. The folder is the
 * caller's choice, else $TMPDIR, else /tmp. All I/O is plain blocking
 * file I/O (a local file), retried on EINTR and short counts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qresync/error.h>

#include "relay/relay_p.h"

int qr_spill_open(const char *dir)
{
    char path[4096];
    int fd, n;

    if (dir == NULL || dir[0] == '\0')
        dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    n = snprintf(path, sizeof(path), "%s/qresync-spill-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return QR_EIO;
    }
    fd = mkstemp(path);
    if (fd < 0)
        return QR_EIO;
    if (unlink(path) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return QR_EIO;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

int qr_spill_write(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return QR_EIO;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int qr_spill_rewind(int fd)
{
    return lseek(fd, 0, SEEK_SET) == 0 ? 0 : QR_EIO;
}

int qr_spill_read(int fd, void *buf, size_t cap, size_t *got)
{
    ssize_t n;

    *got = 0;
    do
        n = read(fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return QR_EIO;
    *got = (size_t)n;
    return 0;
}
