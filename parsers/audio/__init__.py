"""Audio containers: find them in any byte range, cut them to their exact stored length.

One module per container family (``amr``, ``riff``, ``mp3``, ``mp4``, ``ogg``, ``flac``,
``caf``, ``aiff``, ``gsm``) computes where an object that starts at a given offset ends;
``decode`` confirms a hit by decoding it; ``carve`` is the entry point the application
calls (:func:`parsers.audio.carve.carve`, :func:`~parsers.audio.carve.carve_file`,
:func:`~parsers.audio.carve.identify`, :func:`~parsers.audio.carve.headerless_amr`).
"""
