"""The command line: a typer app that parses, calls the library surface, and prints; it decides nothing."""
