/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standalone driver for the fuzz targets: without libFuzzer, each target is
 * linked with this main(), which feeds it every file named on the command
 * line (a folder stands for the files in it, not recursively). Meson runs
 * it over the target's corpus, so every crash once found stays a test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t size = 0, cap = 0, n;

    if (f == NULL) {
        perror(path);
        return 1;
    }
    for (;;) {
        if (size == cap) {
            unsigned char *grown;
            cap = cap ? cap * 2 : 4096;
            grown = realloc(data, cap);
            if (grown == NULL) {
                free(data);
                fclose(f);
                return 1;
            }
            data = grown;
        }
        n = fread(data + size, 1, cap - size, f);
        if (n == 0)
            break;
        size += n;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int run_path(const char *path, int *count)
{
    struct stat st;
    DIR *dir;
    struct dirent *e;
    int rc = 0;

    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        return 1;
    }
    while ((e = readdir(dir)) != NULL) {
        char sub[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            (*count)++;
            rc |= run_file(sub);
        }
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    int i, rc = 0, count = 0;

    for (i = 1; i < argc; i++)
        rc |= run_path(argv[i], &count);
    printf("%s 1 - replayed %d inputs\n1..1\n", rc ? "not ok" : "ok", count);
    return rc || count == 0;
}
