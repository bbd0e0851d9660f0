# syntax=docker/dockerfile:1
# hpo-operator image: `make image`. The install steps live in hack/install-wheel.sh, which
# tests/ship/test_image_steps.py runs in a clean venv, so this file and the test cannot drift.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/lock.txt
COPY operator operator
COPY hack/install-wheel.sh hack/install-wheel.sh
RUN hack/install-wheel.sh /src /opt/hpo-operator

FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="hpo-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon SageMaker hyperparameter tuning jobs (ACK-compatible HyperParameterTuningJob)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
COPY --from=build /opt/hpo-operator /opt/hpo-operator
# HOME and TMPDIR point at /tmp, which the chart mounts as an emptyDir: the root filesystem stays
# read-only. No .pyc is written at run time (it was compiled at install time).
ENV PATH=/opt/hpo-operator/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["hpo-operator", "run"]
