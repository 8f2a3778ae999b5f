/* One buffer grown with realloc from 4 KiB to MIB MiB in 4 KiB steps (its
 * last byte written at each step), then freed: the growth pattern of a
 * buffer that a C library extends as data arrives.
 * Usage: realloc-growth MIB [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t top = (size_t)(argc > 1 ? atol(argv[1]) : 4) << 20;
    long rounds = argc > 2 ? atol(argv[2]) : 1;
    const size_t step = 4096;
    for (long r = 0; r < rounds; r++) {
        char *p = malloc(step);
        if (!p) return 1;
        p[step - 1] = (char)(step >> 12);
        for (size_t n = 2 * step; n <= top; n += step) {
            char *q = realloc(p, n);
            if (!q) return 1;
            p = q;
            /* The last step's byte survived the move, if any. */
            if (p[n - step - 1] != (char)((n - step) >> 12)) return 2;
            p[n - 1] = (char)(n >> 12);
        }
        free(p);
    }
    return 0;
}
