"""Proof: evidence store, hashing, custody log, listings; later seal, verify, export.

This package never imports ``acquisition``, ``parsers`` or ``vmforensics``.
"""
