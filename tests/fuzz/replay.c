/*
 * replay.c - main() for a fuzzer built without libFuzzer (any C99 compiler).
 *
 * Usage: <fuzzer>_replay PATH...   each PATH is a file or a directory of files (not
 * recursive). Every file is passed once to LLVMFuzzerTestOneInput, in name order, in an
 * exactly-sized heap copy. A failed check aborts; otherwise it prints a summary line and
 * exits 0. It fails when no input was found, so a wrong corpus path cannot pass, and
 * on any error reading a directory or a file (reported with its path).
 */
#define _POSIX_C_SOURCE 200809L
/* 64-bit inode numbers and offsets in 32-bit builds too: without it glibc's readdir()
 * and stat() fail with EOVERFLOW on file systems with large inode numbers (seen on i386
 * under overlayfs). A build may still set it, as tests/portability.sh does to check the
 * error is reported. */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long ran;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL, *copy;
    size_t len = 0, cap = 0, n;
    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            uint8_t *q = (uint8_t *)realloc(buf, cap ? cap * 2 : 8192);
            if (!q) {
                fclose(f);
                free(buf);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            buf = q;
            cap = cap ? cap * 2 : 8192;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        perror(path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    copy = (uint8_t *)malloc(len ? len : 1); /* exact size: overreads hit ASan */
    if (!copy) {
        free(buf);
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    if (len) {
        memcpy(copy, buf, len);
    }
    free(buf);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    ran++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;
    if (!d) {
        perror(dir);
        return -1;
    }
    for (;;) {
        size_t len;
        char *path;
        struct stat st;
        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno != 0) {
                fprintf(stderr, "%s: readdir: %s\n", dir, strerror(errno));
                rc = -1;
            }
            break;
        }
        if (e->d_name[0] == '.') {
            continue;
        }
        len = strlen(dir) + strlen(e->d_name) + 2;
        path = (char *)malloc(len);
        if (!path) {
            fprintf(stderr, "%s: out of memory\n", dir);
            rc = -1;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) {
            perror(path);
            free(path);
            rc = -1;
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **q = (char **)realloc(names, (cap ? cap * 2 : 64) * sizeof *names);
            if (!q) {
                fprintf(stderr, "%s: out of memory\n", dir);
                free(path);
                rc = -1;
                break;
            }
            names = q;
            cap = cap ? cap * 2 : 64;
        }
        names[n++] = path;
    }
    closedir(d);
    if (n) {
        qsort(names, n, sizeof *names, by_name);
    }
    for (i = 0; i < n; i++) {
        if (rc == 0 && run_file(names[i]) != 0) {
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if ((S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i])) != 0) {
            return 1;
        }
    }
    if (ran == 0) {
        fprintf(stderr, "%s: no input found (usage: %s FILE_OR_DIR...)\n", argv[0], argv[0]);
        return 1;
    }
    printf("%s: %lu inputs replayed, no failure\n", argc > 0 ? argv[0] : "replay", ran);
    return 0;
}
