/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file common.h
 * @brief Export and linkage macros, and the run-time version.
 *
 * Every public header includes this one. Public declarations are wrapped in
 * QR_BEGIN_DECLS / QR_END_DECLS so the headers can be used from C++, and they
 * stay valid C89 so that old compilers can include them.
 */
#ifndef QRESYNC_COMMON_H
#define QRESYNC_COMMON_H

#include <qresync/version.h>

#ifdef __cplusplus
#define QR_BEGIN_DECLS extern "C" {
#define QR_END_DECLS   }
#else
#define QR_BEGIN_DECLS
#define QR_END_DECLS
#endif

/*
 * QR_EXTERN marks a function exported by libqresync.so. The library is built
 * with hidden visibility by default and QR_BUILDING_LIBQRESYNC defined, so
 * only what carries QR_EXTERN (and is listed in libqresync.sym) is exported.
 */
#if defined(QR_BUILDING_LIBQRESYNC) && defined(__GNUC__)
#define QR_EXTERN __attribute__((visibility("default")))
#else
#define QR_EXTERN
#endif

/* QR_PRINTF(f, a): printf-style format check on argument f, varargs at a. */
#if defined(__GNUC__)
#define QR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define QR_PRINTF(f, a)
#endif

QR_BEGIN_DECLS

/**
 * The version of the library the program runs against.
 *
 * @return A static string such as "0.1.0"; compare it with
 *         QR_VERSION_STRING, the version of the headers it was built with.
 *         Never NULL.
 *
 * **Ownership:** the string is static; do not free it.
 * @since 0.1
 */
QR_EXTERN const char *qr_version(void);

QR_END_DECLS

#endif /* QRESYNC_COMMON_H */
