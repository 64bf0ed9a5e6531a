"""`avatar-studio deploy site` against moto's S3, CloudFront and CloudFormation: the stack's outputs
become config.json, the bucket mirrors web/dist, and CloudFront is invalidated."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.core.cli import main
from functions.core.deploy.site import upload_site

STACK = "avatar-studio-prod"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def stack(session: Any) -> str:
    """A deployed stack's outputs as serverless.yml declares them, around a real (moto) bucket."""
    distribution = session.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "web",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "web",
                        "DomainName": "b.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )["Distribution"]["Id"]
    template = {
        "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "WebBucketName": {"Value": {"Ref": "WebBucket"}},
            "WebDistributionId": {"Value": distribution},
            "WebUrl": {"Value": "https://d111.cloudfront.net"},
            "HttpApiUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com"},
            "StreamLambdaFunctionUrl": {"Value": "https://xyz.lambda-url.us-east-1.on.aws/"},
        },
    }
    session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return distribution


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "studio").mkdir()
    (tmp_path / "chunks").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "studio" / "index.html").write_text("<!doctype html>")
    (tmp_path / "widget.js").write_text("void 0;")
    (tmp_path / "chunks" / "widget-app-ABC123.js").write_text("export {};")
    return tmp_path


def _bucket(session: Any) -> str:
    outputs = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == "WebBucketName"))


def test_the_site_is_mirrored_with_both_api_addresses_and_cloudfront_refreshed(
    session: Any, stack: str, dist: Path
) -> None:
    s3 = session.client("s3")
    bucket = _bucket(session)
    s3.put_object(Bucket=bucket, Key="chunks/old-chunk.js", Body=b"stale")

    done = upload_site(dist, STACK, session)

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {
        "index.html",
        "studio/index.html",
        "widget.js",
        "chunks/widget-app-ABC123.js",
        "config.json",
    }
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config == {
        "api": "https://abc.execute-api.us-east-1.amazonaws.com",
        "stream": "https://xyz.lambda-url.us-east-1.on.aws",
    }
    widget = s3.head_object(Bucket=bucket, Key="widget.js")
    assert widget["ContentType"] == "text/javascript"
    assert widget["CacheControl"] == "no-cache"
    chunk = s3.head_object(Bucket=bucket, Key="chunks/widget-app-ABC123.js")
    assert "immutable" in chunk["CacheControl"]
    assert (done.uploaded, done.deleted, done.url) == (5, 1, "https://d111.cloudfront.net")
    invalidations = session.client("cloudfront").list_invalidations(DistributionId=stack)["InvalidationList"]
    assert [item["Id"] for item in invalidations["Items"]] == [done.invalidation_id]


def test_an_unbuilt_site_is_refused_before_anything_is_uploaded(
    session: Any, stack: str, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="make web"):
        upload_site(tmp_path, STACK, session)
    assert "Contents" not in session.client("s3").list_objects_v2(Bucket=_bucket(session))


def test_the_command_uploads_for_a_stage(
    session: Any, stack: str, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "site", "--stage", "prod", "--region", "us-east-1", "--dist", str(dist)]) == 0
    assert "uploaded 5 file(s)" in capsys.readouterr().out
