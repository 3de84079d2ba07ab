"""When a lean client (stdlib HTTP and SigV4) may stand in for boto3: plain AWS regions, no endpoint variants.

The lean clients (chalicelib/invoke/invoke_client.py, chalicelib/storage/s3_lean.py) know
the endpoints of the aws, aws-cn and aws-us-gov partitions and sign with keys they are
given. Anything else boto3 knows and they do not (other partitions, FIPS or dual-stack
endpoints, a proxy, a profile or shared config file, credentials from an instance role;
for the Invoke API client also a CA bundle, which the S3 one loads) is left to boto3, so
a setting a user made for boto3 is not silently ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from chalicelib.sigv4_sign import SigningKey

# Regions of the aws, aws-cn and aws-us-gov partitions, whose endpoints are
# <service>.<region>.amazonaws.com(.cn); others (us-iso*, eusc-*) are left to boto3's rules.
_PLAIN_REGION = re.compile(r"(?:af|ap|ca|eu|il|me|mx|sa|us|cn|us-gov)-[a-z]+-\d+")
# Settings that change how boto3 reaches an endpoint: with any of them, boto3 reaches it.
_VARIANTS = ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")
_PROXIES = {"https": ("HTTPS_PROXY", "https_proxy"), "http": ("HTTP_PROXY", "http_proxy")}
BOTO3_ONLY = (*_VARIANTS, "AWS_CA_BUNDLE", *_PROXIES["https"])
_BOTO3_ONLY_BUT_CA_BUNDLE = tuple(v for v in BOTO3_ONLY if v != "AWS_CA_BUNDLE")


def region(environ: Mapping[str, str]) -> str | None:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def plain_aws(region: str, environ: Mapping[str, str], *, loads_ca_bundle: bool = False) -> bool:
    """Whether ``region``'s endpoints follow the plain rules and no boto3-only setting is made.

    ``loads_ca_bundle``: the client honours AWS_CA_BUNDLE itself (chalicelib/storage/s3_lean.py).
    """
    ignored = _BOTO3_ONLY_BUT_CA_BUNDLE if loads_ca_bundle else BOTO3_ONLY
    return _PLAIN_REGION.fullmatch(region) is not None and not any(environ.get(v) for v in ignored)


def proxied(environ: Mapping[str, str], scheme: str) -> bool:
    """Whether a proxy is set for ``scheme`` (boto3 would use it)."""
    return any(environ.get(v) for v in _PROXIES.get(scheme, ()))


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def environment_key(environ: Mapping[str, str]) -> SigningKey | None:
    """The keys in the environment (a Lambda function's execution role puts them there), or None."""
    access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not (access and secret):
        return None
    return SigningKey(access, secret, environ.get("AWS_SESSION_TOKEN") or None)


def shared_config(environ: Mapping[str, str]) -> bool:
    """Whether a profile or a shared config file may hold settings (CA bundle, FIPS, an endpoint) only boto3 reads."""
    if environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE"):
        return True
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.exists(environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"))
