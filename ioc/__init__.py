"""ioc: monitoring backend of a municipal IoT operations centre."""

__version__ = "0.1.0"
