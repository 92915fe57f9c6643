"""iTunes/Finder backups: Manifest.db (iOS 10+) and Manifest.mbdb (iOS 5-9), encrypted or not."""

from acquisition.ios_backup.source import IosBackupSource

__all__ = ["IosBackupSource"]
