"""The packaged template, resolved: its resources made in moto, its Ref / GetAtt / Sub values named.

Used by tests/e2e/bundle_fixtures.py to give each packaged function the environment
the template gives it, as CloudFormation would resolve it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import uuid
from typing import Any

import boto3

REGION, ACCOUNT, PARTITION = "us-east-1", "123456789012", "aws"  # moto's default account
STACK = "deltadb-e2e"
ADMIN_KEY = "ak_e2e_" + secrets.token_urlsafe(24)
FUNCTIONS = ("APIHandler", "EntityWorker", "MetaWorker")
MOTO_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def resolve(value: Any, names: dict[str, str]) -> str:
    """A template value with Ref / Fn::GetAtt / Fn::Sub replaced by ``names`` ("X", "X.Arn", "AWS::Region")."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return names[value["Ref"]]
    if "Fn::GetAtt" in value:
        return names[".".join(value["Fn::GetAtt"])]
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}!]+)\}", lambda m: names[m[1]], value["Fn::Sub"])
    raise AssertionError(f"the test cannot resolve {value!r}")


def generated_secret(props: dict[str, Any], names: dict[str, str]) -> str:
    """What CloudFormation stores for a GenerateSecretString: the template plus a random key."""
    spec = props["GenerateSecretString"]
    doc = json.loads(resolve(spec["SecretStringTemplate"], names))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    doc[spec["GenerateStringKey"]] = "".join(secrets.choice(alphabet) for _ in range(spec.get("PasswordLength", 32)))
    return json.dumps(doc)


def aws_resources(endpoint: str, template: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Make in moto what the template makes; returns the names Ref/GetAtt/Sub resolve to, and the bucket."""
    aws = {"endpoint_url": endpoint, "region_name": REGION, **MOTO_CREDENTIALS}
    names = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, "AWS::StackName": STACK}
    # The stack's parameters: their defaults, and the one a deploy must give (docs/deploy.md).
    names |= {p: str(spec["Default"]) for p, spec in template.get("Parameters", {}).items() if "Default" in spec}
    names["AdminKeySha256"] = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    bucket = f"{STACK}-databucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", **aws).create_bucket(Bucket=bucket)
    names |= {"DataBucket": bucket, "DataBucket.Arn": f"arn:aws:s3:::{bucket}"}
    key = boto3.client("kms", **aws).create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    names |= {"DataKey": key["KeyId"], "DataKey.Arn": key["Arn"]}
    for function in FUNCTIONS:
        name = f"{STACK}-{function}-{uuid.uuid4().hex[:8].upper()}"
        names |= {function: name, f"{function}.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}
    res = template["Resources"]
    secret_string = generated_secret(res["ApiSecrets"]["Properties"], names)
    secret = boto3.client("secretsmanager", **aws).create_secret(Name=f"{STACK}-ApiSecrets", SecretString=secret_string)
    names["ApiSecrets"] = secret["ARN"]  # Ref of AWS::SecretsManager::Secret is its ARN
    return names, bucket
