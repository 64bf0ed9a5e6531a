"""Recognising uploaded files and reading their text (Markdown, plain text, HTML, PDF)."""

import hashlib
import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

from functions.core.errors import PayloadTooLarge
from functions.core.knowledge.extract import (
    UnreadableDocument,
    UnsupportedMediaType,
    detect_format,
    extract_text,
    inspect_upload,
    pdf_to_text,
)
from functions.core.knowledge.html_text import html_to_markdown
from functions.core.text.chunking import chunk_document


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF whose pages hold these lines of Helvetica text."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for lines in pages:
        page = writer.add_blank_page(width=612, height=792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        shown = " ".join(f"{_pdf_string(line)} Tj T*" for line in lines)
        stream = ContentStream(None, writer)
        stream.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode())
        page.replace_contents(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("guide.md", "application/octet-stream", "markdown"),
        ("GUIDE.MARKDOWN", None, "markdown"),
        ("notes.txt", "text/plain", "text"),
        ("page.htm", None, "html"),
        ("manual.pdf", "application/octet-stream", "pdf"),
        ("notes", "text/markdown; charset=utf-8", "markdown"),
        ("upload", "application/xhtml+xml", "html"),
    ],
)
def test_the_format_comes_from_the_extension_then_the_media_type(
    filename: str, content_type: str | None, expected: str
) -> None:
    assert detect_format(filename, content_type, b"content") == expected


def test_a_pdf_without_extension_or_media_type_is_recognised_by_its_signature() -> None:
    assert detect_format("scan", "application/octet-stream", b"%PDF-1.7\n...") == "pdf"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("report.docx", "application/octet-stream"), ("photo.png", "image/png"), ("data", None)],
)
def test_other_types_are_unsupported_and_the_message_lists_what_is(
    filename: str, content_type: str | None
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        inspect_upload(filename, content_type, b"\x89PNG\r\n")
    assert raised.value.status == 415
    assert filename in raised.value.detail
    assert "Markdown" in raised.value.detail
    assert "PDF" in raised.value.detail


def test_an_upload_keeps_its_name_type_size_and_sha256() -> None:
    data = b"# Title\n\nBody."
    upload = inspect_upload("../../etc/guide.md", "text/plain", data)
    assert upload.source_name == "guide.md"
    assert upload.title == "guide"
    assert upload.mime_type == "text/markdown"
    assert upload.size_bytes == len(data)
    assert upload.content_hash == hashlib.sha256(data).hexdigest()
    assert inspect_upload("guide.md", None, data, title="  The Guide ").title == "The Guide"


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("empty.txt", b" \n", "empty"),
        ("fake.pdf", b"this is not a pdf", "not a PDF"),
        ("binary.md", b"\x00\x01\x02 binary", "binary"),
    ],
)
def test_files_that_cannot_be_what_they_claim_are_unreadable(filename: str, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableDocument) as raised:
        inspect_upload(filename, None, data)
    assert raised.value.status == 422
    assert reason in raised.value.detail


def test_an_upload_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        inspect_upload("big.txt", None, b"x" * 2048, max_bytes=1024)


def test_text_is_utf8_with_or_without_bom_else_windows_1252() -> None:
    for data, expected in [
        ("Crème brûlée".encode(), "Crème brûlée"),
        (b"\xef\xbb\xbfWith BOM", "With BOM"),
        ("Café".encode("cp1252"), "Café"),
    ]:
        assert extract_text(inspect_upload("a.txt", None, data)) == (expected, "text")


def test_html_headings_become_markdown_headings_and_blocks_paragraphs() -> None:
    html = """<!doctype html><html><head><title>Ignored</title><style>p {color: red}</style></head>
    <body><nav>Home</nav><h1>Install   guide</h1><p>Download the
    installer.<br>Run it.</p><script>alert("no")</script>
    <h2>On <em>Linux</em></h2><ul><li>Use apt.</li><li>Or &amp; dnf.</li></ul>
    <pre>make  install
  done</pre><p># not a heading</p><table><tr><td>a</td><td>b</td></tr></table></body></html>"""
    assert html_to_markdown(html).split("\n\n") == [
        "Home",
        "# Install guide",
        "Download the installer.\nRun it.",
        "## On Linux",
        "- Use apt.",
        "- Or & dnf.",
        "```\nmake  install\n  done\n```",
        "\\# not a heading",
        "a b",
    ]


def test_html_chunks_carry_their_heading_path() -> None:
    html = "<h1>Guide</h1><p>Intro text.</p><h2>Setup</h2><p>Install the tool first.</p>"
    text, fmt = extract_text(inspect_upload("guide.html", "text/html", html.encode()))
    chunks = chunk_document(text, fmt=fmt)
    assert [(c.heading_path, c.content) for c in chunks] == [
        (("Guide",), "Intro text."),
        (("Guide", "Setup"), "Install the tool first."),
    ]


def test_unclosed_html_still_gives_its_text() -> None:
    assert html_to_markdown("<h2>Open heading<p>first<p>second") == "## Open heading\n\nfirst\n\nsecond"


def test_pdf_text_is_read_page_by_page() -> None:
    data = make_pdf([["The warranty (two years).", "Keep the receipt."], ["Returns within 30 days."]])
    text, fmt = extract_text(inspect_upload("policy.pdf", "application/pdf", data))
    assert fmt == "text"
    assert text == "The warranty (two years).\nKeep the receipt.\n\nReturns within 30 days."


def test_a_damaged_pdf_is_unreadable_with_the_reason() -> None:
    data = make_pdf([["Some text."]])
    with pytest.raises(UnreadableDocument) as raised:
        pdf_to_text(data[: len(data) // 3])
    assert raised.value.detail.startswith("the PDF could not be read (")


def test_a_password_protected_pdf_is_unreadable() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf([["Secret."]])))
    writer.encrypt(user_password="open sesame", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(UnreadableDocument, match="password-protected"):
        pdf_to_text(out.getvalue())
