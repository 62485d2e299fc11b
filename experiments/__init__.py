"""A/B test statistics and deterministic variant assignment."""
