"""The BentoML service that exposes shopml's predictions, plans and experiment evaluations."""
