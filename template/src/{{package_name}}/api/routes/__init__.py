"""Routers of the service."""
