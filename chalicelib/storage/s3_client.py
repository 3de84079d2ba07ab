"""The boto3 S3 client as the S3 adapter uses it: options, retries, timeouts, one round trip per write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.handlers import add_expect_header


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


def make_client(options: S3Options) -> Any:
    config = Config(
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        connect_timeout=3,
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
