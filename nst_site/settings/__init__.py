"""Settings split by environment: ``development``, ``production`` and ``test``."""
