/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwrite.h: writing a whole line to a descriptor, for the log sinks.
 */
#ifndef QRT_FDWRITE_H
#define QRT_FDWRITE_H

#include <stddef.h>

/**
 * Write the n bytes at p to fd, in as few write(2) calls as the kernel
 * allows (one for a line on a terminal, a pipe or an O_APPEND file),
 * again after EINTR. Errors are dropped on purpose: a closed stderr or a
 * full disk must not stop mail from moving. SIGPIPE must be ignored by
 * the program.
 */
void qrt_write_all(int fd, const void *p, size_t n);

#endif /* QRT_FDWRITE_H */
