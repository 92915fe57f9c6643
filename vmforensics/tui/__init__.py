"""The responder's terminal UI (``vmforensics tui``): case, devices, acquisition,
findings, seal. Screens call the application layer (case, pipeline, devices, sealing)
and never re-implement it."""
