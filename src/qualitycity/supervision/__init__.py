"""Supervision: credit commitments, "double random, one public" inspections by credit class,
product-quality spot checks and incident self-reporting (``docs/supervision.md``).

The draw of an inspection plan is a pure function in ``draw.py`` (seed, pool snapshots, plan
parameters → tasks and inspectors); ``services`` stores it with its evidence and re-runs it to
verify. Writes are in ``services``, reads in ``selectors``; ``api``, ``views`` and the
``inspections`` / ``commitments`` commands are thin.
"""
