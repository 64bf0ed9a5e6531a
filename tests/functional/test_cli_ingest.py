"""`avatar-studio ingest`: files into an avatar's knowledge base, in-process against the database."""

from pathlib import Path
from typing import Any

import psycopg
import pytest

from functions.core.cli import main
from tests.conftest import User
from tests.functional.support import Api
from tests.unit.test_extract import make_pdf


def documents(admin: psycopg.Connection[Any], avatar_id: str) -> dict[str, str]:
    rows = admin.execute(
        "select source_name, status from public.knowledge_documents where avatar_id = %s", (avatar_id,)
    ).fetchall()
    return {row["source_name"]: row["status"] for row in rows}


def test_ingest_indexes_each_file_with_a_progress_bar_and_a_line_per_file(
    api: Api, owner: User, admin: psycopg.Connection[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avatar = api.create_avatar(owner)
    guide = tmp_path / "guide.md"
    guide.write_text("# Guide\n\nThe guide explains setup.\n\n## Support\n\nWrite to support.\n")
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(make_pdf([["Charge the battery overnight."]]))

    assert main(["ingest", str(guide), str(manual), "--avatar", avatar["id"], "--email", owner.email]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"ready      {guide}: 2 chunks")
    assert lines[1].startswith(f"ready      {manual}: 1 chunks")
    assert "guide.md [##############################] 2/2 chunks" in err
    assert documents(admin, avatar["id"]) == {"guide.md": "ready", "manual.pdf": "ready"}

    assert main(["ingest", str(guide), "--avatar", avatar["public_id"], "--email", owner.email]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"duplicate  {guide}: already indexed as ")


def test_ingest_reports_failures_and_exits_non_zero(
    api: Api, owner: User, admin: psycopg.Connection[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avatar = api.create_avatar(owner)
    broken = tmp_path / "broken.pdf"
    pdf = make_pdf([["Never read."]])
    broken.write_bytes(pdf[: len(pdf) // 3])
    slides = tmp_path / "slides.pptx"
    slides.write_bytes(b"PK\x03\x04")
    missing = tmp_path / "missing.md"

    code = main(
        ["ingest", str(broken), str(slides), str(missing), "--avatar", avatar["id"], "--email", owner.email]
    )
    out, _ = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"failed     {broken}: unreadable_document: the PDF could not be read")
    assert lines[1].startswith(f"failed     {slides}: slides.pptx (application/vnd.")
    assert lines[2].startswith(f"failed     {missing}: ")
    assert documents(admin, avatar["id"]) == {"broken.pdf": "failed"}


def test_ingest_refuses_an_avatar_of_another_owner(
    api: Api, owner: User, stranger: User, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avatar = api.create_avatar(owner)
    note = tmp_path / "note.txt"
    note.write_text("A note.")
    assert main(["ingest", str(note), "--avatar", avatar["id"], "--email", stranger.email]) == 2
    assert main(["ingest", str(note), "--avatar", avatar["public_id"], "--email", stranger.email]) == 2
    assert main(["ingest", str(note), "--avatar", avatar["id"], "--email", "nobody@example.test"]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        f"avatar {avatar['id']}: no such avatar",
        f"avatar {avatar['public_id']}: no such avatar",
        "no local user nobody@example.test",
    ]
