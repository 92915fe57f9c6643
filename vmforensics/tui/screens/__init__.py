"""One module per screen of the responder's UI."""
