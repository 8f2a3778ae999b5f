/*
 * connector: a small stand-in for the MySQL C client API.
 *
 * It keeps the ownership rules of the real client library, because those
 * rules are where bindings leak (checked against MariaDB Connector/C by the
 * `mariadb` feature's twins, src/scenarios/fidelity.rs):
 *   - lc_init allocates a handle; lc_real_connect can fail and then does NOT
 *     free it (as mysql_real_connect): the caller must still lc_close it.
 *   - every LC_RES from lc_store_result, lc_stmt_store_result or
 *     lc_stmt_result_metadata is owned by the caller and must go to
 *     lc_free_result, before the handle is closed (its field names point into
 *     the handle).
 *   - a row from lc_fetch_row is borrowed from its result: valid until the
 *     next fetch or lc_free_result.
 *   - lc_error / lc_stmt_error strings are owned by the handle / statement:
 *     never freed by the caller, valid until the next call on it.
 *   - lc_real_escape_string writes into the caller's 2n+1-byte buffer.
 *
 * Some rules are the stand-in's own, shapes other real C APIs have, kept
 * because bindings leak there too; the MySQL C API does not share them:
 *   - strings from lc_stat and lc_stmt_expanded_sql are owned by the caller
 *     and must be released with lc_free (never libc free): mysql_stat
 *     returns the handle's own buffer, and there is no mysql_stmt_expanded_sql
 *     (sqlite3_expanded_sql is the model).
 *   - the row callback's user_data is never freed by the library, not even
 *     when the callback is replaced or unregistered: the MySQL C API has no
 *     row callback.
 *   - lc_close refuses (LC_CR_BUSY) while statements are open and then does
 *     not free the handle (sqlite3_close's rule): mysql_close always closes.
 *
 * The "server" is in memory, one per connected handle, with one table:
 *   people(name TEXT, age INT, score DOUBLE)
 * seeded with LC_SEED_ROWS rows (see connector.c):
 *   ('alice', 34, 81.50) ('bob', 27, 64.25) ('carol', 45, 92.75)
 *   ('dave', 19, 55.00) ('eve', 38, 73.10)
 * Connect with user "lab", password "lab", database "shop"; host is ignored.
 *
 * Query grammar (keywords case-insensitive; identifiers case-sensitive;
 * whitespace free; one optional trailing ';'):
 *   SELECT cols FROM table [WHERE cond] [LIMIT uint]
 *   INSERT INTO table VALUES ( lit , lit , lit )
 *   DELETE FROM table [WHERE cond]
 *   cols := '*' | column { ',' column }
 *   cond := column op lit        op := = | != | <> | < | <= | > | >=
 *   lit  := 'text' | integer | decimal | ?   (? only in prepared statements)
 * Text literals: single quotes, backslash escapes \0 \n \r \t \Z \\ \' \"
 * (any other \x stands for x), and '' for a quote.
 * Integers: optional '-', digits, fit in int64. Decimals: optional '-',
 * digits '.' digits.
 * TEXT columns take and compare with text literals only; INT columns take
 * integers only; DOUBLE columns take integers or decimals.
 *
 * Tokens: identifiers/keywords [A-Za-z_][A-Za-z0-9_]*, numbers
 * -?[0-9]+(.[0-9]+)?, text literals, and * , ( ) ; ? = != <> < <= > >=.
 * Errors are reported in this order, first one wins:
 *   1. length > LC_MAX_QUERY_LEN: LC_ER_NET_PACKET_TOO_LARGE;
 *   2. only whitespace (and ';'): LC_ER_EMPTY_QUERY;
 *   3. syntax: LC_ER_PARSE with the byte offset of the first token that does
 *      not fit (the query length at end of input; the opening quote of an
 *      unterminated text; the first byte of an unknown character; an integer
 *      that does not fit int64; a '?' outside a prepared statement; a 17th
 *      selected column or a 17th '?');
 *   4. the table (LC_ER_NO_SUCH_TABLE), then columns left to right
 *      (LC_ER_BAD_FIELD), then literal types left to right
 *      (LC_ER_WRONG_VALUE naming the column; INSERT checks name, age, score).
 * TEXT compares bytewise (memcmp over the shorter length, then the shorter
 * is less); INT as int64; DOUBLE as double (an integer literal converted).
 * lc_query while a SELECT's rows are not yet stored: LC_CR_COMMANDS_OUT_OF_SYNC.
 * Each call that can fail first clears the handle's (statement's) error.
 * affected rows: SELECT = rows matched, INSERT = 1, DELETE = rows deleted.
 * lc_stat: "Queries: %llu  Rows: %llu" (successful queries and statement
 * executions on the handle; rows now in people).
 * lc_real_escape_string: each of NUL, newline, CR, backslash, ', " and 0x1a
 * becomes a backslash followed by 0, n, r, a backslash, ', " and Z respectively;
 * writes a NUL after, returns the length written without it.
 * lc_stmt_expanded_sql: the query with each bound '?' replaced by its value
 * (INT "%lld", DOUBLE "%.2f", TEXT quoted and escaped as above); unbound
 * parameters stay '?'.
 * Statement parameters are numbered from 0 in order of appearance; a bind
 * past the count is LC_CR_INVALID_PARAMETER_NO; executing with one unbound is
 * LC_CR_PARAMS_NOT_BOUND; types are checked at execute as for literals.
 * The row callback runs in lc_store_result once per row, in order, after the
 * row is built; a non-zero return frees what was built, returns NULL and sets
 * LC_ER_QUERY_INTERRUPTED.
 * Out of memory anywhere: LC_CR_OUT_OF_MEMORY, nothing half-built kept
 * (lc_init and lc_stmt_init return NULL).
 *
 * Values are sent as text, as in the MySQL text protocol: TEXT as stored, INT
 * as "%lld", DOUBLE as "%.2f". Rows come in insertion order.
 *
 * Result memory layout (documented so the lab can derive exact leak sizes):
 *   - one block of sizeof(LC_RES);
 *   - one block of field_count * sizeof(LC_FIELD);
 *   - if row_count > 0: one block of row_count * sizeof(LC_ROW) (the row
 *     pointers), and one block per row of
 *       field_count * sizeof(char *) + field_count * sizeof(unsigned long)
 *       + sum over the row's values of (length + 1)
 *     holding the value pointers, then the lengths, then the NUL-terminated
 *     values.
 * A metadata-only result (lc_stmt_result_metadata) has just the first two.
 * With the float compatibility switch on, every row that holds a DOUBLE value
 * leaks one extra block of LC_DOUBLE_BUF_SIZE bytes per DOUBLE value while
 * the result is built (mysql-connector-python BUG#29909157).
 *
 * Where the above is silent (the C library and the pure-Rust backend both
 * follow these):
 *   - Whitespace is the bytes space \t \n \v \f \r. Any other byte outside a
 *     text literal that starts no token (NUL included) is an unknown
 *     character. Inside a text literal every byte is data, NUL included.
 *   - SELECT FROM WHERE LIMIT INSERT INTO VALUES DELETE are reserved: where a
 *     table or column name is expected, a keyword is a syntax error there.
 *   - Tokens are read left to right on demand, so the first token that does
 *     not fit wins, lexical or not ("SELECT FROM people @" is offset 7).
 *     '-' belongs to a number only when a digit follows it, '.' only when a
 *     digit follows it: "1." is 1 then an unknown '.', "1e5" is 1 then the
 *     identifier e5. A backslash as the last byte leaves the text
 *     unterminated. LIMIT takes an integer token without '-' (otherwise a
 *     syntax error at that token); LIMIT 0 gives no rows.
 *   - Decimals are not range-checked: the nearest double (strtod, C locale),
 *     too large ones become +-inf. An integer literal for a DOUBLE column is
 *     converted with (double)int64.
 *   - The table name must be exactly "people" and columns exactly "name",
 *     "age", "score" (case-sensitive). Column check order: the selected
 *     columns, then the WHERE column.
 *   - DOUBLE comparisons are IEEE (a NaN bound parameter satisfies only !=
 *     and <>).
 *   - A DOUBLE value in a result row is "%.2f" written into an
 *     LC_DOUBLE_BUF_SIZE buffer, so text longer than LC_DOUBLE_BUF_SIZE - 1
 *     bytes is cut to its first 31 bytes; inf/nan print as C printf does
 *     ("inf", "-inf", "nan", "-nan"). lc_stmt_expanded_sql never cuts.
 *   - Error messages are cut to LC_ERRMSG_SIZE - 1 bytes; a name in a
 *     message is printed up to its first NUL byte.
 *   - Functions returning int return 0 on success, else the error code (the
 *     one lc_errno / lc_stmt_errno report). A NULL handle or statement never
 *     crashes (NULL, 0 or an error code comes back). A NULL query is "".
 *   - lc_real_connect: user and passwd must both be "lab" (else
 *     LC_ER_ACCESS_DENIED naming the user, '' for NULL), then db "shop"
 *     (else LC_ER_BAD_DB, '' for NULL). On a handle already connected:
 *     LC_CR_COMMANDS_OUT_OF_SYNC and nothing changes.
 *   - "A SELECT's rows are not yet stored" covers the handle's lc_query and
 *     every statement's lc_stmt_execute: while any is owed, lc_query and
 *     lc_stmt_execute (on any statement, the owing one too) fail with
 *     LC_CR_COMMANDS_OUT_OF_SYNC. lc_stmt_close and lc_stmt_prepare drop the
 *     statement's owed rows.
 *   - lc_real_query checks, in order: not connected (LC_CR_SERVER_GONE), rows
 *     owed (LC_CR_COMMANDS_OUT_OF_SYNC), then errors 1-4 above, then out of
 *     memory. The first two change nothing but the error; past them, affected
 *     rows and field count are reset to 0 and stay 0 if the query fails.
 *   - Affected rows of a SELECT are the rows it returns (after LIMIT).
 *     lc_field_count is the column count of the last successful lc_query if
 *     it was a SELECT (still after lc_store_result), else 0. Statements never
 *     change the handle's affected rows or field count.
 *   - lc_stat's Queries counts successful lc_query / lc_real_query calls and
 *     successful lc_stmt_execute calls. Not connected: NULL, LC_CR_SERVER_GONE.
 *   - lc_store_result / lc_stmt_store_result with no rows owed return NULL
 *     with errno 0 (so a second call does). They consume the owed rows even
 *     when they fail (out of memory, interrupted): the handle stays usable.
 *   - The row callback runs in lc_store_result only (not in
 *     lc_stmt_store_result). While it runs, lc_query and lc_stmt_execute
 *     fail with LC_CR_COMMANDS_OUT_OF_SYNC, and so do lc_store_result and
 *     lc_close on that handle (lc_close then frees nothing).
 *   - lc_close with open statements: LC_CR_BUSY, "Connection has 1 open
 *     statements" even for one.
 *   - lc_real_escape_string ignores the handle (may be NULL); `to` must hold
 *     2 * length + 1 bytes.
 *   - lc_stmt_init works on any handle, connected or not (it clears the
 *     handle's error; out of memory sets it and returns NULL).
 *   - lc_stmt_prepare first drops the old parse, bindings and owed rows (a
 *     failed prepare leaves the statement unprepared), then checks: not
 *     connected, length (1), out of memory copying the query, empty (2),
 *     syntax (3), table / columns / literal types (4, a '?' fits any column).
 *   - On an unprepared statement, bind / execute / store / metadata /
 *     expanded_sql give LC_CR_NO_PREPARED_STMT. A bind checks that, then the
 *     index (LC_CR_INVALID_PARAMETER_NO); binding again replaces the value; a
 *     bind_text that runs out of memory keeps the old value.
 *   - lc_stmt_execute checks, in order: not prepared, not connected, rows
 *     owed, an unbound parameter (LC_CR_PARAMS_NOT_BOUND), table / columns /
 *     types left to right with the bound values (an INT parameter fits INT and
 *     DOUBLE columns, a DOUBLE parameter DOUBLE only, TEXT TEXT only), out of
 *     memory. lc_stmt_affected_rows is 0 after a failed execute or a prepare.
 *   - lc_stmt_result_metadata works right after a successful prepare.
 *   - lc_stmt_expanded_sql copies every byte of the prepared query as given
 *     (whitespace, ';', case) and replaces each '?' byte.
 */
#ifndef LEAKLAB_CONNECTOR_H
#define LEAKLAB_CONNECTOR_H

#include <stdint.h>

#define LC_ERRMSG_SIZE 512
#define LC_DOUBLE_BUF_SIZE 32
#define LC_MAX_QUERY_LEN 65536
#define LC_MAX_PARAMS 16
#define LC_MAX_SELECT_COLUMNS 16
#define LC_SEED_ROWS 5

/* Error codes: numbered as the MySQL server (1xxx) and client (2xxx). */
#define LC_OK 0
#define LC_ER_ACCESS_DENIED 1045      /* Access denied for user '%s' */
#define LC_ER_BAD_DB 1049             /* Unknown database '%s' */
#define LC_ER_BAD_FIELD 1054          /* Unknown column '%s' */
#define LC_ER_PARSE 1064              /* You have an error in your SQL syntax at offset %u */
#define LC_ER_EMPTY_QUERY 1065        /* Query was empty */
#define LC_ER_NET_PACKET_TOO_LARGE 1153 /* Query is longer than %u bytes */
#define LC_ER_QUERY_INTERRUPTED 1317  /* Query execution was interrupted */
#define LC_ER_NO_SUCH_TABLE 1146      /* Table 'shop.%s' doesn't exist */
#define LC_ER_WRONG_VALUE 1366        /* Incorrect value for column '%s' */
#define LC_CR_SERVER_GONE 2006        /* Not connected */
#define LC_CR_OUT_OF_MEMORY 2008      /* Client ran out of memory */
#define LC_CR_COMMANDS_OUT_OF_SYNC 2014 /* Commands out of sync; you can't run this command now */
#define LC_CR_PARAMS_NOT_BOUND 2031   /* No data supplied for parameters in prepared statement */
#define LC_CR_INVALID_PARAMETER_NO 2034 /* Invalid parameter number */
#define LC_CR_NO_PREPARED_STMT 2030   /* Statement not prepared */
#define LC_CR_BUSY 2099               /* Connection has %u open statements */

typedef enum lc_field_type {
    LC_TYPE_TEXT = 1,
    LC_TYPE_INT = 2,
    LC_TYPE_DOUBLE = 3
} lc_field_type;

typedef struct LC_FIELD {
    const char *name;          /* points into the handle: valid until lc_close */
    unsigned long name_length;
    lc_field_type type;
} LC_FIELD;

/* A row: field_count pointers to NUL-terminated values (lengths from lc_fetch_lengths). */
typedef char **LC_ROW;

struct lc_server;

typedef int (*lc_row_callback)(void *user_data, unsigned int field_count, LC_ROW row,
                               const unsigned long *lengths);

typedef struct LC {
    unsigned int last_errno;
    char last_error[LC_ERRMSG_SIZE];
    int connected;
    struct lc_server *server;     /* NULL until connected */
    unsigned int open_statements;
    unsigned int pending_fields;  /* field count of the last SELECT, 0 otherwise */
    uint32_t *pending_rows;       /* row indexes of a SELECT not yet stored */
    uint64_t pending_count;
    int has_pending;              /* a SELECT ran and lc_store_result is owed */
    unsigned int pending_columns[LC_MAX_SELECT_COLUMNS]; /* selected column indexes */
    uint64_t affected_rows;
    uint64_t queries;
    lc_row_callback row_callback;
    void *row_callback_data;
    int compat_float_leak;        /* BUG#29909157 compatibility switch */
} LC;

typedef struct LC_RES {
    uint64_t row_count;
    unsigned int field_count;
    LC_FIELD *fields;
    LC_ROW *rows;                 /* NULL when row_count == 0 */
    uint64_t cursor;              /* next row for lc_fetch_row */
    unsigned long *current_lengths; /* lengths of the last fetched row, NULL before/after */
} LC_RES;

typedef struct LC_STMT LC_STMT;   /* opaque */

/* ---- connection ---- */
LC *lc_init(void);
LC *lc_real_connect(LC *handle, const char *host, const char *user, const char *passwd,
                    const char *db, unsigned int port);
int lc_close(LC *handle);
unsigned int lc_errno(const LC *handle);
const char *lc_error(const LC *handle);

/* ---- queries and results ---- */
int lc_query(LC *handle, const char *query);
int lc_real_query(LC *handle, const char *query, unsigned long length);
LC_RES *lc_store_result(LC *handle);
unsigned int lc_field_count(const LC *handle);
uint64_t lc_affected_rows(const LC *handle);
void lc_free_result(LC_RES *result);
LC_ROW lc_fetch_row(LC_RES *result);
unsigned long *lc_fetch_lengths(LC_RES *result);
uint64_t lc_num_rows(const LC_RES *result);
unsigned int lc_num_fields(const LC_RES *result);
const LC_FIELD *lc_fetch_field_direct(const LC_RES *result, unsigned int index);

/* ---- strings ---- */
unsigned long lc_real_escape_string(LC *handle, char *to, const char *from, unsigned long length);
char *lc_stat(LC *handle);
void lc_free(void *ptr);

/* ---- callbacks ---- */
void lc_set_row_callback(LC *handle, lc_row_callback callback, void *user_data);

/* ---- compatibility switches ---- */
void lc_set_compat_float_leak(LC *handle, int on);

/* ---- prepared statements ---- */
LC_STMT *lc_stmt_init(LC *handle);
int lc_stmt_prepare(LC_STMT *stmt, const char *query, unsigned long length);
unsigned long lc_stmt_param_count(const LC_STMT *stmt);
int lc_stmt_bind_int(LC_STMT *stmt, unsigned int index, long long value);
int lc_stmt_bind_double(LC_STMT *stmt, unsigned int index, double value);
int lc_stmt_bind_text(LC_STMT *stmt, unsigned int index, const char *value, unsigned long length);
int lc_stmt_execute(LC_STMT *stmt);
uint64_t lc_stmt_affected_rows(const LC_STMT *stmt);
LC_RES *lc_stmt_result_metadata(LC_STMT *stmt);
LC_RES *lc_stmt_store_result(LC_STMT *stmt);
char *lc_stmt_expanded_sql(LC_STMT *stmt);
unsigned int lc_stmt_errno(const LC_STMT *stmt);
const char *lc_stmt_error(const LC_STMT *stmt);
int lc_stmt_close(LC_STMT *stmt);

#endif
