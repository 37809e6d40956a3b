"""Data shipped with ioc: device profiles, the sample inventory, default rules."""
