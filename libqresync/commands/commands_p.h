/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private helpers shared by the typed commands (libqresync/commands/):
 * copying borrowed strings and string lists out of parser events, decoding
 * mailbox names, submitting a built command (freeing it on failure), and
 * keeping a copy of a command's outcome for commands that complete after
 * several tagged responses (the LIST STATUS fallback, pipelined APPENDs).
 */
#ifndef QR_COMMANDS_P_H
#define QR_COMMANDS_P_H

#include <qresync/commands.h>

/* A copy of a qr_session_result that outlives its callback. */
typedef struct qr_cmds_outcome {
    int status;        /* as qr_session_result.status */
    int set;           /* 1 once a result was stored */
    char *tag;         /* owned copy, or NULL */
    char *text;        /* owned copy, or NULL */
    size_t text_len;   /* bytes of text */
    qr_resp_code code; /* copy of the code's kind and number only */
    int has_code;      /* 1 when the original had a code pointer */
} qr_cmds_outcome;

/* Owned copy of a borrowed string (NULL ptr gives NULL); NULL + *rc on ENOMEM. */
char *qr_cmds_strdup(const qr_resp_str *str, int *rc);
/* Copy a string list to an owned NULL-terminated array; 0 or QR_ENOMEM. */
int qr_cmds_strv(const qr_resp_strlist *l, char ***out, size_t *n);
/* Free an array made by qr_cmds_strv() (NULL allowed). */
void qr_cmds_strv_free(char **v, size_t n);
/* The mailbox name decoded from modified UTF-7 (raw when invalid), INBOX
 * normalised; owned; NULL on ENOMEM. */
char *qr_cmds_decode_name(const char *raw, size_t len);
/* Submit; on failure free cmd and return the code. */
int qr_cmds_submit(qr_session *s, qr_cmd *cmd, uint32_t claims, const qr_session_cmd_opts *base,
                   qr_session_done_fn done, qr_session_untagged_fn untagged, void *payload);
/* Keep the first failure (or the first result) of res in o; 0 or QR_ENOMEM. */
int qr_cmds_outcome_keep(qr_cmds_outcome *o, const qr_session_result *res);
/* Fill a result view of o. */
void qr_cmds_outcome_view(const qr_cmds_outcome *o, qr_session_result *res);
/* Free what o holds. */
void qr_cmds_outcome_dispose(qr_cmds_outcome *o);
/* Copy the STATUS items of a response into st (OR-ing present bits). */
void qr_cmds_status_copy(qr_mailbox_status *st, const qr_resp_status *r);
/* Append ` (ITEMS)` for QR_STATUS_* bits; QR_EINVAL for none or unknown. */
int qr_cmds_add_status_items(qr_cmd *cmd, unsigned int items);

#endif /* QR_COMMANDS_P_H */
