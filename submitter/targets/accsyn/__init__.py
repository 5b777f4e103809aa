"""The accsyn target: compute jobs through `accsyn-python-api`."""
