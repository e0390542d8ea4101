/*
 * fault-shim: an LD_PRELOAD library that makes a running process's disk fail or stall on command, for
 * Etcetera's fault-injection tests and chaos soak (docs/reliability.md, "Fault injection").
 *
 * Build:   cc -shared -fPIC -O2 -o libetcetera-fault-shim.so Tests/FaultInjection/fault-shim.c -ldl -lpthread
 * Use:     ETCETERA_FAULT_CONTROL=/path/to/control LD_PRELOAD=/path/to/libetcetera-fault-shim.so etcetera ...
 *          (the launcher's children inherit both variables, so every service loads the shim).
 *
 * The control file is plain text, one directive per line; unknown lines and '#' comments are ignored:
 *
 *   path-prefix DIR      only files under DIR (or DIR itself) are affected; without it, nothing is
 *   fail-write-after N   after N more successful write()/pwrite() calls on such files, every later one
 *                        fails with EIO (N = 0: from now on)
 *   fail-sync-after N    the same for fsync()/fdatasync()
 *   delay-sync-ms MS     every fsync()/fdatasync() on such files sleeps MS milliseconds first; a sleep
 *                        in progress ends early once the file no longer asks for a delay, so a test
 *                        can hold a stall for as long as it needs and then lift it
 *
 * The file is re-read whenever its modification time, size or inode changes (it is stat()ed on each
 * intercepted call, nothing more), and every re-read starts the counts of "after N" afresh. A missing or
 * empty file means a healthy disk, so deleting it or writing "path-prefix DIR" alone clears the faults.
 * Replace the file by writing a new one and renaming it over the old, so no process reads half of it.
 * Counts are per process: a restarted service reads the file again and counts from zero.
 *
 * This interface is used by the chaos soak (scripts/soak.sh) as well as the tests; keep it stable.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

struct fault_plan {
    char prefix[PATH_MAX];
    long write_failures_after; /* -1: never */
    long sync_failures_after;  /* -1: never */
    long sync_delay_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_plan plan = {"", -1, -1, 0};
static struct stat loaded; /* identity of the control file last read; st_ino 0: none */
static long writes_seen;
static long syncs_seen;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

static int same_file_version(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the control file into `plan` if it changed since the last read. Called with `lock` held. */
static void refresh_plan(void) {
    const char *control = getenv("ETCETERA_FAULT_CONTROL");
    struct stat now;
    if (control == NULL || stat(control, &now) != 0) {
        if (loaded.st_ino != 0) {
            memset(&loaded, 0, sizeof loaded);
            plan = (struct fault_plan){"", -1, -1, 0};
        }
        return;
    }
    if (loaded.st_ino != 0 && same_file_version(&now, &loaded)) return;
    loaded = now;
    plan = (struct fault_plan){"", -1, -1, 0};
    writes_seen = 0;
    syncs_seen = 0;
    FILE *file = fopen(control, "r");
    if (file == NULL) return;
    char line[PATH_MAX + 64];
    while (fgets(line, sizeof line, file) != NULL) {
        char word[64];
        char argument[PATH_MAX];
        if (sscanf(line, "%63s %4095s", word, argument) != 2) continue;
        if (strcmp(word, "path-prefix") == 0) {
            snprintf(plan.prefix, sizeof plan.prefix, "%s", argument);
            size_t length = strlen(plan.prefix);
            while (length > 1 && plan.prefix[length - 1] == '/') plan.prefix[--length] = '\0';
        } else if (strcmp(word, "fail-write-after") == 0) {
            plan.write_failures_after = strtol(argument, NULL, 10);
        } else if (strcmp(word, "fail-sync-after") == 0) {
            plan.sync_failures_after = strtol(argument, NULL, 10);
        } else if (strcmp(word, "delay-sync-ms") == 0) {
            plan.sync_delay_ms = strtol(argument, NULL, 10);
        }
    }
    fclose(file);
}

/* Whether `fd` names a file under `prefix`. */
static int under_prefix(int fd, const char *prefix) {
    size_t length = strlen(prefix);
    if (length == 0) return 0;
    char link[64];
    char target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t count = readlink(link, target, sizeof target - 1);
    if (count < 0) return 0;
    target[count] = '\0';
    return strncmp(target, prefix, length) == 0 && (target[length] == '/' || target[length] == '\0');
}

enum verdict { PASS, FAIL };

/* Counts a write (is_sync 0) or sync (is_sync 1) on `fd` and decides its fate; *delay_ms gets the stall. */
static enum verdict judge(int fd, int is_sync, long *delay_ms) {
    *delay_ms = 0;
    pthread_mutex_lock(&lock);
    refresh_plan();
    enum verdict verdict = PASS;
    long limit = is_sync ? plan.sync_failures_after : plan.write_failures_after;
    int affected = (limit >= 0 || (is_sync && plan.sync_delay_ms > 0)) && under_prefix(fd, plan.prefix);
    if (affected) {
        long *seen = is_sync ? &syncs_seen : &writes_seen;
        if (limit >= 0 && *seen >= limit) verdict = FAIL; else *seen += 1;
        if (is_sync) *delay_ms = plan.sync_delay_ms;
    }
    pthread_mutex_unlock(&lock);
    return verdict;
}

/* Sleeps `milliseconds` in steps of at most 20 ms, ending early once the plan asks for no sync delay. */
static void stall(long milliseconds) {
    long left = milliseconds;
    while (left > 0) {
        long step = left < 20 ? left : 20;
        struct timespec pause = {0, step * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
        left -= step;
        pthread_mutex_lock(&lock);
        refresh_plan();
        long delay = plan.sync_delay_ms;
        pthread_mutex_unlock(&lock);
        if (delay <= 0) return;
    }
}

ssize_t write(int fd, const void *buffer, size_t count) {
    if (real_write == NULL) real_write = next_symbol("write");
    long delay;
    if (judge(fd, 0, &delay) == FAIL) { errno = EIO; return -1; }
    return real_write(fd, buffer, count);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
    if (real_pwrite == NULL) real_pwrite = next_symbol("pwrite");
    long delay;
    if (judge(fd, 0, &delay) == FAIL) { errno = EIO; return -1; }
    return real_pwrite(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off_t offset) {
    if (real_pwrite64 == NULL) real_pwrite64 = next_symbol("pwrite64");
    long delay;
    if (judge(fd, 0, &delay) == FAIL) { errno = EIO; return -1; }
    return real_pwrite64(fd, buffer, count, offset);
}

int fsync(int fd) {
    if (real_fsync == NULL) real_fsync = next_symbol("fsync");
    long delay;
    enum verdict verdict = judge(fd, 1, &delay);
    stall(delay);
    if (verdict == FAIL) { errno = EIO; return -1; }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    if (real_fdatasync == NULL) real_fdatasync = next_symbol("fdatasync");
    long delay;
    enum verdict verdict = judge(fd, 1, &delay);
    stall(delay);
    if (verdict == FAIL) { errno = EIO; return -1; }
    return real_fdatasync(fd);
}
