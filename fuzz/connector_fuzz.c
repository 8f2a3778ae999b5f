/*
 * libFuzzer harness over the connector's public API (csrc/connector/connector.h):
 * queries, prepared statements with bound parameters, expanded SQL, escaping,
 * connect errors, the row callback and lc_stat. Built with ASan and UBSan by
 * scripts/fuzz.sh; any memory error, undefined behaviour, leak (LeakSanitizer
 * runs at the end of every input) or broken API promise below stops the run.
 *
 * It uses nothing but connector.h, so it builds whatever the allocation layer
 * under the connector is.
 *
 * Input: a tape of operations. Each is one opcode byte, a 16-bit little-endian
 * length, then that many payload bytes (cut at the end of the input):
 *   0  lc_real_query(payload), store, fetch every row
 *   1  lc_query(payload up to its first NUL), store, fetch
 *   2  prepared statement: payload is the query; its parameters are bound
 *      from the bytes that follow the operation (see bind_params), then
 *      expanded SQL, execute, metadata, store, fetch
 *   3  lc_real_escape_string(payload)
 *   4  connect a second handle with payload as the user (and the database
 *      when the first byte is odd), then close it
 *   5  lc_stat
 *   6  payload padded with spaces to around LC_MAX_QUERY_LEN (the length
 *      check), then as 0
 *   7  set a row callback that stops after payload[0] rows (0: never), or
 *      clear it when the payload is empty
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connector/connector.h"

#define MAX_OPS 32

/* An API promise broken: stop with a crash libFuzzer records. */
#define REQUIRE(cond)              \
    do {                           \
        if (!(cond))               \
            __builtin_trap();      \
    } while (0)

typedef struct tape {
    const uint8_t *data;
    size_t left;
} tape;

static uint8_t take_byte(tape *t)
{
    if (t->left == 0)
        return 0;
    t->left--;
    return *t->data++;
}

static const uint8_t *take(tape *t, size_t *n)
{
    if (*n > t->left)
        *n = t->left;
    const uint8_t *p = t->data;
    t->data += *n;
    t->left -= *n;
    return p;
}

static uint64_t take_u64(tape *t)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)take_byte(t) << (8 * i);
    return v;
}

/* A NUL-terminated copy of n bytes (cut at an embedded NUL by C itself). */
static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    if (n != 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Reads every row of a result, checking the layout the header documents. */
static void drain(LC_RES *res)
{
    if (res == NULL)
        return;
    unsigned int nf = lc_num_fields(res);
    for (unsigned int i = 0; i < nf; i++) {
        const LC_FIELD *f = lc_fetch_field_direct(res, i);
        REQUIRE(f != NULL && f->name != NULL && strlen(f->name) == f->name_length);
    }
    REQUIRE(lc_fetch_field_direct(res, nf) == NULL);
    uint64_t rows = 0;
    LC_ROW row;
    while ((row = lc_fetch_row(res)) != NULL) {
        unsigned long *len = lc_fetch_lengths(res);
        REQUIRE(len != NULL);
        for (unsigned int i = 0; i < nf; i++)
            REQUIRE(row[i] != NULL && row[i][len[i]] == '\0');
        rows++;
    }
    REQUIRE(rows == lc_num_rows(res));
    REQUIRE(lc_fetch_lengths(res) == NULL);
    lc_free_result(res);
}

static void check_error(unsigned int code, const char *msg)
{
    REQUIRE(msg != NULL);
    size_t n = strlen(msg);
    REQUIRE(n < LC_ERRMSG_SIZE);
    REQUIRE((code == 0) == (n == 0));
}

static void run_query(LC *h, const char *q, unsigned long n, int real)
{
    int rc = real ? lc_real_query(h, q, n) : lc_query(h, q);
    check_error(lc_errno(h), lc_error(h));
    REQUIRE((unsigned int)rc == lc_errno(h));
    if (rc != 0)
        return;
    LC_RES *res = lc_store_result(h);
    check_error(lc_errno(h), lc_error(h));
    drain(res);
}

/* Binds each parameter from the tape: a kind byte (its high bit binds one
 * index past the count instead), then 8 bytes (INT, DOUBLE) or a length
 * byte and the text. A kind of 3 leaves the parameter unbound. */
static void bind_params(LC_STMT *s, tape *t)
{
    unsigned long count = lc_stmt_param_count(s);
    REQUIRE(count <= LC_MAX_PARAMS);
    for (unsigned long i = 0; i < count && t->left > 0; i++) {
        uint8_t kind = take_byte(t);
        unsigned int index = (unsigned int)((kind & 0x80) ? count + i : i);
        int rc = 0;
        switch (kind & 3) {
        case 0:
            rc = lc_stmt_bind_int(s, index, (long long)take_u64(t));
            break;
        case 1: {
            uint64_t bits = take_u64(t);
            double d;
            memcpy(&d, &bits, sizeof d);
            rc = lc_stmt_bind_double(s, index, d);
            break;
        }
        case 2: {
            size_t n = take_byte(t);
            const uint8_t *p = take(t, &n);
            rc = lc_stmt_bind_text(s, index, (const char *)p, (unsigned long)n);
            break;
        }
        default:
            continue;
        }
        REQUIRE(index < count ? rc == 0 : rc == LC_CR_INVALID_PARAMETER_NO);
        check_error(lc_stmt_errno(s), lc_stmt_error(s));
    }
}

static void run_statement(LC *h, const uint8_t *q, size_t n, tape *t)
{
    LC_STMT *s = lc_stmt_init(h);
    REQUIRE(s != NULL);
    int rc = lc_stmt_prepare(s, (const char *)q, (unsigned long)n);
    check_error(lc_stmt_errno(s), lc_stmt_error(s));
    if (rc == 0) {
        bind_params(s, t);
        char *sql = lc_stmt_expanded_sql(s);
        REQUIRE(sql != NULL);
        lc_free(sql);
        drain(lc_stmt_result_metadata(s));
        if (lc_stmt_execute(s) == 0)
            drain(lc_stmt_store_result(s));
        check_error(lc_stmt_errno(s), lc_stmt_error(s));
    }
    REQUIRE(lc_stmt_close(s) == 0);
}

static void run_escape(const uint8_t *p, size_t n)
{
    char *out = malloc(2 * n + 1);
    if (out == NULL)
        abort();
    unsigned long w = lc_real_escape_string(NULL, out, (const char *)p, (unsigned long)n);
    REQUIRE(w >= n && w <= 2 * n && out[w] == '\0');
    free(out);
}

static void run_connect(const uint8_t *p, size_t n)
{
    char *user = cstr(p, n);
    LC *h = lc_init();
    REQUIRE(h != NULL);
    const char *db = (n > 0 && (p[0] & 1)) ? user : "shop";
    LC *c = lc_real_connect(h, "localhost", user, "lab", db, 3306);
    check_error(lc_errno(h), lc_error(h));
    REQUIRE((c == NULL) == (lc_errno(h) != 0));
    REQUIRE(lc_close(h) == 0);
    free(user);
}

static void run_huge(LC *h, const uint8_t *p, size_t n)
{
    size_t total = LC_MAX_QUERY_LEN - 1 + (n > 0 ? p[0] % 4 : 0);
    char *q = malloc(total);
    if (q == NULL)
        abort();
    memset(q, ' ', total);
    memcpy(q, p, n < total ? n : total);
    run_query(h, q, (unsigned long)total, 1);
    if (total > LC_MAX_QUERY_LEN)
        REQUIRE(lc_errno(h) == LC_ER_NET_PACKET_TOO_LARGE);
    free(q);
}

static unsigned int stop_after;
static unsigned int seen;

static int on_row(void *user_data, unsigned int nf, LC_ROW row, const unsigned long *len)
{
    REQUIRE(user_data == &seen);
    for (unsigned int i = 0; i < nf; i++)
        REQUIRE(row[i][len[i]] == '\0');
    seen++;
    return stop_after != 0 && seen >= stop_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tape t = {data, size};
    LC *h = lc_init();
    REQUIRE(h != NULL);
    REQUIRE(lc_real_connect(h, "localhost", "lab", "lab", "shop", 3306) == h);
    seen = 0;
    for (int ops = 0; ops < MAX_OPS && t.left > 0; ops++) {
        uint8_t op = take_byte(&t);
        size_t n = take_byte(&t);
        n |= (size_t)take_byte(&t) << 8;
        const uint8_t *p = take(&t, &n);
        switch (op % 8) {
        case 0:
            run_query(h, (const char *)p, (unsigned long)n, 1);
            break;
        case 1: {
            char *q = cstr(p, n);
            run_query(h, q, 0, 0);
            free(q);
            break;
        }
        case 2:
            run_statement(h, p, n, &t);
            break;
        case 3:
            run_escape(p, n);
            break;
        case 4:
            run_connect(p, n);
            break;
        case 5: {
            char *stat = lc_stat(h);
            REQUIRE(stat != NULL);
            lc_free(stat);
            break;
        }
        case 6:
            run_huge(h, p, n);
            break;
        default:
            if (n == 0) {
                lc_set_row_callback(h, NULL, NULL);
            } else {
                stop_after = p[0];
                lc_set_row_callback(h, on_row, &seen);
            }
            break;
        }
    }
    REQUIRE(lc_close(h) == 0);
    return 0;
}
