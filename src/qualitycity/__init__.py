"""Quality City Platform: the software a city runs its quality-improvement programme on."""

__version__ = "0.1.0"
