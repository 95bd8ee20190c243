/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ignore.c: ignore-mailbox through PCRE2.
 *
 * The reference compiled the setting with Perl's qr// and matched it with
 * =~, on byte strings. PCRE2 in 8-bit mode without PCRE2_UTF gives the
 * same byte semantics; PCRE2's defaults are Perl's: '$' also matches
 * before a final newline, '.' does not match a newline, case-sensitive,
 * unanchored search. The pattern text is taken verbatim, so "\x00" in the
 * configuration is PCRE2's escape for the NUL byte that stands for the
 * hierarchy delimiter. Perl-only constructs ((?{code}), \N{name}) are
 * refused at compile time.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "ignore.h"
#include "xalloc.h"

/** A compiled ignore-mailbox pattern. */
struct qrt_ignore {
    pcre2_code *code;        /* the compiled pattern, owned */
    pcre2_match_data *match; /* match data sized for code, owned */
    char *pattern;           /* the source text, owned, for messages */
};

int qrt_ignore_compile(const char *pattern, struct qrt_ignore **out, struct qrt_err *err)
{
    struct qrt_ignore *ig;
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &offset, NULL);

    if (re == NULL) {
        PCRE2_UCHAR msg[256];

        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            strcpy((char *)msg, "unknown error");
        return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid ignore-mailbox %s: %s at offset %zu",
                           pattern, (const char *)msg, (size_t)offset);
    }
    ig = qrt_xcalloc(1, sizeof(*ig));
    ig->code = re;
    ig->match = pcre2_match_data_create_from_pattern(re, NULL);
    if (ig->match == NULL)
        qrt_oom();
    ig->pattern = qrt_xstrdup(pattern);
    *out = ig;
    return 0;
}

int qrt_ignore_match(const struct qrt_ignore *ig, const char *name, size_t len, struct qrt_err *err)
{
    int rc = pcre2_match(ig->code, (PCRE2_SPTR)name, len, 0, 0, ig->match, NULL);

    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    {
        PCRE2_UCHAR msg[256];

        if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
            strcpy((char *)msg, "unknown error");
        return qrt_err_set(err, QRT_EXIT_FATAL, "ignore-mailbox %s: %s", ig->pattern,
                           (const char *)msg);
    }
}

void qrt_ignore_free(struct qrt_ignore *ig)
{
    if (ig == NULL)
        return;
    pcre2_match_data_free(ig->match);
    pcre2_code_free(ig->code);
    free(ig->pattern);
    free(ig);
}
