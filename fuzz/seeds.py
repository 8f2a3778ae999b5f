#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/connector_fuzz.c into fuzz/corpus/.

Each seed is a tape of operations (see the harness's header comment): an
opcode byte, a 16-bit little-endian length, the payload; a prepared
statement's parameters follow its operation.
"""
import os
import struct

QUERY, CQUERY, STMT, ESCAPE, CONNECT, STAT, HUGE, CALLBACK = range(8)


def op(code, payload=b""):
    return bytes([code]) + struct.pack("<H", len(payload)) + payload


def p_int(v):
    return b"\x00" + struct.pack("<q", v)


def p_double(v):
    return b"\x01" + struct.pack("<d", v)


def p_text(t):
    return b"\x02" + bytes([len(t)]) + t


SEEDS = {
    "select": op(QUERY, b"SELECT * FROM people"),
    "filters": op(QUERY, b"select name, age from people where age >= 34 LIMIT 2")
    + op(CQUERY, b"SELECT score FROM people WHERE score <> 55;")
    + op(QUERY, b"DELETE FROM people WHERE name < 'c'")
    + op(STAT),
    "long-double": op(QUERY, b"INSERT INTO people VALUES ('x', 1, 10000000000000000000000000000000.0)")
    + op(QUERY, b"SELECT score FROM people WHERE name = 'x'"),
    "prepared-insert": op(STMT, b"INSERT INTO people VALUES (?, ?, ?)")
    + p_text(b"new\n'line'\0") + p_int(7) + p_double(1e40)
    + op(QUERY, b"SELECT * FROM people"),
    "prepared-odd": op(STMT, b"SELECT name FROM people WHERE score <= ?")
    + p_double(float("nan"))
    + op(STMT, b"SELECT * FROM people WHERE age = ?")
    + b"\x80" + struct.pack("<q", 1)
    + op(STMT, b"INSERT INTO people VALUES ('a\0b', ?, 1.5)") + p_int(-1),
    "escape": op(ESCAPE, bytes(range(256))),
    "connect": op(CONNECT, "é".encode() * 300) + op(CONNECT, b"\x01" + b"d" * 600),
    "huge": op(HUGE, b" SELECT * FROM people;") + op(HUGE, b"SELECT * FROM people"),
    "callback": op(CALLBACK, b"\x02") + op(QUERY, b"SELECT * FROM people")
    + op(CALLBACK) + op(QUERY, b"SELECT name FROM people"),
    "errors": op(QUERY, b"SELECT * FROM people @")
    + op(QUERY, b"SELECT * FROM people WHERE name = 'unterminated")
    + op(QUERY, b"SELECT * FROM people WHERE age = 99999999999999999999")
    + op(QUERY, b"INSERT INTO people VALUES ('x', 1.5, 2)")
    + op(QUERY, b"SELECT height FROM users")
    + op(QUERY, b"   ;"),
}

here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "corpus"), exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(here, "corpus", name), "wb") as f:
        f.write(data)
