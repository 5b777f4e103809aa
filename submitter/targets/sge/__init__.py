"""Grid Engine target: qsub script builder, command parsers, the target."""
