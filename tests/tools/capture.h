/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * capture.h: what a log sink wrote, for the tools' tests. The sink writes
 * to an anonymous file through its descriptor; the test reads it back
 * and empties it with capture_take() / CHECK_CAPTURED().
 */
#ifndef QRT_TEST_CAPTURE_H
#define QRT_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../tap.h"

/* A file with no name, open for reading and writing; -1 on failure. */
static inline int capture_fd(void)
{
    char path[] = "/tmp/qrt-capture-XXXXXX";
    int fd = mkstemp(path);

    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Everything written to fd so far (owned, "" when empty); fd is emptied. */
static inline char *capture_take(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, size > 0 ? (size_t)size + 1 : 1);

    if (text == NULL)
        return NULL;
    if (size > 0 && pread(fd, text, (size_t)size, 0) != size)
        text[0] = '\0';
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        text[0] = '\0';
    return text;
}

/* Check that fd holds exactly `want`, and empty it. */
#define CHECK_CAPTURED(fd, want)                                                                   \
    do {                                                                                           \
        char *captured_ = capture_take(fd);                                                        \
        CHECK_STR_EQ(captured_, want);                                                             \
        free(captured_);                                                                           \
    } while (0)

#endif /* QRT_TEST_CAPTURE_H */
