/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usage.c: the fixed texts of the tools: short usage (after a usage
 * error), long usage (--help), version (--version).
 *
 * The usage texts are byte-for-byte those of the reference (Perl
 * InterIMAP 0.5.7). The version text keeps the reference's first line
 * shape, "PROGRAM version VERSION" with PROGRAM the path the program was
 * invoked as (Perl's $0), and replaces Getopt::Long's second line with
 * our build information: the library and PCRE2 versions.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include <qresync/common.h>

#include "args.h"
#include "xalloc.h"

const char *qrt_usage_short(enum qrt_tool tool)
{
    if (tool == QRT_TOOL_PULLIMAP)
        return "Usage: pullimap [OPTIONS] SECTION\n"
               "Try 'pullimap --help' or consult the manpage for more information.\n";
    return "Usage: interimap [OPTIONS] [COMMAND] [MAILBOX [..]]\n"
           "Try 'interimap --help' or consult the manpage for more information.\n";
}

const char *qrt_usage_long(enum qrt_tool tool)
{
    if (tool == QRT_TOOL_PULLIMAP)
        return "Usage: pullimap [OPTIONS] SECTION\n"
               "Consult the manpage for more information.\n";
    return "Usage: interimap [OPTIONS] [MAILBOX [..]]\n"
           "  or: interimap [OPTIONS] --repair [MAILBOX [..]]\n"
           "  or: interimap [OPTIONS] --delete MAILBOX [..]\n"
           "  or: interimap [OPTIONS] --rename SOURCE DEST\n"
           "Consult the manpage for more information.\n";
}

char *qrt_version_text(const char *argv0, const char *version)
{
    char pcre[64] = "";
    char *text = NULL;

    if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0)
        snprintf(pcre, sizeof(pcre), "unknown");
    if (asprintf(&text, "%s version %s\n(libqresync %s; PCRE2 %s)\n", argv0, version, qr_version(),
                 pcre) < 0)
        qrt_oom();
    return text;
}
