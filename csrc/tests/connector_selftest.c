/*
 * Self test of the connector (its heap counted by selftest_alloc.c). Exit status 0 when every check passes.
 *   connector_selftest                       everything (leaks on purpose at the end:
 *                                            the BUG#29909157 compatibility switch)
 *   connector_selftest --no-intentional-leak everything but that leak (valgrind clean)
 *   connector_selftest --only-intentional-leak  just the leak (9 blocks of LC_DOUBLE_BUF_SIZE)
 */
#include <stdio.h>
#include <string.h>

#include "../connector/connector.h"
#include "../connector/bytes.h"
#include "selftest_alloc.h"

#include <stdlib.h>

static int failures;
static int checks;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_STR(got, want)                                                           \
    do {                                                                               \
        const char *g_ = (got), *w_ = (want);                                          \
        checks++;                                                                      \
        if (g_ == NULL || strcmp(g_, w_) != 0) {                                       \
            failures++;                                                                \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,    \
                    g_ ? g_ : "(null)", w_);                                           \
        }                                                                              \
    } while (0)

static selftest_alloc_stats stats(void)
{
    selftest_alloc_stats s;
    selftest_alloc_stats_get(&s);
    return s;
}

static LC *connect_ok(void)
{
    LC *h = lc_init();
    CHECK(h != NULL);
    CHECK(lc_real_connect(h, "localhost", "lab", "lab", "shop", 0) == h);
    return h;
}

/* Renders a result as "v,v,v|v,v,v" (NUL bytes as \0) and frees it. */
static void render(LC_RES *res, char *out, size_t cap)
{
    size_t n = 0;
    LC_ROW row;
    out[0] = '\0';
    while ((row = lc_fetch_row(res)) != NULL) {
        unsigned long *len = lc_fetch_lengths(res);
        if (n > 0 && n < cap - 1)
            out[n++] = '|';
        for (unsigned int i = 0; i < lc_num_fields(res); i++) {
            if (i > 0 && n < cap - 1)
                out[n++] = ',';
            for (unsigned long k = 0; k < len[i]; k++) {
                if (row[i][k] == '\0') {
                    if (n + 2 < cap) {
                        out[n++] = '\\';
                        out[n++] = '0';
                    }
                } else if (n < cap - 1) {
                    out[n++] = row[i][k];
                }
            }
            if (row[i][len[i]] != '\0')
                CHECK(!"value not NUL-terminated");
        }
    }
    out[n] = '\0';
    lc_free_result(res);
}

/* Runs a query, stores and renders its rows; "" if no result. */
static const char *rows_of(LC *h, const char *sql)
{
    static char buf[8192];
    buf[0] = '\0';
    if (lc_query(h, sql) != 0) {
        snprintf(buf, sizeof buf, "ERR %u %s", lc_errno(h), lc_error(h));
        return buf;
    }
    LC_RES *res = lc_store_result(h);
    if (res == NULL) {
        snprintf(buf, sizeof buf, "NULL %u", lc_errno(h));
        return buf;
    }
    render(res, buf, sizeof buf);
    return buf;
}

/* Runs a query expected to fail; returns "code message". */
static const char *error_of(LC *h, const char *sql, unsigned long len)
{
    static char buf[1024];
    int rc = lc_real_query(h, sql, len);
    snprintf(buf, sizeof buf, "%d %u %s", rc != 0, lc_errno(h), lc_error(h));
    if (rc == 0) {
        LC_RES *res = lc_store_result(h);
        lc_free_result(res);
    }
    return buf;
}

#define ALL "alice,34,81.50|bob,27,64.25|carol,45,92.75|dave,19,55.00|eve,38,73.10"

/* The counting wrapper itself: what the rest of the checks stand on. */
static void test_alloc(void)
{
    /* Through a pointer: gcc's use-after-realloc analysis cannot know that a
     * refused realloc leaves the block alone. */
    void *(*volatile resize)(void *, size_t) = realloc;
    selftest_alloc_stats a = stats();
    char *p = malloc(10);
    CHECK(p != NULL);
    selftest_alloc_stats b = stats();
    CHECK(b.live_blocks == a.live_blocks + 1 && b.live_bytes == a.live_bytes + 10);
    char *q = resize(p, 100);
    CHECK(q != NULL && stats().live_bytes == a.live_bytes + 100);
    p = q;
    selftest_alloc_fail_nth(1, 0);
    CHECK(selftest_alloc_fail_pending() == 1);
    q = resize(p, 1000);
    CHECK(q == NULL);
    CHECK(stats().live_bytes == a.live_bytes + 100); /* old block untouched */
    CHECK(selftest_alloc_fail_pending() == 0);
    free(p);
    free(NULL);
    int *z = calloc(4, sizeof(int));
    CHECK(z != NULL && z[0] == 0 && z[3] == 0);
    free(z);
    selftest_alloc_fail_nth(2, 1);
    void *x = malloc(1);
    CHECK(x != NULL);
    void *y = malloc(1);
    CHECK(y == NULL && lc_copy_bytes("ab", 2) == NULL);
    selftest_alloc_fail_nth(0, 0);
    char *s = lc_copy_bytes("a\0b", 3);
    CHECK(s != NULL && s[1] == '\0' && s[2] == 'b' && s[3] == '\0');
    CHECK(stats().live_bytes == a.live_bytes + 1 + 4);
    free(s);
    free(x);
    CHECK(stats().live_blocks == a.live_blocks && stats().live_bytes == a.live_bytes);
}

static void test_connect(void)
{
    selftest_alloc_stats a = stats();
    LC *h = lc_init();
    CHECK(h != NULL);
    CHECK(stats().live_blocks == a.live_blocks + 1 && stats().live_bytes == a.live_bytes + sizeof(LC));
    CHECK(lc_real_connect(h, NULL, "x", "lab", "shop", 0) == NULL);
    CHECK(lc_errno(h) == LC_ER_ACCESS_DENIED);
    CHECK_STR(lc_error(h), "Access denied for user 'x'");
    CHECK(lc_real_connect(h, NULL, "lab", "nope", "shop", 0) == NULL);
    CHECK_STR(lc_error(h), "Access denied for user 'lab'");
    CHECK(lc_real_connect(h, NULL, "lab", "lab", "x", 0) == NULL);
    CHECK(lc_errno(h) == LC_ER_BAD_DB);
    CHECK_STR(lc_error(h), "Unknown database 'x'");
    CHECK(stats().live_blocks == a.live_blocks + 1); /* nothing but the handle */
    CHECK(lc_query(h, "SELECT * FROM people") == LC_CR_SERVER_GONE);
    CHECK_STR(lc_error(h), "Not connected");
    CHECK(lc_stat(h) == NULL && lc_errno(h) == LC_CR_SERVER_GONE);
    CHECK(lc_close(h) == 0);
    CHECK(lc_close(NULL) == 0);
    lc_free_result(NULL);
    CHECK(stats().live_blocks == a.live_blocks);

    h = connect_ok();
    CHECK(lc_errno(h) == 0 && strcmp(lc_error(h), "") == 0);
    CHECK(lc_real_connect(h, NULL, "lab", "lab", "shop", 0) == NULL);
    CHECK(lc_errno(h) == LC_CR_COMMANDS_OUT_OF_SYNC);
    CHECK(lc_close(h) == 0);
    CHECK(stats().live_blocks == a.live_blocks);
}

static void test_select(void)
{
    LC *h = connect_ok();
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    CHECK(lc_field_count(h) == 3);
    CHECK(lc_affected_rows(h) == 5);
    LC_RES *res = lc_store_result(h);
    CHECK(res != NULL);
    CHECK(lc_num_rows(res) == 5 && lc_num_fields(res) == 3);
    const LC_FIELD *f0 = lc_fetch_field_direct(res, 0), *f2 = lc_fetch_field_direct(res, 2);
    CHECK(f0 && strcmp(f0->name, "name") == 0 && f0->name_length == 4 && f0->type == LC_TYPE_TEXT);
    CHECK(lc_fetch_field_direct(res, 1)->type == LC_TYPE_INT);
    CHECK(f2 && strcmp(f2->name, "score") == 0 && f2->type == LC_TYPE_DOUBLE);
    CHECK(lc_fetch_field_direct(res, 3) == NULL);
    CHECK(lc_fetch_lengths(res) == NULL);
    LC_ROW row = lc_fetch_row(res);
    CHECK(row && strcmp(row[0], "alice") == 0 && strcmp(row[1], "34") == 0 &&
          strcmp(row[2], "81.50") == 0);
    CHECK(lc_fetch_lengths(res)[0] == 5 && lc_fetch_lengths(res)[2] == 5);
    for (int i = 0; i < 4; i++)
        CHECK(lc_fetch_row(res) != NULL);
    CHECK(lc_fetch_row(res) == NULL && lc_fetch_lengths(res) == NULL);
    CHECK(lc_fetch_row(res) == NULL && lc_fetch_row(res) == NULL);
    lc_free_result(res);
    CHECK(lc_store_result(h) == NULL && lc_errno(h) == 0);

    CHECK_STR(rows_of(h, "SELECT * FROM people"), ALL);
    CHECK_STR(rows_of(h, "  select score , name from people ;  "),
              "81.50,alice|64.25,bob|92.75,carol|55.00,dave|73.10,eve");
    CHECK_STR(rows_of(h, "SELECT name,name FROM people LIMIT 2"), "alice,alice|bob,bob");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age > 20 LIMIT 2"), "alice|bob");
    CHECK(lc_affected_rows(h) == 2);
    CHECK(lc_query(h, "SELECT * FROM people LIMIT 0") == 0);
    res = lc_store_result(h);
    CHECK(res != NULL && lc_num_rows(res) == 0 && res->rows == NULL && lc_fetch_row(res) == NULL);
    lc_free_result(res);

    /* each operator on each type */
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name = 'bob'"), "bob");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name != 'bob'"), "alice|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name <> 'bob'"), "alice|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name < 'bob'"), "alice");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name < 'bo'"), "alice");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name <= 'bob'"), "alice|bob");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name > 'carol'"), "dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name >= 'carol'"), "carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name > 'caro'"), "carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age = 27"), "bob");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age != 27"), "alice|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age <> 27"), "alice|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age < 30"), "bob|dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age <= 27"), "bob|dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age > 38"), "carol");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age >= 38"), "carol|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE age > -1"), "alice|bob|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score = 55"), "dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score != 73.1"), "alice|bob|carol|dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score <> 73.10"), "alice|bob|carol|dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score < 64.25"), "dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score <= 64.25"), "bob|dave");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score > 81.5"), "carol");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score >= 81.50"), "alice|carol");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE score>=-0.5"), "alice|bob|carol|dave|eve");
    CHECK_STR(rows_of(h, "SELECT name FROM people WHERE name = 'nobody'"), "");
    CHECK(lc_close(h) == 0);
}

static void test_modify(void)
{
    LC *h = connect_ok();
    CHECK(lc_query(h, "INSERT INTO people VALUES ('o''neil\\n\\Z\\%', -5, 1)") == 0);
    CHECK(lc_affected_rows(h) == 1 && lc_field_count(h) == 0);
    CHECK(lc_store_result(h) == NULL && lc_errno(h) == 0);
    CHECK_STR(rows_of(h, "SELECT * FROM people WHERE age < 0"), "o'neil\n\x1a%,-5,1.00");
    /* a raw NUL inside a text literal, query given by (pointer, length) */
    static const char ins[] = "insert into people values ('a\0b', 9223372036854775807, -0.125)";
    CHECK(lc_real_query(h, ins, sizeof ins - 1) == 0);
    CHECK_STR(rows_of(h, "SELECT * FROM people WHERE age > 100"), "a\\0b,9223372036854775807,-0.12");
    CHECK(lc_query(h, "INSERT INTO people VALUES ('min', -9223372036854775808, 1e5)") != 0);
    CHECK(lc_query(h, "INSERT INTO people VALUES ('min', -9223372036854775808, 100000.004)") == 0);
    CHECK_STR(rows_of(h, "SELECT age, score FROM people WHERE name = 'min'"),
              "-9223372036854775808,100000.00");
    CHECK(lc_query(h, "DELETE FROM people WHERE age < 0") == 0);
    CHECK(lc_affected_rows(h) == 2);
    CHECK(lc_query(h, "DELETE FROM people WHERE name = 'a'") == 0 && lc_affected_rows(h) == 0);
    CHECK(lc_query(h, "DELETE FROM people WHERE age > 100") == 0);
    CHECK(lc_affected_rows(h) == 1);
    CHECK_STR(rows_of(h, "SELECT * FROM people"), ALL);
    char *st = lc_stat(h);
    CHECK_STR(st, "Queries: 10  Rows: 5");
    lc_free(st);
    /* many inserts: the table grows */
    for (int i = 0; i < 40; i++)
        CHECK(lc_query(h, "INSERT INTO people VALUES ('', 0, 0)") == 0);
    CHECK(lc_query(h, "DELETE FROM people") == 0 && lc_affected_rows(h) == 45);
    CHECK_STR(rows_of(h, "SELECT * FROM people"), "");
    st = lc_stat(h);
    CHECK_STR(st, "Queries: 52  Rows: 0");
    selftest_alloc_stats a = stats();
    lc_free(st);
    CHECK(stats().live_bytes == a.live_bytes - strlen("Queries: 52  Rows: 0") - 1);
    CHECK(lc_close(h) == 0);
}

static void test_errors(void)
{
    LC *h = connect_ok();
    char many[512] = "SELECT ";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",name" : "name");
    strcat(many, " FROM people");

#define E(sql, want) CHECK_STR(error_of(h, sql, (unsigned long)strlen(sql)), want)
    E("SELECT FROM people", "1 1064 You have an error in your SQL syntax at offset 7");
    E("SELECT * FROM people WHERE", "1 1064 You have an error in your SQL syntax at offset 26");
    E("SELECT * FROM people WHERE name = 'abc", "1 1064 You have an error in your SQL syntax at offset 34");
    E("SELECT * FROM people WHERE name = 'abc\\'", "1 1064 You have an error in your SQL syntax at offset 34");
    E("SELECT * FROM people WHERE age = 9223372036854775808", "1 1064 You have an error in your SQL syntax at offset 33");
    E("SELECT * FROM people WHERE age = -9223372036854775809", "1 1064 You have an error in your SQL syntax at offset 33");
    E("SELECT * FROM people WHERE age = 99999999999999999999 @", "1 1064 You have an error in your SQL syntax at offset 33");
    E("SELECT * FROM people WHERE age = ?", "1 1064 You have an error in your SQL syntax at offset 33");
    E("SELECT * FROM people @", "1 1064 You have an error in your SQL syntax at offset 21");
    E("SELECT * FROM people;;", "1 1064 You have an error in your SQL syntax at offset 21");
    E("SELECT * FROM people LIMIT -1", "1 1064 You have an error in your SQL syntax at offset 27");
    E("SELECT * FROM people LIMIT 1.5", "1 1064 You have an error in your SQL syntax at offset 27");
    E("SELECT * FROM people WHERE age ! 3", "1 1064 You have an error in your SQL syntax at offset 31");
    E("SELECT * FROM people WHERE age = 1.", "1 1064 You have an error in your SQL syntax at offset 34");
    E("SELECT * FROM select", "1 1064 You have an error in your SQL syntax at offset 14");
    E("; SELECT * FROM people", "1 1064 You have an error in your SQL syntax at offset 0");
    E("UPDATE people", "1 1064 You have an error in your SQL syntax at offset 0");
    E("INSERT INTO people VALUES (1, 2)", "1 1064 You have an error in your SQL syntax at offset 31");
    E(many, "1 1064 You have an error in your SQL syntax at offset 87");
    E("SELECT nope FROM x WHERE y = 1", "1 1146 Table 'shop.x' doesn't exist");
    E("SELECT name, bogus FROM people WHERE other = 1", "1 1054 Unknown column 'bogus'");
    E("SELECT name FROM people WHERE other = 'x'", "1 1054 Unknown column 'other'");
    E("SELECT Name FROM people", "1 1054 Unknown column 'Name'");
    E("SELECT name FROM People", "1 1146 Table 'shop.People' doesn't exist");
    E("SELECT * FROM people WHERE age = 'x'", "1 1366 Incorrect value for column 'age'");
    E("SELECT * FROM people WHERE age = 1.5", "1 1366 Incorrect value for column 'age'");
    E("SELECT * FROM people WHERE name = 3", "1 1366 Incorrect value for column 'name'");
    E("SELECT * FROM people WHERE score = 'x'", "1 1366 Incorrect value for column 'score'");
    E("INSERT INTO people VALUES (1, 'x', 'y')", "1 1366 Incorrect value for column 'name'");
    E("INSERT INTO people VALUES ('a', 1.5, 'y')", "1 1366 Incorrect value for column 'age'");
    E("INSERT INTO people VALUES ('a', 1, 'y')", "1 1366 Incorrect value for column 'score'");
    E("", "1 1065 Query was empty");
    E("  ; \n\t;", "1 1065 Query was empty");
    CHECK_STR(error_of(h, NULL, 0), "1 1065 Query was empty");
    CHECK(lc_query(h, NULL) == LC_ER_EMPTY_QUERY);

    static char big[LC_MAX_QUERY_LEN + 2];
    memset(big, ' ', sizeof big - 1);
    CHECK_STR(error_of(h, big, LC_MAX_QUERY_LEN + 1), "1 1153 Query is longer than 65536 bytes");
    CHECK_STR(error_of(h, big, LC_MAX_QUERY_LEN), "1 1065 Query was empty");
    memcpy(big + LC_MAX_QUERY_LEN - 20, "SELECT * FROM people", 20);
    CHECK_STR(error_of(h, big, LC_MAX_QUERY_LEN), "0 0 ");
    memcpy(big, "SELECT", 6); /* the length check comes first */
    CHECK_STR(error_of(h, big, LC_MAX_QUERY_LEN + 1), "1 1153 Query is longer than 65536 bytes");

    /* (pointer, length): a NUL byte is an unknown character, bytes past length ignored */
    static const char nul[] = "SELECT * FROM people\0 garbage";
    CHECK_STR(error_of(h, nul, 20), "0 0 ");
    CHECK_STR(error_of(h, nul, 21), "1 1064 You have an error in your SQL syntax at offset 20");
    CHECK_STR(error_of(h, "SELECT * FROM peoplex", 20), "0 0 ");

    /* out of sync */
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    CHECK(lc_query(h, "SELECT * FROM people") == LC_CR_COMMANDS_OUT_OF_SYNC);
    CHECK_STR(lc_error(h), "Commands out of sync; you can't run this command now");
    CHECK(lc_field_count(h) == 3);
    CHECK_STR(rows_of(h, "SELECT name FROM people LIMIT 1") , "ERR 2014 Commands out of sync; you can't run this command now");
    LC_RES *res = lc_store_result(h);
    CHECK(res != NULL && lc_num_rows(res) == 5);
    lc_free_result(res);
    CHECK_STR(rows_of(h, "SELECT name FROM people LIMIT 1"), "alice");
    /* errors are cleared by the next call */
    E("SELECT FROM", "1 1064 You have an error in your SQL syntax at offset 7");
    CHECK(lc_field_count(h) == 0 && lc_affected_rows(h) == 0);
    CHECK(lc_query(h, "DELETE FROM people WHERE age = 19") == 0 && lc_errno(h) == 0 &&
          lc_error(h)[0] == '\0');
#undef E
    CHECK(lc_close(h) == 0);
}

static void test_escape(void)
{
    char out[64];
    static const char in[] = "a\0b\nc\rd\\e'f\"g\x1ah";
    unsigned long n = lc_real_escape_string(NULL, out, in, sizeof in - 1);
    static const char want[] = "a\\0b\\nc\\rd\\\\e\\'f\\\"g\\Zh";
    CHECK(n == sizeof want - 1 && memcmp(out, want, sizeof want) == 0);
    CHECK(lc_real_escape_string(NULL, out, "", 0) == 0 && out[0] == '\0');
}

static int count_rows(void *data, unsigned int fields, LC_ROW row, const unsigned long *lengths)
{
    int *n = data;
    CHECK(fields == 2 && row != NULL && lengths != NULL && lengths[0] == strlen(row[0]));
    (*n)++;
    return 0;
}

static int stop_at_second(void *data, unsigned int fields, LC_ROW row, const unsigned long *lengths)
{
    int *n = data;
    (void)fields;
    (void)row;
    (void)lengths;
    return ++*n == 2;
}

static void test_callback(void)
{
    LC *h = connect_ok();
    int n = 0;
    lc_set_row_callback(h, count_rows, &n);
    CHECK_STR(rows_of(h, "SELECT name, age FROM people"), "alice,34|bob,27|carol,45|dave,19|eve,38");
    CHECK(n == 5);
    selftest_alloc_stats a = stats();
    n = 0;
    lc_set_row_callback(h, stop_at_second, &n);
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    CHECK(lc_store_result(h) == NULL);
    CHECK(n == 2 && lc_errno(h) == LC_ER_QUERY_INTERRUPTED);
    CHECK_STR(lc_error(h), "Query execution was interrupted");
    CHECK(stats().live_blocks == a.live_blocks && stats().live_bytes == a.live_bytes);
    CHECK(lc_query(h, "SELECT * FROM people") == 0); /* not out of sync */
    lc_set_row_callback(h, NULL, &n);
    CHECK(h->row_callback == NULL);
    LC_RES *res = lc_store_result(h);
    CHECK(res != NULL && n == 2 && lc_num_rows(res) == 5);
    lc_free_result(res);
    CHECK(lc_close(h) == 0);
}

static void test_footprint(void)
{
    LC *h = connect_ok();
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    selftest_alloc_stats a = stats();
    LC_RES *res = lc_store_result(h);
    selftest_alloc_stats b = stats();
    CHECK(res != NULL);
    uint64_t bytes = sizeof(LC_RES) + 3 * sizeof(LC_FIELD) + 5 * sizeof(LC_ROW);
    LC_ROW row;
    while ((row = lc_fetch_row(res)) != NULL) {
        unsigned long *len = lc_fetch_lengths(res);
        bytes += 3 * sizeof(char *) + 3 * sizeof(unsigned long);
        for (int i = 0; i < 3; i++)
            bytes += len[i] + 1;
    }
    /* the pending row numbers (5 x uint32_t) were freed by the store */
    CHECK(b.live_blocks - a.live_blocks + 1 == 2 + 1 + 5);
    CHECK(b.live_bytes + 5 * sizeof(uint32_t) - a.live_bytes == bytes);
    lc_free_result(res);
    CHECK(stats().live_blocks == a.live_blocks - 1);
    CHECK(lc_close(h) == 0);
}

static void test_statements(void)
{
    LC *h = connect_ok();
    LC_STMT *s = lc_stmt_init(h);
    LC_STMT *s2 = lc_stmt_init(h);
    CHECK(s != NULL && s2 != NULL && h->open_statements == 2);
    CHECK(lc_close(h) == LC_CR_BUSY);
    CHECK_STR(lc_error(h), "Connection has 2 open statements");

    CHECK(lc_stmt_execute(s) == LC_CR_NO_PREPARED_STMT);
    CHECK_STR(lc_stmt_error(s), "Statement not prepared");
    CHECK(lc_stmt_bind_int(s, 0, 1) == LC_CR_NO_PREPARED_STMT);
    CHECK(lc_stmt_expanded_sql(s) == NULL && lc_stmt_errno(s) == LC_CR_NO_PREPARED_STMT);
    CHECK(lc_stmt_param_count(s) == 0);

    const char *q = "SELECT name FROM people WHERE age > ?";
    CHECK(lc_stmt_prepare(s, q, (unsigned long)strlen(q)) == 0);
    CHECK(lc_stmt_param_count(s) == 1);
    CHECK(lc_stmt_execute(s) == LC_CR_PARAMS_NOT_BOUND);
    CHECK_STR(lc_stmt_error(s), "No data supplied for parameters in prepared statement");
    CHECK(lc_stmt_bind_int(s, 1, 30) == LC_CR_INVALID_PARAMETER_NO);
    CHECK_STR(lc_stmt_error(s), "Invalid parameter number");
    char *sql = lc_stmt_expanded_sql(s);
    CHECK_STR(sql, "SELECT name FROM people WHERE age > ?");
    lc_free(sql);
    CHECK(lc_stmt_bind_text(s, 0, "x", 1) == 0);
    CHECK(lc_stmt_execute(s) == LC_ER_WRONG_VALUE);
    CHECK_STR(lc_stmt_error(s), "Incorrect value for column 'age'");
    CHECK(lc_stmt_bind_double(s, 0, 1.0) == 0);
    CHECK(lc_stmt_execute(s) == LC_ER_WRONG_VALUE);
    CHECK(lc_stmt_bind_int(s, 0, 30) == 0 && lc_stmt_errno(s) == 0);
    selftest_alloc_stats a = stats();
    sql = lc_stmt_expanded_sql(s);
    CHECK_STR(sql, "SELECT name FROM people WHERE age > 30");
    CHECK(stats().live_bytes == a.live_bytes + strlen(sql) + 1 && stats().live_blocks == a.live_blocks + 1);
    lc_free(sql);
    LC_RES *meta = lc_stmt_result_metadata(s);
    CHECK(meta != NULL && meta->row_count == 0 && meta->rows == NULL && meta->field_count == 1);
    CHECK(stats().live_bytes == a.live_bytes + sizeof(LC_RES) + sizeof(LC_FIELD));
    CHECK(strcmp(lc_fetch_field_direct(meta, 0)->name, "name") == 0 && lc_fetch_row(meta) == NULL);
    lc_free_result(meta);
    CHECK(lc_stmt_store_result(s) == NULL && lc_stmt_errno(s) == 0);
    CHECK(lc_stmt_execute(s) == 0 && lc_stmt_affected_rows(s) == 3);
    CHECK(lc_query(h, "SELECT * FROM people") == LC_CR_COMMANDS_OUT_OF_SYNC);
    CHECK(lc_stmt_execute(s2) == LC_CR_NO_PREPARED_STMT);
    char buf[256];
    LC_RES *res = lc_stmt_store_result(s);
    CHECK(res != NULL);
    render(res, buf, sizeof buf);
    CHECK_STR(buf, "alice|carol|eve");
    CHECK(lc_stmt_bind_int(s, 0, 100) == 0 && lc_stmt_execute(s) == 0);
    res = lc_stmt_store_result(s);
    CHECK(res != NULL && lc_num_rows(res) == 0);
    lc_free_result(res);

    /* INSERT with parameters updates the handle's table */
    q = "INSERT INTO people VALUES (?, ?, ?)";
    CHECK(lc_stmt_prepare(s2, q, (unsigned long)strlen(q)) == 0 && lc_stmt_param_count(s2) == 3);
    CHECK(lc_stmt_result_metadata(s2) == NULL && lc_stmt_errno(s2) == 0);
    CHECK(lc_stmt_bind_text(s2, 0, "o'x\n", 4) == 0);
    CHECK(lc_stmt_bind_int(s2, 1, 7) == 0);
    CHECK(lc_stmt_bind_int(s2, 2, 3) == 0);
    sql = lc_stmt_expanded_sql(s2);
    CHECK_STR(sql, "INSERT INTO people VALUES ('o\\'x\\n', 7, 3)");
    lc_free(sql);
    CHECK(lc_stmt_bind_double(s2, 2, 1.5) == 0);
    sql = lc_stmt_expanded_sql(s2);
    CHECK_STR(sql, "INSERT INTO people VALUES ('o\\'x\\n', 7, 1.50)");
    lc_free(sql);
    CHECK(lc_stmt_execute(s2) == 0 && lc_stmt_affected_rows(s2) == 1);
    CHECK(lc_stmt_bind_int(s2, 2, 2) == 0 && lc_stmt_execute(s2) == 0);
    CHECK_STR(rows_of(h, "SELECT * FROM people WHERE age = 7"), "o'x\n,7,1.50|o'x\n,7,2.00");
    char *st = lc_stat(h);
    CHECK_STR(st, "Queries: 5  Rows: 7");
    lc_free(st);
    CHECK(lc_stmt_bind_int(s2, 0, 1) == 0 && lc_stmt_execute(s2) == LC_ER_WRONG_VALUE);
    CHECK_STR(lc_stmt_error(s2), "Incorrect value for column 'name'");

    /* prepare errors; a failed prepare leaves the statement unprepared */
    CHECK(lc_stmt_prepare(s2, "DELETE FROM nope WHERE age = ?", 30) == LC_ER_NO_SUCH_TABLE);
    CHECK_STR(lc_stmt_error(s2), "Table 'shop.nope' doesn't exist");
    CHECK(lc_stmt_param_count(s2) == 0 && lc_stmt_execute(s2) == LC_CR_NO_PREPARED_STMT);
    CHECK(lc_stmt_prepare(s2, "SELECT * FROM people WHERE name = 3", 35) == LC_ER_WRONG_VALUE);
    CHECK(lc_stmt_prepare(s2, "SELECT * FROM people WHERE", 26) == LC_ER_PARSE);
    CHECK_STR(lc_stmt_error(s2), "You have an error in your SQL syntax at offset 26");
    CHECK(lc_stmt_prepare(s2, "", 0) == LC_ER_EMPTY_QUERY);
    /* DELETE with a parameter, re-prepare replaces the old parse */
    CHECK(lc_stmt_prepare(s2, "DELETE FROM people WHERE name = ?;", 34) == 0);
    CHECK(lc_stmt_prepare(s2, "DELETE FROM people WHERE age = ?", 32) == 0);
    CHECK(lc_stmt_bind_int(s2, 0, 7) == 0 && lc_stmt_execute(s2) == 0);
    CHECK(lc_stmt_affected_rows(s2) == 2);
    CHECK_STR(rows_of(h, "SELECT * FROM people"), ALL);

    /* pending statement rows: closing the statement releases them */
    CHECK(lc_stmt_execute(s) == 0);
    CHECK(lc_stmt_execute(s2) == LC_CR_COMMANDS_OUT_OF_SYNC);
    CHECK(lc_stmt_close(s) == 0);
    CHECK(lc_close(h) == LC_CR_BUSY);
    CHECK_STR(lc_error(h), "Connection has 1 open statements");
    CHECK(lc_stmt_close(s2) == 0);
    CHECK(lc_stmt_close(NULL) == 0);
    CHECK(lc_close(h) == 0);
}

/* Everything once; any failure must be out of memory and leave nothing behind. */
static void workload(void)
{
    int n = 0;
    char *sql;
    LC_RES *res;
    LC *h = lc_init();
    if (h == NULL)
        return;
    if (lc_real_connect(h, "h", "lab", "lab", "shop", 0) == NULL) {
        CHECK(lc_errno(h) == LC_CR_OUT_OF_MEMORY);
        goto close;
    }
    lc_set_row_callback(h, count_rows, &n);
    if (lc_query(h, "SELECT name, score FROM people WHERE name <> 'zed' LIMIT 4") != 0)
        goto oom_h;
    res = lc_store_result(h);
    if (res == NULL)
        goto oom_h;
    while (lc_fetch_row(res) != NULL)
        ;
    lc_free_result(res);
    lc_set_row_callback(h, NULL, NULL);
    if (lc_query(h, "INSERT INTO people VALUES ('zed', 1, 2.5)") != 0)
        goto oom_h;
    for (int i = 0; i < 5; i++) /* grow the table */
        if (lc_query(h, "INSERT INTO people VALUES ('', 1, 2.5)") != 0)
            goto oom_h;
    if (lc_query(h, "DELETE FROM people WHERE name = ''") != 0)
        goto oom_h;

    LC_STMT *s = lc_stmt_init(h);
    if (s == NULL)
        goto oom_h;
    if (lc_stmt_prepare(s, "SELECT * FROM people WHERE name >= ?", 36) != 0 ||
        lc_stmt_bind_text(s, 0, "c", 1) != 0 || lc_stmt_execute(s) != 0)
        goto oom_s;
    res = lc_stmt_store_result(s);
    if (res == NULL)
        goto oom_s;
    while (lc_fetch_row(res) != NULL)
        ;
    lc_free_result(res);
    res = lc_stmt_result_metadata(s);
    if (res == NULL)
        goto oom_s;
    lc_free_result(res);
    sql = lc_stmt_expanded_sql(s);
    if (sql == NULL)
        goto oom_s;
    lc_free(sql);
    if (lc_stmt_prepare(s, "INSERT INTO people VALUES (?, ?, 1.25)", 38) != 0 ||
        lc_stmt_bind_text(s, 0, "q'", 2) != 0 || lc_stmt_bind_int(s, 1, 3) != 0 ||
        lc_stmt_execute(s) != 0)
        goto oom_s;
    sql = lc_stmt_expanded_sql(s);
    if (sql == NULL)
        goto oom_s;
    lc_free(sql);
    CHECK(lc_stmt_close(s) == 0);
    sql = lc_stat(h);
    if (sql == NULL)
        goto oom_h;
    lc_free(sql);
    goto close;
oom_s:
    CHECK(lc_stmt_errno(s) == LC_CR_OUT_OF_MEMORY);
    CHECK(lc_stmt_close(s) == 0);
    goto close;
oom_h:
    CHECK(lc_errno(h) == LC_CR_OUT_OF_MEMORY);
close:
    CHECK(lc_close(h) == 0);
}

static void test_fault_injection(void)
{
    for (int persistent = 0; persistent <= 1; persistent++) {
        uint64_t n;
        for (n = 1; n < 100000; n++) {
            selftest_alloc_fail_nth(n, persistent);
            workload();
            int completed = selftest_alloc_fail_pending() != 0;
            selftest_alloc_fail_nth(0, 0);
            if (stats().live_blocks != 0) {
                fprintf(stderr, "leak after failing allocation %llu (persistent %d): %llu blocks\n",
                        (unsigned long long)n, persistent,
                        (unsigned long long)stats().live_blocks);
                failures++;
                return;
            }
            if (completed)
                break;
        }
        printf("fault injection (persistent=%d): %llu allocation points, all clean\n", persistent,
               (unsigned long long)n - 1);
        CHECK(n > 30);
    }
}

/* BUG#29909157: one LC_DOUBLE_BUF_SIZE block per DOUBLE value per row stays live. */
static void test_compat_float_leak(void)
{
    LC *h = connect_ok();
    selftest_alloc_stats a = stats();
    lc_free_result(lc_store_result(h)); /* nothing pending: no-op */
    CHECK(lc_query(h, "SELECT name, age FROM people") == 0);
    lc_free_result(lc_store_result(h));
    lc_set_compat_float_leak(h, 1);
    CHECK(lc_query(h, "SELECT name, age FROM people") == 0); /* no DOUBLE: no leak */
    lc_free_result(lc_store_result(h));
    CHECK(stats().live_blocks == a.live_blocks && stats().live_bytes == a.live_bytes);
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    lc_free_result(lc_store_result(h));
    CHECK(stats().live_blocks == a.live_blocks + 5);
    CHECK(stats().live_bytes == a.live_bytes + 5 * LC_DOUBLE_BUF_SIZE);
    /* the same through a prepared statement: 2 rows x 2 DOUBLE values */
    LC_STMT *s = lc_stmt_init(h);
    CHECK(lc_stmt_prepare(s, "SELECT score, score FROM people LIMIT 2", 39) == 0);
    CHECK(lc_stmt_execute(s) == 0);
    lc_free_result(lc_stmt_store_result(s));
    CHECK(lc_stmt_close(s) == 0);
    CHECK(stats().live_blocks == a.live_blocks + 9);
    lc_set_compat_float_leak(h, 0);
    CHECK(lc_query(h, "SELECT score, score FROM people LIMIT 2") == 0);
    lc_free_result(lc_store_result(h));
    CHECK(stats().live_blocks == a.live_blocks + 9);
    CHECK(lc_close(h) == 0);
}

static void test_no_compat_leak(void)
{
    LC *h = connect_ok();
    selftest_alloc_stats a = stats();
    LC_STMT *s = lc_stmt_init(h);
    CHECK(lc_stmt_prepare(s, "SELECT score, score FROM people", 31) == 0 && lc_stmt_execute(s) == 0);
    lc_free_result(lc_stmt_store_result(s));
    CHECK(lc_query(h, "SELECT * FROM people") == 0);
    lc_free_result(lc_store_result(h));
    CHECK(lc_stmt_close(s) == 0);
    CHECK(stats().live_blocks == a.live_blocks && stats().live_bytes == a.live_bytes);
    CHECK(lc_close(h) == 0);
}

int main(int argc, char **argv)
{
    int leak = 1, only_leak = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-intentional-leak") == 0)
            leak = 0;
        else if (strcmp(argv[i], "--only-intentional-leak") == 0)
            only_leak = 1;
    }
    if (!only_leak) {
        test_alloc();
        test_connect();
        test_select();
        test_modify();
        test_errors();
        test_escape();
        test_callback();
        test_footprint();
        test_statements();
        test_no_compat_leak();
        CHECK(stats().live_blocks == 0 && stats().live_bytes == 0);
        test_fault_injection();
    }
    if (leak || only_leak) {
        test_compat_float_leak();
        CHECK(stats().live_blocks == 9 && stats().live_bytes == 9 * LC_DOUBLE_BUF_SIZE);
    } else {
        CHECK(stats().live_blocks == 0 && stats().live_bytes == 0);
    }
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
