"""Where each strategy's names land in the logical tree of a file-system extraction.

Every strategy reports the same file under the same path (app data under
``data/data/<pkg>/``, shared storage under ``sdcard/``), so parsers need not care which
route brought it; the route stays in the entry's ``origin``.
"""

from __future__ import annotations

from acquisition.paths import join

# adb backup tokens (android.app.backup.FullBackup) and where the files live on the phone
_AB_TOKENS = {
    "db": "databases",
    "sp": "shared_prefs",
    "f": "files",
    "r": "",
    "c": "cache",
    "nb": "no_backup",
}
_AB_DE_TOKENS = {
    "d_db": "databases",
    "d_sp": "shared_prefs",
    "d_f": "files",
    "d_r": "",
    "d_c": "cache",
    "d_nb": "no_backup",
}


def device_to_logical(device_path: str) -> str:
    """``/data/user/0/x`` -> ``data/data/x``; ``/storage/emulated/0/y`` -> ``sdcard/y``."""
    p = "/" + device_path.strip("/")
    for shared in ("/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard", "/sdcard"):
        if p == shared or p.startswith(shared + "/"):
            return join("sdcard", p[len(shared) :])
    if p.startswith("/data/user/0/"):
        return join("data/data", p[len("/data/user/0/") :])
    return p.strip("/")


def backup_member_to_logical(name: str) -> str:
    """A member of an ``.ab`` tar (already sanitised) to its on-phone logical path."""
    parts = name.split("/")
    if len(parts) >= 3 and parts[0] == "apps":
        pkg, token, rest = parts[1], parts[2], "/".join(parts[3:])
        if token in _AB_TOKENS:
            return join("data/data", pkg, _AB_TOKENS[token], rest)
        if token in _AB_DE_TOKENS:
            return join("data/user_de/0", pkg, _AB_DE_TOKENS[token], rest)
        if token == "ef":
            return join("sdcard/Android/data", pkg, "files", rest)
    if len(parts) >= 3 and parts[0] == "shared":
        return join("sdcard", "/".join(parts[2:]))
    return join("adb-backup", name)
