"""The S3 client the adapter uses: the lean one where it can stand in for boto3, else boto3's.

Both with the same options, retries and timeouts, and one round trip per write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from chalicelib import aws_env
from chalicelib.sigv4_sign import SigningKey

CONNECT_TIMEOUT = 3.0  # seconds, for both clients


@dataclass(frozen=True)
class S3Options:
    bucket: str = "deltadatabase"
    endpoint: str | None = None  # host:port or URL; None = AWS S3
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    use_ssl: bool = False
    retry_mode: str = "standard"
    max_attempts: int = 5
    unquoted_if_match: bool = False  # Ceph RadosGW matches If-Match only without quotes
    max_connections: int = 64
    read_timeout: float = 15.0  # seconds a reply may take before the attempt counts as failed (and is retried)
    create_bucket: bool = False  # check() creates a missing bucket (S3_CREATE_BUCKET)

    def endpoint_url(self) -> str | None:
        if not self.endpoint:
            return None
        if "://" in self.endpoint:
            return self.endpoint
        return f"{'https' if self.use_ssl else 'http'}://{self.endpoint}"


# Bucket names AWS serves in the host name over TLS: no dots (they break the certificate's
# wildcard), no "--" (directory buckets, --x-s3, have endpoints of their own), no access point alias.
_VIRTUAL_HOST_BUCKET = re.compile(r"(?!.*--)(?!.*-s3alias$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def make_client(options: S3Options, environ: Mapping[str, str] = os.environ) -> Any:
    """The lean client (chalicelib/storage/s3_lean.py) when it knows the endpoint and the keys, else boto3's.

    Lean: a custom endpoint (MinIO, LocalStack, Ceph, ...) or a plain AWS region, with keys
    given in the options or in the environment (a Lambda function's role), the standard
    retry mode and no setting only boto3 follows (a proxy, FIPS, dual-stack, an endpoint
    variable). Anything else (a profile, SSO, an instance role, other partitions) is boto3's.
    """
    fallback = partial(make_boto3_client, options)
    if options.access_key and options.secret_key:
        key: SigningKey | None = SigningKey(options.access_key, options.secret_key)
    else:
        key = aws_env.environment_key(environ)
    where = _lean_endpoint(options, environ)
    if key is None or where is None or options.retry_mode != "standard":
        return fallback()
    from chalicelib.storage.s3_lean import LeanS3

    origin, region, virtual_host = where
    try:
        return LeanS3(origin, options.bucket, key, region, virtual_host=virtual_host,
                      max_attempts=options.max_attempts, read_timeout=options.read_timeout,
                      max_connections=options.max_connections, ca_bundle=environ.get("AWS_CA_BUNDLE") or None,
                      fallback=fallback)  # fmt: skip
    except (OSError, ValueError):  # an unreadable AWS_CA_BUNDLE, an odd endpoint: boto3 says what is wrong
        return fallback()


def _lean_endpoint(options: S3Options, environ: Mapping[str, str]) -> tuple[str, str, bool] | None:
    """(origin, region, bucket in the host name) for the lean client, or None when it is boto3's to reach."""
    if options.endpoint:
        url = options.endpoint_url() or ""
        scheme = url.partition(":")[0]
        # A shared config file or profile may carry a CA bundle for TLS; plain http needs none.
        if aws_env.proxied(environ, scheme) or (scheme != "http" and aws_env.shared_config(environ)):
            return None
        return url, options.region or "us-east-1", False
    region = options.region or environ.get("AWS_DEFAULT_REGION")  # boto3 reads this one, not AWS_REGION
    if (
        region is None
        or aws_env.shared_config(environ)  # its profile may set FIPS, dual-stack, acceleration, an endpoint
        or not aws_env.plain_aws(region, environ, loads_ca_bundle=True)
        or environ.get("AWS_ENDPOINT_URL_S3")
        or environ.get("AWS_ENDPOINT_URL")
        or not _VIRTUAL_HOST_BUCKET.fullmatch(options.bucket)
    ):
        return None
    return f"https://s3.{region}.{aws_env.dns_suffix(region)}", region, True


def make_boto3_client(options: S3Options) -> Any:
    """boto3's S3 client with our options (also the lean client's, for the calls it leaves to boto3)."""
    import boto3
    from botocore.config import Config
    from botocore.handlers import add_expect_header

    config = Config(
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=options.read_timeout,
        tcp_keepalive=True,
        max_pool_connections=options.max_connections,
        # Path-style for custom endpoints (MinIO, SeaweedFS, Ceph, LocalStack); AWS decides itself.
        s3={"addressing_style": "path" if options.endpoint else "auto"},
        # The envelope's AES-GCM tag already authenticates every byte; skip the extra
        # CRC32 (and stay compatible with stores that do not know flexible checksums).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=options.endpoint_url(),
        aws_access_key_id=options.access_key or None,
        aws_secret_access_key=options.secret_key or None,
        region_name=options.region or ("us-east-1" if options.endpoint else None),
        use_ssl=options.use_ssl if options.endpoint else True,
        config=config,
    )
    # botocore sends every PutObject with "Expect: 100-continue" and holds the body until
    # the server answers 100: one extra network round trip per write. It saves uploading
    # a large body the server would refuse; ours are bounded by DELTADB_MAX_BODY, so a
    # write is one round trip instead of two.
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client
