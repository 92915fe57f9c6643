"""What bytes mean: audio containers, voicemail stores, weak protection, SQLite recovery.

This package never imports ``acquisition``, ``chain_of_custody`` or ``vmforensics``.
Parsers read stored copies through :class:`parsers.base.Item` and report plain records
from :mod:`parsers.records`.
"""
