"""Entrypoints: the HTTP API, the command line. Thin: parse, call a service, render."""
