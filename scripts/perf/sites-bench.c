#include <stdlib.h>
#include <stdio.h>
#include <time.h>
void *volatile sink;
__attribute__((noinline)) void work(int n) { for (int i = 0; i < n; i++) { void *p = malloc(64); sink = p; free(p); } }
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    work(n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f ns per malloc+free\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
}
