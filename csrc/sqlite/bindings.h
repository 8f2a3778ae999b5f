/* The SQLite API the lab binds, and the lab's allocator hook for it;
 * bindgen reads this one file (build/bindings.rs). */
#include <sqlite3.h>

#include "lab_sqlite_mem.h"
