"""vmforensics: finds voicemail leaked by app bugs and proves it.

The application package: CLI, TUI, the pipeline that wires ``acquisition``, ``parsers``
and ``chain_of_custody``, findings and severity, reports, the case model and virtual
devices. Only this package knows all three libraries.
"""

__version__ = "0.1.0"
TOOL_NAME = "vmforensics"
