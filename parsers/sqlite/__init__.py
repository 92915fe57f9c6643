"""SQLite file-format reader and deleted-record recovery.

Reads databases, write-ahead logs and rollback journals byte by byte (never through the
SQLite library, which would checkpoint a WAL and cannot see freed space), and recovers
rows from older WAL frames, freelist pages, freeblocks, unallocated space and journals.
The public entry points are ``recover()`` and ``live_rows()`` in
:mod:`parsers.sqlite.recover`.
"""
