"""Data contracts, loaders, validation, the synthetic shop and point-in-time feature pipelines."""
