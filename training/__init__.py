"""Model training: churn, customer value, recommendations and demand forecasts, tracked in MLflow."""
