/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state file of PullIMAP 0.5.7 (spec/pullimap.md §3): unsigned 32-bit
 * big-endian numbers, no header: UIDVALIDITY, UIDNEXT, then the UIDs
 * delivered by a pull that has not finished. Steady state: 8 bytes.
 *
 * The file is opened `O_RDWR | O_DSYNC` (every write is durable when
 * write() returns; no fsync), with `O_CREAT` unless the caller is in idle
 * mode, close-on-exec, and locked with a non-blocking POSIX record lock on
 * the whole file (`fcntl(F_SETLK)`, F_WRLCK), the lock the Perl tool takes,
 * so either excludes the other. flock(2) would not see it. Because POSIX
 * locks belong to the process and die with *any* descriptor of the file
 * being closed, this file is the only place that opens the state file.
 *
 * Reads and writes are positioned (pread/pwrite) so no file offset is
 * shared with anybody; reading 4 bytes at a time mirrors the reference: a
 * read that ends after 1 to 3 bytes means a corrupted file.
 *
 * pl_state_finish() writes UIDNEXT first, then the list that stays, then
 * cuts the file. Each intermediate state is safe: the new UIDNEXT is at
 * least the old one, and writing an ordered subsequence of the list over
 * the list never drops a UID that must stay (the UID written at position i
 * came from a position >= i, so every UID not yet written is still in
 * place).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pull/pull_p.h"
#include "util/alloc.h"

void pl_state_init(pl_state *st)
{
    st->fd = -1;
    st->path = NULL;
}

void pl_state_close(pl_state *st)
{
    if (st->fd >= 0)
        close(st->fd); /* releases the record lock */
    qr_free(st->path);
    pl_state_init(st);
}

static int sys_fail(qr_errslot *err, int code, int e, const char *what, const char *path)
{
    if (path != NULL)
        qr_err_set(err, code, "%s %s", what, path);
    else
        qr_err_set(err, code, "%s", what);
    qr_errslot_set_errno(err, e);
    return code;
}

int pl_state_open(pl_state *st, const char *path, int create, qr_errslot *err)
{
    struct flock fl;
    int flags = O_RDWR | O_DSYNC | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd, e;

    pl_state_init(st);
    st->path = qr_strdup(path);
    if (st->path == NULL)
        return qr_err_set(err, QR_ENOMEM, "out of memory");
    do
        fd = open(path, flags, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        pl_state_close(st);
        return sys_fail(err, QR_EIO, e, "Can't open", path);
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        e = errno;
        close(fd);
        pl_state_close(st);
        return sys_fail(err, QR_ELOCKED, e, "Can't lock", path);
    }
    st->fd = fd;
    return 0;
}

int pl_state_read(const pl_state *st, uint64_t off, uint32_t *out, qr_errslot *err)
{
    unsigned char b[4];
    ssize_t n;

    do
        n = pread(st->fd, b, sizeof(b), (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sys_fail(err, QR_EIO, errno, "read", NULL);
    if (n == 0)
        return 0;
    if (n != 4)
        return qr_err_set(err, QR_EPROTO, "Corrupted state file!");
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 1;
}

/* Write len bytes at off, retrying short writes. */
static int write_all(int fd, const unsigned char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int pl_state_write(const pl_state *st, uint64_t off, const uint32_t *v, size_t n, qr_errslot *err)
{
    unsigned char buf[1024];
    size_t i = 0;

    while (i < n) {
        size_t k = 0;

        for (; i < n && k + 4 <= sizeof(buf); i++, k += 4) {
            buf[k] = (unsigned char)(v[i] >> 24);
            buf[k + 1] = (unsigned char)(v[i] >> 16);
            buf[k + 2] = (unsigned char)(v[i] >> 8);
            buf[k + 3] = (unsigned char)v[i];
        }
        if (write_all(st->fd, buf, k, off) != 0)
            return sys_fail(err, QR_EIO, errno, "write", NULL);
        off += k;
    }
    return 0;
}

int pl_state_finish(const pl_state *st, uint32_t uidnext, const uint32_t *keep, size_t n,
                    qr_errslot *err)
{
    int rc = pl_state_write(st, 4, &uidnext, 1, err);

    if (rc == 0 && n > 0)
        rc = pl_state_write(st, 8, keep, n, err);
    if (rc != 0)
        return rc;
    while (ftruncate(st->fd, (off_t)(8 + 4 * (uint64_t)n)) != 0)
        if (errno != EINTR)
            return sys_fail(err, QR_EIO, errno, "truncate", NULL);
    return 0;
}
