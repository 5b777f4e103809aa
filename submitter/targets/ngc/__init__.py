"""The NVIDIA NGC target (kind: ngc): Base Command batch jobs through ngcsdk 3.169.4."""
