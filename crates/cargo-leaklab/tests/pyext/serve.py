"""One request per loop: a row (7 str columns) or a 200-byte payload
handed to an extension, and one line "request N" printed per request.

    python3 serve.py MODE COUNT [SLEEP]

MODE: rows (rows.fetch_row, leaks its buffer), rows-freed
(rows.fetch_row_freed, frees it) or records (records.keep_record, leaks
the bytes object by a reference too many). COUNT requests (0: until
stopped), SLEEP seconds between them (default 0.003: a line read by
the watcher before the next request comes, so that its count of requests
is the program's own when it samples the heap). The extensions are
imported from PYTHONPATH.
"""
import sys
import time

mode, count = sys.argv[1], int(sys.argv[2])
pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.003
if mode == "records":
    import records
    handle = records.keep_record
else:
    import rows
    handle = rows.fetch_row if mode == "rows" else rows.fetch_row_freed

n = 0
while count == 0 or n < count:
    if mode == "records":
        request = bytes([n % 256]) * 200
    else:
        # From a list: tuple(generator) grows a tuple and shrinks it with
        # realloc, and the 7-tuples it frees fill CPython's free list
        # (2000 kept) over the first 2000 requests.
        request = tuple([f"col{c}-{n}" for c in range(7)])
    handle(request)
    n += 1
    print("request", n, flush=True)
    if pause:
        time.sleep(pause)
