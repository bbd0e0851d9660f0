"""What a tuning job is: botocore's SageMaker model, ACK's naming rule, the CRD, the request
and its validation.

No kopf, boto3, Kubernetes client or network here: pure functions over data.
"""
