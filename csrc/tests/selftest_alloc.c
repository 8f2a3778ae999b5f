/* Counting, fault-injecting wrappers for the self test (selftest_alloc.h).
 * Single-threaded, like the self test. */
#include "selftest_alloc.h"

#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
void __real_free(void *ptr);

#define SLOTS (1u << 16)
/* Addresses are stored disguised (xor HIDE), or valgrind would find the
 * table pointing at every block and call leaked blocks "still reachable". */
#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5bu)
static struct { uintptr_t key; size_t size; int used; } table[SLOTS];
static selftest_alloc_stats st;
static uint64_t countdown;
static int persistent_fail, stuck;

static size_t home(const void *p) { return ((uintptr_t)p >> 4) * 2654435761u % SLOTS; }

static void record(void *p, size_t size)
{
    size_t i = home(p);
    while (table[i].used == 1)
        i = (i + 1) % SLOTS;
    table[i].key = (uintptr_t)p ^ HIDE;
    table[i].size = size;
    table[i].used = 1;
    st.live_blocks++;
    st.live_bytes += size;
    st.total_allocs++;
}

/* Forgets p; returns its size (p must be recorded). */
static size_t forget(void *p)
{
    for (size_t i = home(p);; i = (i + 1) % SLOTS) {
        if (table[i].used == 1 && table[i].key == ((uintptr_t)p ^ HIDE)) {
            table[i].used = 2; /* tombstone */
            st.live_blocks--;
            st.live_bytes -= table[i].size;
            return table[i].size;
        }
        if (table[i].used == 0)
            abort(); /* freeing a block the connector never allocated */
    }
}

static int refused(void)
{
    if (stuck) {
        st.failed_allocs++;
        return 1;
    }
    if (countdown == 0 || --countdown != 0)
        return 0;
    stuck = persistent_fail;
    st.failed_allocs++;
    return 1;
}

void *__wrap_malloc(size_t size)
{
    if (refused())
        return NULL;
    void *p = __real_malloc(size);
    if (p != NULL)
        record(p, size);
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    if (refused())
        return NULL;
    void *p = __real_calloc(count, size);
    if (p != NULL)
        record(p, count * size);
    return p;
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return __wrap_malloc(size);
    if (refused())
        return NULL;
    void *p = __real_realloc(ptr, size);
    if (p != NULL) {
        forget(ptr);
        record(p, size);
        st.total_allocs--; /* a resize, counted once below */
        st.total_allocs++;
    }
    return p;
}

void __wrap_free(void *ptr)
{
    if (ptr == NULL)
        return;
    forget(ptr);
    __real_free(ptr);
}

void selftest_alloc_stats_get(selftest_alloc_stats *out) { *out = st; }

void selftest_alloc_fail_nth(uint64_t n, int persistent)
{
    countdown = n;
    persistent_fail = persistent != 0;
    stuck = 0;
}

uint64_t selftest_alloc_fail_pending(void) { return countdown; }
