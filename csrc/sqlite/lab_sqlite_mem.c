/*
 * lab_sqlite_mem: SQLite's allocator hook over lab_alloc (see the header).
 */
#include "lab_sqlite_mem.h"

#include <limits.h>
#include <sqlite3.h>

#include "lab_alloc.h"

/* SQLite never asks for a negative size; treat one as a refusal. */
static void *lab_sqlite_malloc(int n)
{
    return n < 0 ? NULL : lab_malloc((size_t)n);
}

static void lab_sqlite_free(void *p)
{
    lab_free(p);
}

/* SQLite never calls xRealloc with a NULL pointer or a size of 0. */
static void *lab_sqlite_realloc(void *p, int n)
{
    return n < 0 ? NULL : lab_realloc(p, (size_t)n);
}

/* Every block SQLite asks about came from lab_sqlite_malloc/realloc, whose
 * requests are ints, so the stored size fits. */
static int lab_sqlite_size(void *p)
{
    size_t size = lab_alloc_size(p);
    return size > INT_MAX ? INT_MAX : (int)size;
}

/* No rounding: a request of n bytes is an n-byte lab_alloc block. */
static int lab_sqlite_roundup(int n)
{
    return n;
}

static int lab_sqlite_init(void *app)
{
    (void)app;
    return SQLITE_OK;
}

static void lab_sqlite_shutdown(void *app)
{
    (void)app;
}

int lab_sqlite_install(void)
{
    /* SQLite copies the table before sqlite3_config returns. */
    static const sqlite3_mem_methods methods = {
        lab_sqlite_malloc,
        lab_sqlite_free,
        lab_sqlite_realloc,
        lab_sqlite_size,
        lab_sqlite_roundup,
        lab_sqlite_init,
        lab_sqlite_shutdown,
        NULL,
    };
    int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    if (rc != SQLITE_OK)
        return rc;
    return sqlite3_initialize();
}
