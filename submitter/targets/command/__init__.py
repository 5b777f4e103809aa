"""The `command` target: any farm with a command-line client, driven by templates."""
