"""`avatar-studio deploy site`: upload web/dist to the stack's private bucket and refresh CloudFront.

The site learns both API addresses from config.json, written here from the stack's outputs, so the
studio and the widget snippet it shows point at the HTTP API and the streaming Function URL.
"""

import json
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Hashed chunks never change under their name; everything else is revalidated.
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True)
class SiteUpload:
    bucket: str
    url: str
    uploaded: int
    deleted: int
    invalidation_id: str


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def site_config(outputs: dict[str, str]) -> dict[str, str]:
    missing = [
        key for key in ("HttpApiUrl", "StreamLambdaFunctionUrl", "WebBucketName") if key not in outputs
    ]
    if missing:
        raise ValueError(f"the stack has no output {', '.join(missing)}: deploy serverless.yml first")
    return {
        "api": outputs["HttpApiUrl"].rstrip("/"),
        "stream": outputs["StreamLambdaFunctionUrl"].rstrip("/"),
    }


def _cache_control(key: str) -> str:
    return _IMMUTABLE if key.startswith("chunks/") else _REVALIDATE


def upload_site(dist: Path, stack_name: str, session: Any) -> SiteUpload:
    """Write config.json into dist, mirror dist into the bucket, and invalidate the distribution."""
    if not (dist / "index.html").is_file():
        raise FileNotFoundError(f"{dist} holds no built site: run `make web` first")
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    (dist / "config.json").write_text(json.dumps(site_config(outputs)) + "\n")
    s3 = session.client("s3")
    bucket = outputs["WebBucketName"]
    keys = set()
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and p.name != ".built"):
        key = path.relative_to(dist).as_posix()
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type,
            CacheControl=_cache_control(key),
        )
        keys.add(key)
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in keys
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]]}
        )
    invalidation = session.client("cloudfront").create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"deploy-{time.time_ns()}",
        },
    )
    return SiteUpload(
        bucket=bucket,
        url=outputs.get("WebUrl", ""),
        uploaded=len(keys),
        deleted=len(stale),
        invalidation_id=invalidation["Invalidation"]["Id"],
    )
