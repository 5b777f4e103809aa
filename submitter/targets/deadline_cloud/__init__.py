"""The AWS Deadline Cloud target: Open Job Description job bundles, submitted with `deadline`."""
