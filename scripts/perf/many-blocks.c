/* A C program that allocates many blocks (scripts/perf/watch-vs-profilers.sh):
 * N requests; each allocates CHURN blocks of 16 to 527 bytes, kept in a
 * ring of RING so that each lives a while before it is freed, and leaks one
 * result buffer of ROW_BYTES in leak_row. Prints "request I" per request.
 *
 *   many-blocks N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHURN 100
#define RING 4096
#define ROW_BYTES 448

static void *ring[RING];
void *volatile sink;

__attribute__((noinline)) static void leak_row(unsigned i)
{
    char *row = malloc(ROW_BYTES); /* never freed */
    memset(row, (int)i, ROW_BYTES);
    sink = row;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 10000, slot = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line per request, as a server logs */
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < CHURN; j++, slot = (slot + 1) % RING) {
            free(ring[slot]);
            ring[slot] = malloc(16 + (i * 31 + j * 7) % 512);
            memset(ring[slot], 1, 16);
        }
        leak_row(i);
        printf("request %u\n", i);
    }
    for (unsigned s = 0; s < RING; s++)
        free(ring[s]);
    return 0;
}
