"""Knowledge files sent straight to storage and indexed on arrival: locally through the local server's
stand-in for the bucket (real HTTP), in the cloud through S3 (moto) and the indexer's S3 event."""

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import boto3
import httpx
import psycopg
import pytest
import requests
from moto import mock_aws

from functions.core.db.pool import get_database
from functions.core.knowledge.ingest import on_behalf_of
from functions.core.knowledge.uploads import UploadRequest, create_ticket, upload_storage
from functions.core.settings import get_settings
from tests.conftest import User
from tests.functional.support import Api, assert_problem
from tests.functional.test_cleanup import sweep_on_a_new_loop
from tests.functional.test_knowledge import GUIDE, chunks, settled

Admin = psycopg.Connection[Any]


@pytest.fixture
def avatar_id(api: Api, owner: User) -> str:
    return str(api.create_avatar(owner)["id"])


def ticket(client: httpx.Client, user: User, avatar_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/avatars/{avatar_id}/knowledge/uploads", json=body, headers=user.headers)


def send(client: httpx.Client, issued: dict[str, Any], name: str, data: bytes) -> httpx.Response:
    """What the browser does with a ticket: post its fields and the file to its url, no token."""
    return client.post(issued["url"], data=issued["fields"], files={"file": (name, data)})


def test_a_file_sent_with_a_ticket_is_indexed_with_the_usual_progress(
    client: httpx.Client, owner: User, avatar_id: str, admin: Admin
) -> None:
    data = GUIDE.encode()
    response = ticket(client, owner, avatar_id, filename="guide.md", size_bytes=len(data), title="The guide")
    assert response.status_code == 201, response.text
    issued = response.json()
    waiting = client.get(f"/v1/knowledge/{issued['document_id']}", headers=owner.headers).json()
    assert (waiting["status"], waiting["title"], waiting["chunks_done"]) == ("queued", "The guide", 0)

    assert send(client, issued, "guide.md", data).status_code == 204

    document = settled(client, owner, issued["document_id"])
    assert document["status"] == "ready", document
    assert document["chunks_done"] == document["chunks_total"] == len(chunks(admin, issued["document_id"]))
    assert document["size_bytes"] == len(data)
    stored = admin.execute(
        "select content_hash from public.knowledge_documents where id = %s", (issued["document_id"],)
    ).fetchone()
    assert stored is not None
    assert len(stored["content_hash"]) == 64


def test_an_unreadable_file_ends_failed_with_the_reason(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    issued = ticket(client, owner, avatar_id, filename="notes.txt", size_bytes=8).json()
    assert send(client, issued, "notes.txt", b"\x00\x01binary").status_code == 204
    document = settled(client, owner, issued["document_id"])
    assert document["status"] == "failed"
    assert "binary" in document["error"]


def test_the_same_content_twice_fails_the_second_as_a_duplicate(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    data = GUIDE.encode()
    first = ticket(client, owner, avatar_id, filename="guide.md", size_bytes=len(data)).json()
    send(client, first, "guide.md", data)
    assert settled(client, owner, first["document_id"])["status"] == "ready"
    second = ticket(client, owner, avatar_id, filename="copy.md", size_bytes=len(data)).json()
    send(client, second, "copy.md", data)
    document = settled(client, owner, second["document_id"])
    assert document["status"] == "failed"
    assert "already in the avatar's knowledge base" in document["error"]


def test_a_ticket_is_refused_for_a_file_too_large_or_of_an_unknown_type(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    too_large = get_settings().max_upload_bytes + 1
    assert_problem(ticket(client, owner, avatar_id, filename="big.md", size_bytes=too_large), 413)
    assert_problem(
        ticket(client, owner, avatar_id, filename="a.docx", size_bytes=10), 415, "unsupported_media_type"
    )


def test_another_users_avatar_gets_no_ticket(client: httpx.Client, stranger: User, avatar_id: str) -> None:
    assert_problem(ticket(client, stranger, avatar_id, filename="a.md", size_bytes=10), 404)


@pytest.mark.parametrize("field", ["signature", "key"])
def test_a_tampered_form_is_refused_and_nothing_is_indexed(
    client: httpx.Client, owner: User, avatar_id: str, field: str
) -> None:
    issued = ticket(client, owner, avatar_id, filename="guide.md", size_bytes=10).json()
    issued["fields"][field] = issued["fields"][field][:-2] + "00"
    assert_problem(send(client, issued, "guide.md", GUIDE.encode()), 403)
    document = client.get(f"/v1/knowledge/{issued['document_id']}", headers=owner.headers).json()
    assert document["status"] == "queued"


def test_a_file_larger_than_the_signed_limit_is_refused(
    client: httpx.Client, owner: User, avatar_id: str
) -> None:
    issued = ticket(client, owner, avatar_id, filename="guide.md", size_bytes=10).json()
    payload = json.loads(base64.urlsafe_b64decode(issued["fields"]["policy"]))
    big = b"x" * (payload["max_bytes"] + 1)
    assert_problem(send(client, issued, "guide.md", big), 413)


def test_the_cleanup_job_fails_an_upload_whose_file_never_arrived(
    client: httpx.Client, owner: User, avatar_id: str, admin: Admin
) -> None:
    abandoned = ticket(client, owner, avatar_id, filename="old.md", size_bytes=10).json()["document_id"]
    waiting = ticket(client, owner, avatar_id, filename="new.md", size_bytes=10).json()["document_id"]
    # The form lived 15 minutes; the job gives the file twice as long to arrive.
    admin.execute(
        "update public.knowledge_documents set created_at = now() - interval '31 minutes' where id = %s",
        (abandoned,),
    )

    report = sweep_on_a_new_loop()

    assert report.uploads_abandoned >= 1
    failed = client.get(f"/v1/knowledge/{abandoned}", headers=owner.headers).json()
    assert (failed["status"], failed["error"]) == ("failed", "the file never arrived; upload it again")
    assert client.get(f"/v1/knowledge/{waiting}", headers=owner.headers).json()["status"] == "queued"


# --- the cloud: S3 (moto) and the indexer's S3 event ---------------------------------------------------


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "KNOWLEDGE_BUCKET": "avatar-studio-test-uploads",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="avatar-studio-test-uploads")
        yield "avatar-studio-test-uploads"
    get_settings.cache_clear()


@pytest.fixture
def indexer(bucket: str) -> Iterator[Any]:
    """The indexer function's module; its container's loop is closed after, with its connection pool."""
    import functions.indexer

    yield functions.indexer
    loop = functions.indexer._loop
    if loop is not None and not loop.is_closed():
        loop.run_until_complete(get_database().close())
        loop.close()
    functions.indexer._loop = None


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """An S3 ObjectCreated notification as Lambda receives it (keys URL-encoded):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": 1},
                },
            }
        ]
    }


def test_in_the_cloud_the_file_goes_to_s3_and_its_event_indexes_it(
    bucket: str, indexer: Any, owner: User, avatar_id: str, client: httpx.Client, admin: Admin
) -> None:
    settings = get_settings()
    data = GUIDE.encode()

    async def issue() -> Any:
        db = get_database()
        try:
            return await create_ticket(
                db,
                on_behalf_of(owner.id, settings),
                uuid.UUID(avatar_id),
                UploadRequest(filename="guide.md", size_bytes=len(data)),
                upload_storage(settings, ""),
                settings,
            )
        finally:
            await db.close()

    issued = asyncio.run(issue())
    assert issued.url.startswith("https://avatar-studio-test-uploads.s3")
    key = issued.fields["key"]
    assert key == f"uploads/{owner.id}/{issued.document_id}"
    posted = requests.post(issued.url, data=issued.fields, files={"file": ("guide.md", data)}, timeout=10)
    assert posted.status_code in (200, 204), posted.text

    assert indexer.handler(s3_event(bucket, key), None) == {"indexed": 1}

    document = settled(client, owner, str(issued.document_id))
    assert document["status"] == "ready", document
    assert document["chunks_total"] == len(chunks(admin, str(issued.document_id)))
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=bucket)
    # A repeated delivery of the same event leaves the indexed document alone.
    assert indexer.handler(s3_event(bucket, key), None) == {"indexed": 1}
    assert settled(client, owner, str(issued.document_id))["status"] == "ready"
