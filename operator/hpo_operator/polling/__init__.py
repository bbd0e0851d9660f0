"""How SageMaker changes reach the resources between Kubernetes events: the shared poller
(one per region and endpoint) and the per-resource timers.
"""
