/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connopts.h: qr_conn_options from a tool's connection settings (the
 * connection keys of interimap.md §2.5, shared by pullimap).
 */
#ifndef QRT_CONNOPTS_H
#define QRT_CONNOPTS_H

#include <qresync/conn.h>

#include "settings.h"

/**
 * Reset o to the library's defaults and map the keys of s onto it: type,
 * host, port (not for a tunnel), proxy, command, null-stderr, STARTTLS,
 * auth, username, password, compress, every SSL_* key. keepalive asks for
 * TCP keep-alive (never for a tunnel: there is no socket); debug is the
 * number of --debug options: 0 gives QR_LOG_INFO, 1 QR_LOG_DEBUG (wire
 * lines, secrets redacted), 2 or more QR_LOG_TRACE (secrets shown). The
 * caller still sets what is the program's own: enable, tag_prefix, log_fn
 * and log_payload. Strings point into s.
 */
void qrt_conn_options_fill(const struct qrt_conn_settings *s, int debug, int keepalive,
                           qr_conn_options *o);

/** The qr_log_level for a --debug count (see above). */
qr_log_level qrt_debug_level(int debug);

#endif /* QRT_CONNOPTS_H */
