/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procmeter: process helpers for bench/sync-compare.py (built on the fly
 * with cc -O2; not part of the meson build, never a test).
 *
 * procmeter measure OUT COMMAND [ARG...]
 *     Fork and exec COMMAND, wait for it, write one line to the file OUT:
 *       wall_ns user_us sys_us maxrss_kib own_cpu_ticks child_cpu_ticks status
 *     (rusage from wait4; the tick counts from /proc/PID/stat read while
 *     the child is a zombie: its own CPU and that of the children it
 *     reaped). Why a helper: a child forked (or vforked) by Python starts
 *     with Python's memory; Linux records that image's high-water mark at
 *     exec time into ru_maxrss, so a big Python parent would inflate every
 *     figure. Forked from this small program, COMMAND starts near 1 MiB.
 *
 * procmeter noreap COMMAND [ARG...]
 *     Run COMMAND as a child, wait until it ends WITHOUT reaping it
 *     (waitid WNOWAIT), then exit with its status. Prefixed to the local
 *     tunnel command: the Dovecot imap process is then never reaped by
 *     interimap, so its CPU time and peak RSS never fold into interimap's
 *     rusage (Perl interimap does not reap its tunnel; a client that does
 *     would otherwise be charged for Dovecot's work). The zombie goes to
 *     the nearest subreaper (sync-compare.py), which reaps it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t spawn(char **argv)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("procmeter: fork");
        exit(127);
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "procmeter: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_noreap(pid_t pid, siginfo_t *si)
{
    for (;;) {
        memset(si, 0, sizeof(*si));
        if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOWAIT) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* utime+stime and cutime+cstime (clock ticks) of PID, or -1 */
static void proc_ticks(pid_t pid, long long *own, long long *children)
{
    char path[64], buf[4096];
    FILE *f;
    size_t n;
    char *p;
    unsigned long long v[4];

    *own = *children = -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
       majflt cmajflt utime stime cutime cstime */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                            &v[0], &v[1], &v[2], &v[3]) != 4)
        return;
    *own = (long long)(v[0] + v[1]);
    *children = (long long)(v[2] + v[3]);
}

static long long ns(const struct timespec *a, const struct timespec *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static int measure(const char *out, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    siginfo_t si;
    long long own, children;
    int status;
    pid_t pid;
    FILE *f;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = spawn(argv);
    if (wait_noreap(pid, &si) != 0) {
        perror("procmeter: waitid");
        return 127;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    proc_ticks(pid, &own, &children);
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("procmeter: wait4");
        return 127;
    }
    f = fopen(out, "w");
    if (f == NULL) {
        perror(out);
        return 127;
    }
    fprintf(f, "%lld %lld %lld %ld %lld %lld %d\n", ns(&t0, &t1),
            (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
            ru.ru_maxrss, own, children, status);
    if (fclose(f) != 0) {
        perror(out);
        return 127;
    }
    return 0;
}

static int noreap(char **argv)
{
    siginfo_t si;
    pid_t pid = spawn(argv);

    if (wait_noreap(pid, &si) != 0)
        return 127;
    if (si.si_code == CLD_EXITED)
        return si.si_status;
    return 128 + si.si_status;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "measure") == 0)
        return measure(argv[2], argv + 3);
    if (argc >= 3 && strcmp(argv[1], "noreap") == 0)
        return noreap(argv + 2);
    fprintf(stderr, "usage: procmeter measure OUT COMMAND [ARG...]\n"
                    "       procmeter noreap COMMAND [ARG...]\n");
    return 2;
}
