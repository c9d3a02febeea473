"""Corpora of speech described by speaker attributes: synthesis, importers, captions, evaluation suites."""
