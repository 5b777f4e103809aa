"""Dataset writers: from poses + intrinsics to dataset formats (see README.md). Plain Python."""
