/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * options.h: the connection options of interimap's two servers, from
 * their configuration sections (interimap.md §6 step 2).
 */
#ifndef IM_OPTIONS_H
#define IM_OPTIONS_H

#include <qresync/conn.h>

#include "log.h"
#include "settings.h"

/**
 * Fill o from the merged section s with qrt_conn_options_fill()
 * (connopts.h): type, host, port, proxy, command, null-stderr, STARTTLS,
 * auth, username, password, compress (already defaulted by settings.c: NO
 * for local, YES for remote), SSL_* keys; TCP keep-alive only in watch
 * mode and not for tunnels; QR_LOG_INFO, QR_LOG_DEBUG (--debug) or
 * QR_LOG_TRACE (--debug --debug: credentials shown). Then interimap's
 * own: ENABLE QRESYNC, the tag prefix tag_prefix, the log callback
 * im_log_conn_cb with side as its payload. Strings point into s.
 */
void im_conn_options(const struct qrt_conn_settings *s, int debug, int watch,
                     const char *tag_prefix, struct im_log_side *side, qr_conn_options *o);

#endif /* IM_OPTIONS_H */
