"""The locust load test of the running service and its threshold gate."""
