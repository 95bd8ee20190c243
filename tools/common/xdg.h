/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xdg.h: where the tools find their files (interimap.md §2.1) and the
 * process environment they run with (§2.2).
 */
#ifndef QRT_XDG_H
#define QRT_XDG_H

#include "err.h"

/**
 * Resolve path as the reference's xdg_basedir(var, default_subdir,
 * program, path): an absolute path is returned unchanged; otherwise the
 * base is $var when set (even empty), else $HOME/default_subdir; the base
 * must be an existing directory; BASE/program is created (mode 0700) if
 * missing; the result is BASE/program/path. Errors (status 255):
 * "Insecure PATH" (empty or non-printable path), "No such directory: BASE",
 * "Insecure BASE/PROGRAM", "Couldn't create DIR: ERRNO-TEXT".
 * Returns 0 and an owned *out, or -1.
 */
int qrt_xdg_resolve(const char *var, const char *default_subdir, const char *program,
                    const char *path, char **out, struct qrt_err *err);

/** The configuration file: qrt_xdg_resolve("XDG_CONFIG_HOME", ".config", ...). */
int qrt_xdg_config_file(const char *program, const char *config, char **out, struct qrt_err *err);

/** A data file: qrt_xdg_resolve("XDG_DATA_HOME", ".local/share", ...). */
int qrt_xdg_data_file(const char *program, const char *name, char **out, struct qrt_err *err);

/**
 * Set PATH to /usr/bin:/bin and remove IFS, CDPATH, ENV and BASH_ENV, as
 * the reference did (tunnel commands see that environment). Call first.
 * Returns 0, or -1 if setenv failed (out of memory).
 */
int qrt_env_sanitize(void);

#endif /* QRT_XDG_H */
