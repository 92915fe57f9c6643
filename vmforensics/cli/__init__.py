"""Command line: one ``cmd_<name>.py`` module per command, found by ``main``."""
