/* lexer.c: tokens of the query grammar (see connector.h). */
#include "lexer.h"

#include <stdlib.h>
#include <string.h>

#include <stdlib.h>

#include "bytes.h"

int lc_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static int is_ident_char(unsigned char c) { return is_ident_start(c) || is_digit(c); }

void lc_lexer_init(lc_lexer *lx, const char *src, size_t len)
{
    lx->src = src;
    lx->len = len;
    lx->pos = 0;
}

static unsigned char at(const lc_lexer *lx, size_t i)
{
    return i < lx->len ? (unsigned char)lx->src[i] : 0;
}

static void lex_number(lc_lexer *lx, lc_token *tok)
{
    size_t p = lx->pos;
    int neg = 0;
    if (at(lx, p) == '-') {
        neg = 1;
        p++;
    }
    size_t digits = p;
    while (p < lx->len && is_digit(at(lx, p)))
        p++;
    size_t int_end = p;
    int decimal = 0;
    if (p + 1 < lx->len && at(lx, p) == '.' && is_digit(at(lx, p + 1))) {
        decimal = 1;
        p++;
        while (p < lx->len && is_digit(at(lx, p)))
            p++;
    }
    tok->negative = neg;
    tok->len = p - tok->off;
    if (decimal) {
        /* strtod needs a NUL-terminated copy; the query is (pointer, length). */
        char *copy = lc_copy_bytes(lx->src + tok->off, tok->len);
        if (copy == NULL) {
            tok->kind = TK_OOM;
            return;
        }
        tok->kind = TK_DECIMAL;
        tok->dval = strtod(copy, NULL);
        free(copy);
    } else {
        /* Magnitude up to 2^63 (negative) or 2^63 - 1, else it does not fit int64. */
        const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        uint64_t v = 0;
        for (size_t i = digits; i < int_end; i++) {
            unsigned d = (unsigned)(at(lx, i) - '0');
            if (v > (limit - d) / 10) {
                tok->kind = TK_BAD;
                lx->pos = p;
                return;
            }
            v = v * 10 + d;
        }
        tok->kind = TK_INT;
        if (neg)
            tok->ival = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
        else
            tok->ival = (int64_t)v;
    }
    lx->pos = p;
}

/* Scans a text literal starting at the opening quote; returns 0 if unterminated. */
static int scan_text(const lc_lexer *lx, size_t start, size_t *end)
{
    size_t p = start + 1;
    while (p < lx->len) {
        unsigned char c = at(lx, p);
        if (c == '\\') {
            if (p + 1 >= lx->len)
                return 0;
            p += 2;
        } else if (c == '\'') {
            if (p + 1 < lx->len && at(lx, p + 1) == '\'') {
                p += 2;
            } else {
                *end = p + 1;
                return 1;
            }
        } else {
            p++;
        }
    }
    return 0;
}

void lc_lexer_next(lc_lexer *lx, lc_token *tok)
{
    while (lx->pos < lx->len && lc_is_space(at(lx, lx->pos)))
        lx->pos++;
    memset(tok, 0, sizeof *tok);
    tok->off = lx->pos;
    if (lx->pos >= lx->len) {
        tok->kind = TK_END;
        return;
    }
    unsigned char c = at(lx, lx->pos);
    unsigned char n = lx->pos + 1 < lx->len ? at(lx, lx->pos + 1) : 0;
    size_t width = 1;

    if (is_ident_start(c)) {
        size_t p = lx->pos + 1;
        while (p < lx->len && is_ident_char(at(lx, p)))
            p++;
        tok->kind = TK_IDENT;
        tok->len = p - lx->pos;
        lx->pos = p;
        return;
    }
    if (is_digit(c) || (c == '-' && lx->pos + 1 < lx->len && is_digit(n))) {
        lex_number(lx, tok);
        return;
    }
    if (c == '\'') {
        size_t end;
        if (!scan_text(lx, lx->pos, &end)) {
            tok->kind = TK_BAD;
            return;
        }
        tok->kind = TK_TEXT;
        tok->len = end - lx->pos;
        lx->pos = end;
        return;
    }
    switch (c) {
    case '*': tok->kind = TK_STAR; break;
    case ',': tok->kind = TK_COMMA; break;
    case '(': tok->kind = TK_LPAREN; break;
    case ')': tok->kind = TK_RPAREN; break;
    case ';': tok->kind = TK_SEMI; break;
    case '?': tok->kind = TK_QMARK; break;
    case '=': tok->kind = TK_EQ; break;
    case '!':
        if (n != '=') {
            tok->kind = TK_BAD;
            return;
        }
        tok->kind = TK_NE;
        width = 2;
        break;
    case '<':
        if (n == '=') {
            tok->kind = TK_LE;
            width = 2;
        } else if (n == '>') {
            tok->kind = TK_NE;
            width = 2;
        } else {
            tok->kind = TK_LT;
        }
        break;
    case '>':
        if (n == '=') {
            tok->kind = TK_GE;
            width = 2;
        } else {
            tok->kind = TK_GT;
        }
        break;
    default:
        tok->kind = TK_BAD;
        return;
    }
    tok->len = width;
    lx->pos += width;
}

int lc_token_is_keyword(const lc_lexer *lx, const lc_token *tok, const char *kw)
{
    size_t n = strlen(kw);
    if (tok->kind != TK_IDENT || tok->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lx->src[tok->off + i];
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (c != (unsigned char)kw[i])
            return 0;
    }
    return 1;
}

size_t lc_text_decode(const lc_lexer *lx, const lc_token *tok, char *out)
{
    const char *s = lx->src + tok->off;
    size_t end = tok->len - 1; /* index of the closing quote */
    size_t n = 0;
    for (size_t p = 1; p < end; p++) {
        char c = s[p];
        if (c == '\\') {
            p++;
            switch (s[p]) {
            case '0': c = '\0'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'Z': c = '\x1a'; break;
            default: c = s[p]; break;
            }
        } else if (c == '\'') {
            p++; /* '' stands for one quote */
        }
        if (out != NULL)
            out[n] = c;
        n++;
    }
    return n;
}
