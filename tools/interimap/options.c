/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * options.c: qr_conn_options from a [local]/[remote] section (options.h).
 *
 * The connection keys map one to one through qrt_conn_options_fill()
 * (tools/common/connopts.c, shared with pullimap); what is interimap's
 * own is set here: ENABLE QRESYNC, the tag prefix and the log callback.
 */
#include "options.h"
#include "connopts.h"

void im_conn_options(const struct qrt_conn_settings *s, int debug, int watch,
                     const char *tag_prefix, struct im_log_side *side, qr_conn_options *o)
{
    qrt_conn_options_fill(s, debug, watch, o);
    o->enable = "QRESYNC";
    o->tag_prefix = tag_prefix;
    o->log_fn = im_log_conn_cb;
    o->log_payload = side;
}
