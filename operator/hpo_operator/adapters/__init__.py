"""The ports to the outside: SageMaker through botocore, Kubernetes through kopf's session,
client-side rate budgets, kopf's diff-base storage. No kopf handlers, no settings.
"""
