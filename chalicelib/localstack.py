"""The LocalStack switch (``--localstack`` / ``DELTADB_LOCALSTACK=1``): S3 and KMS endpoints by
``localstack-client``'s endpoint discovery, for local runs and tests only (refused in Lambda).

Discovery, as localstack-client does it: ``AWS_ENDPOINT_URL`` when set; else
``LOCALSTACK_HOST`` (``host[:port]``, default ``localhost:4566``), with ``USE_SSL`` for
https. ``EDGE_PORT`` (older LocalStack setups) gives the port when ``LOCALSTACK_HOST`` is
unset. An explicit ``S3_ENDPOINT`` still wins for S3. LocalStack takes any credentials:
``test`` / ``test`` when none are given, region ``us-east-1`` when none is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.config import Settings

CREDENTIALS = ("test", "test")  # LocalStack's convention; it checks none
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Endpoints:
    s3: str
    kms: str


def endpoints(env: Mapping[str, str] | None = None) -> Endpoints:
    from localstack_client.config import get_service_endpoint  # only with the switch on

    env = os.environ if env is None else env
    host = env.get("LOCALSTACK_HOST") or None
    if host is None and env.get("EDGE_PORT"):
        host = f"localhost:{env['EDGE_PORT']}"
    s3, kms = get_service_endpoint("s3", host), get_service_endpoint("kms", host)
    assert s3 is not None and kms is not None  # both are LocalStack services
    return Endpoints(s3, kms)


def s3_endpoint(settings: Settings) -> str | None:
    """The S3 endpoint: S3_ENDPOINT, else LocalStack's with the switch, else AWS (None)."""
    if settings.s3_endpoint or not settings.localstack:
        return settings.s3_endpoint
    return endpoints().s3


def s3_credentials(settings: Settings) -> tuple[str | None, str | None]:
    if settings.localstack and not settings.s3_access_key:
        return CREDENTIALS
    return settings.s3_access_key, settings.s3_secret_key
