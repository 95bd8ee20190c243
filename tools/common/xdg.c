/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xdg.c: XDG base-directory resolution of the tools' files.
 *
 * Same steps and messages as the reference's xdg_basedir (interimap.md
 * §2.1), minus Perl's " at FILE line N." suffixes. "Printable" uses the
 * same test as configuration values (keys.h). Side effect, as in the
 * reference: the program's directory under the base is created with mode
 * 0700 when missing, even if the file itself does not exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exitcodes.h"
#include "keys.h"
#include "xalloc.h"
#include "xdg.h"

static char *join(const char *a, const char *b)
{
    char *s = NULL;

    if (asprintf(&s, "%s/%s", a, b) < 0)
        qrt_oom();
    return s;
}

int qrt_xdg_resolve(const char *var, const char *default_subdir, const char *program,
                    const char *path, char **out, struct qrt_err *err)
{
    const char *env = getenv(var), *home = getenv("HOME");
    struct stat st;
    char *base, *dir;

    if (!qrt_printable(path, 0))
        return qrt_err_set(err, QRT_EXIT_FATAL, "Insecure %s", path);
    if (path[0] == '/') {
        *out = qrt_xstrdup(path);
        return 0;
    }
    base = env != NULL ? qrt_xstrdup(env) : join(home ? home : "", default_subdir);
    if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
        qrt_err_set(err, QRT_EXIT_FATAL, "No such directory: %s", base);
        free(base);
        return -1;
    }
    dir = join(base, program);
    free(base);
    if (dir[0] != '/' || !qrt_printable(dir, 0)) {
        qrt_err_set(err, QRT_EXIT_FATAL, "Insecure %s", dir);
        free(dir);
        return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        qrt_err_set(err, QRT_EXIT_FATAL, "Couldn't create %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    *out = join(dir, path);
    free(dir);
    return 0;
}

int qrt_xdg_config_file(const char *program, const char *config, char **out, struct qrt_err *err)
{
    return qrt_xdg_resolve("XDG_CONFIG_HOME", ".config", program, config ? config : "config", out,
                           err);
}

int qrt_xdg_data_file(const char *program, const char *name, char **out, struct qrt_err *err)
{
    return qrt_xdg_resolve("XDG_DATA_HOME", ".local/share", program, name, out, err);
}

int qrt_env_sanitize(void)
{
    static const char *const drop[] = {"IFS", "CDPATH", "ENV", "BASH_ENV"};

    if (setenv("PATH", "/usr/bin:/bin", 1) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    return 0;
}
