"""Registered model names and the alias the service serves: defined once, imported everywhere."""

CHURN = "churn"
CUSTOMER_VALUE = "customer_value"
RECOMMENDER = "recommender"
DEMAND_FORECAST = "demand_forecast"
ALL_MODELS = (CHURN, CUSTOMER_VALUE, RECOMMENDER, DEMAND_FORECAST)
CHAMPION_ALIAS = "champion"
