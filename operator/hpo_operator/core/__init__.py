"""The decisions: spec + observed state -> SageMaker calls, status, conditions, Events.

Pure: no I/O, no kopf, no AWS client. The shell runs them (`core.driver`).
"""
