/*
 * lab_sqlite_mem: routes every allocation of the system's libsqlite3 through
 * lab_alloc (csrc/lab_alloc.h), so the lab's C counters and fault injection
 * cover SQLite as they cover the connector.
 *
 * SQLite has an allocator hook, sqlite3_config(SQLITE_CONFIG_MALLOC, ...),
 * taking a sqlite3_mem_methods table. This file installs one whose methods
 * are lab_malloc, lab_free, lab_realloc and lab_alloc_size.
 *
 * Sizes: xRoundup returns its argument unchanged (lab_alloc has no size
 * classes and stores the exact request), so a block SQLite asks for n bytes
 * is counted as exactly n bytes, and xSize reports that same n. With its
 * default memory status on, SQLite calls xMalloc(xRoundup(n)) = xMalloc(n)
 * for an n-byte sqlite3_malloc.
 */
#ifndef LEAKLAB_LAB_SQLITE_MEM_H
#define LEAKLAB_LAB_SQLITE_MEM_H

/*
 * Installs the methods, then calls sqlite3_initialize. Must run before any
 * other SQLite call in the process (SQLite refuses a new allocator once it
 * is initialised). Returns SQLITE_OK, or the SQLite error code of
 * sqlite3_config or sqlite3_initialize (SQLITE_MISUSE if SQLite was already
 * initialised with another allocator).
 */
int lab_sqlite_install(void);

#endif
