"""Lambda Invoker: the Invoke API — against AWS Lambda, or against local workers.

Local workers (local/worker.py) serve the same Invoke API
(``POST /2015-03-31/functions/{name}/invocations``), so one invoker reaches both.
``RequestResponse`` when the route needs the answer; ``Event`` for fire-and-forget.

The transport is the lean client (chalicelib/invoke/invoke_client.py: no boto3 on a
routes function's cold start) whenever the credentials are at hand: the worker secret
for local workers, the execution role's keys in Lambda's environment (what boto3 itself
would read there). Anywhere else (a profile, SSO, an instance role) boto3 finds them,
and boto3 also reaches partitions and endpoint variants (FIPS, dual-stack, a proxy, a
CA bundle) whose rules the lean client does not carry.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Protocol

from chalicelib import aws_env
from chalicelib.errors import Unavailable, to_result
from chalicelib.handlers.protocol import WorkerStatus
from chalicelib.invoke.base import Event, InvokeFailed, Result, function_error
from chalicelib.invoke.invoke_client import InvokeClient
from chalicelib.sigv4_sign import MAIN_ACCESS_KEY, SigningKey

log = logging.getLogger(__name__)


class InvokeTransport(Protocol):
    def invoke(self, function: str, event: Event, *, asynchronous: bool = False) -> Result:
        """The function's result ({} for ``asynchronous``); InvokeFailed when the call itself failed."""


def transport(
    endpoint: str | None, secret: str | None, *, timeout: float, attempts: int, environ: Mapping[str, str] = os.environ
) -> InvokeTransport:
    region = aws_env.region(environ) or "us-east-1"
    if endpoint is not None and secret is not None:  # local workers: signed with the shared secret
        return InvokeClient(endpoint, SigningKey(MAIN_ACCESS_KEY, secret), timeout, attempts=attempts)
    key = aws_env.environment_key(environ)
    if endpoint is None and key is not None and aws_env.plain_aws(region, environ):
        return InvokeClient(aws_endpoint(region, environ), key, timeout, region=region, attempts=attempts)
    return Boto3Lambda(endpoint, timeout=timeout, attempts=attempts, region=region)


def aws_endpoint(region: str, environ: Mapping[str, str] = os.environ) -> str:
    """AWS Lambda's endpoint in ``region``; boto3's endpoint variables win, as they do for boto3."""
    configured = environ.get("AWS_ENDPOINT_URL_LAMBDA") or environ.get("AWS_ENDPOINT_URL")
    if configured:
        return configured
    return f"https://lambda.{region}.{aws_env.dns_suffix(region)}"


class Boto3Lambda:
    """The Invoke API through boto3, with whatever credentials boto3 finds."""

    def __init__(self, endpoint: str | None, *, timeout: float, attempts: int, region: str) -> None:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=2,
            read_timeout=timeout,
            tcp_keepalive=True,
            max_pool_connections=64,
        )
        self._client = boto3.session.Session().client(
            "lambda", endpoint_url=endpoint, config=config, region_name=region
        )

    def invoke(self, function: str, event: Event, *, asynchronous: bool = False) -> Result:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.invoke(
                FunctionName=function,
                InvocationType="Event" if asynchronous else "RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        except (BotoCoreError, ClientError) as exc:
            raise InvokeFailed(str(exc)) from exc
        if asynchronous:
            return {}
        payload = response["Payload"].read()
        if failure := response.get("FunctionError"):
            return function_error(function, failure)
        result: Result = json.loads(payload)
        return result


class LambdaInvoker:
    def __init__(self, client: InvokeTransport, names: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._names = dict(names or {})  # protocol function name -> deployed function name

    def invoke(self, function: str, event: Event) -> Result:
        try:
            return self._client.invoke(self._names.get(function, function), event)
        except InvokeFailed as exc:
            log.error("invoking %s failed: %s", function, exc)
            return to_result(Unavailable("processing worker unavailable"))

    def invoke_async(self, function: str, event: Event) -> None:
        try:
            self._client.invoke(self._names.get(function, function), event, asynchronous=True)
        except InvokeFailed as exc:  # the operation stays pending and is completed when read
            log.error("asynchronous invocation of %s failed: %s", function, exc)

    def workers(self) -> list[WorkerStatus]:
        return []  # Lambda scales its own workers; none are long-lived
