"""Voicemail stores, one module per platform store."""
