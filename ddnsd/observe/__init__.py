"""The operator's view: events, metrics, health, the history, the status board,
notifications and heartbeats, all fed by one reporter (``report.py``)."""
