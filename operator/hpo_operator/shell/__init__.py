"""The running operator: kopf handlers, settings, start-up, metrics, probes, logs, the stall
sweep."""
