"""Red, black and watch lists: the catalogue (``config/lists.yaml``), dated publication periods
(``config/periods.yaml``), entries and their lawful lifecycle with a typed event history,
objections to entries and records, credit repair, expiry and decision deadlines.

Writes are in ``services`` (every act by a permitted actor of the owning department, with a
reason, logged as an event), reads in ``selectors``; ``api`` and the ``lists`` command are thin.
"""
