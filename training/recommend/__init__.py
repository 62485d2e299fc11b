"""Recommendations: popularity baselines, item-kNN, EASE, a LambdaRank re-ranker and a fast inference object."""
