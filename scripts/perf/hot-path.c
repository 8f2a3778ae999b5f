/* The interposer's hot path on a plain C program, run with and without
 * the preload shim (scripts/perf/hot-path.sh):
 *
 *   hot-path churn N   N times: malloc(32), write it, free it
 *   hot-path hold N    N mallocs of 32 bytes, all live at once, then
 *                      prints the resident size (kB) and frees them all
 *
 * The pointer array of `hold` comes from mmap, so the only malloc blocks
 * are the measured ones. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* VmRSS in kB, read without stdio (no allocation). */
static long rss_kb(void) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *at = strstr(buf, "VmRSS:");
    return at ? strtol(at + 6, NULL, 10) : -1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s churn|hold N\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    if (strcmp(argv[1], "churn") == 0) {
        for (long i = 0; i < n; i++) {
            volatile char *p = malloc(32);
            if (!p) return 1;
            p[0] = (char)i;
            free((void *)p);
        }
        return 0;
    }
    if (strcmp(argv[1], "hold") == 0) {
        size_t bytes = (size_t)n * sizeof(void *) + 1;
        void **held = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (held == MAP_FAILED) return 1;
        for (long i = 0; i < n; i++) {
            held[i] = malloc(32);
            if (!held[i]) return 1;
            ((volatile char *)held[i])[0] = (char)i;
        }
        char line[64];
        int len = snprintf(line, sizeof line, "rss_kb %ld\n", rss_kb());
        if (write(1, line, (size_t)len) != len) return 1;
        for (long i = 0; i < n; i++) free(held[i]);
        munmap(held, bytes);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
