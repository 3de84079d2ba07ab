# syntax=docker/dockerfile:1
# DeltaDatabase: one image for every role. `deltadb` is the entrypoint:
#   docker run ... deltadatabase            -> deltadb serve (all-in-one, handlers in-process)
#   docker run ... deltadatabase up         -> main worker + processing workers in one container
#   docker run ... deltadatabase worker     -> one processing worker (DELTADB_WORKER_SECRET)
# Configured only by the documented environment variables (README.md, Configuration);
# compose-localstack.yml and infra/k8s/ show the split topology.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a virtualenv with the pinned runtime dependencies and the package --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.txt constraints.txt ./
# requirements.txt is the Lambda bundle's list (boto3 comes with Lambda); a server also
# needs boto3, Chalice (the routes' framework), Granian with uvloop, localstack-client
# (--localstack) and prometheus-client (--metrics-port). Versions: constraints.txt.
RUN /opt/venv/bin/pip install -c constraints.txt -r requirements.txt boto3 chalice granian localstack-client prometheus-client rich uvloop
COPY pyproject.toml app.py ./
COPY chalicelib ./chalicelib
COPY local ./local
RUN /opt/venv/bin/pip install --no-deps .

# -- runtime: the virtualenv, a non-root user, nothing else --------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 deltadb \
    && useradd --system --uid 10001 --gid deltadb --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin deltadb \
    && mkdir -p /data /secrets \
    && chown deltadb:deltadb /data /secrets \
    && chmod 0700 /secrets
COPY --from=build /opt/venv /opt/venv
# (DL3064: DELTADB_SECRETS_DIR is a folder's path, not a secret)
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DELTADB_HOST=0.0.0.0 \
    DELTADB_DATA_DIR=/data \
    DELTADB_SECRETS_DIR=/secrets
USER 10001:10001
WORKDIR /data
VOLUME ["/data", "/secrets"]
EXPOSE 8080 9000
# The API's /health (serve, up). A `worker` container answers only the Invoke API on
# 9000: give it a TCP check instead (compose-localstack.yml, infra/k8s do).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
ENTRYPOINT ["deltadb"]
CMD ["serve"]
