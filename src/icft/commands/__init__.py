"""The command line's handlers: each reads files and flags, calls the library once, and prints (`icft.cli`
parses the arguments). Only these may name a CLI flag in an error."""
