"""Why a source could not be opened.

Each class is a reason a user can act on; the application maps all of them to exit
status 3 ("an input could not be opened or reached") with the message as written here.
Problems *inside* an opened source are not exceptions but :class:`acquisition.base.Problem`
values, so one bad member never stops the rest of the source.
"""


class AcquisitionError(Exception):
    """Base class: the source as a whole cannot be opened or reached."""


class SourceUnavailable(AcquisitionError):
    """Missing, unreadable, or gone (a device that disconnected)."""


class NotRecognised(AcquisitionError):
    """The input is not any source kind we know (and is not usable as a raw image)."""


class PasswordRequired(AcquisitionError):
    """The source is encrypted and no password was given."""


class WrongPassword(AcquisitionError):
    """The password given does not open the source."""


class EntryReadError(OSError):
    """Reading one entry failed part-way (truncated ciphertext, corrupt stream).

    Raised from a stream's ``read()`` *after* every byte that could be recovered was
    returned, so the caller keeps the prefix and records ``offset`` and the message.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset
