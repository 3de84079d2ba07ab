"""The storage settings of ``Settings`` (chalicelib/config.py): the backend, S3 and the LocalStack switch.

Declared here, one field each with ``setting()`` like every setting; ``Settings`` inherits them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.settings_table import boolean, lower, setting


@dataclass(frozen=True)
class StorageSettings:
    # Storage backend: "fs", "s3", or "auto" (S3 when an endpoint is set or in Lambda).
    storage: str = setting(
        "auto", env="DELTADB_STORAGE", parse=lower, flag="--storage", choices=("auto", "fs", "s3"),
        help="storage backend; auto: S3 when an endpoint is set, or in Lambda",
    )  # fmt: skip
    # The S3_* names are the Go version's; users already have them set.
    s3_endpoint: str | None = setting(None, env="S3_ENDPOINT", flag="--s3-endpoint", shown="empty = filesystem",
                                      help="host:port or URL of an S3-compatible service")  # fmt: skip
    s3_access_key: str | None = setting(None, env="S3_ACCESS_KEY", secret=True, flag="--s3-access-key",
                                        help="access key id")  # fmt: skip
    s3_secret_key: str | None = setting(None, env="S3_SECRET_KEY", secret=True, flag="--s3-secret-key",
                                        help="secret key (prefer the env var: flags show in ps)")  # fmt: skip
    s3_bucket: str = setting("deltadatabase", env="S3_BUCKET", flag="--s3-bucket", help="bucket")
    s3_use_ssl: bool = setting(False, env="S3_USE_SSL", parse=boolean, flag="--s3-use-ssl", shown="false",
                               help="TLS to the endpoint (true for AWS)")  # fmt: skip
    s3_region: str | None = setting(None, env="S3_REGION", flag="--s3-region", shown="empty",
                                    help="region (empty works for MinIO, SeaweedFS)")  # fmt: skip
    s3_create_bucket: bool = setting(False, env="S3_CREATE_BUCKET", parse=boolean, flag="--s3-create-bucket",
                                     shown="false", help="create the bucket when it is missing")  # fmt: skip
    s3_retry_mode: str = setting(
        "standard", env="S3_RETRY_MODE", parse=lower, flag="--s3-retry-mode", choices=("standard", "adaptive"),
        hidden_choices=("legacy",), help="botocore retry mode",
    )  # fmt: skip
    s3_unquoted_etag: bool = setting(False, env="S3_UNQUOTED_ETAG", parse=boolean, shown="false",
                                     help="send If-Match without quotes (Ceph RadosGW)")  # fmt: skip
    localstack: bool = setting(
        False, env="DELTADB_LOCALSTACK", parse=boolean, flag="--localstack", shown="off",
        help="S3 and KMS endpoints of a LocalStack found by localstack-client (LOCALSTACK_HOST, EDGE_PORT); local only",
    )  # fmt: skip
