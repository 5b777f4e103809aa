"""The Alibaba Cloud BatchCompute target (kind: batchcompute), through the official `batchcompute` SDK."""
