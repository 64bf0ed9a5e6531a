"""What an uploaded file is, and its text: Markdown, plain text, HTML and PDF."""

import hashlib
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from functions.core.errors import AppError, PayloadTooLarge

Format = Literal["markdown", "text", "html", "pdf"]

MIME_TYPES: dict[Format, str] = {
    "markdown": "text/markdown",
    "text": "text/plain",
    "html": "text/html",
    "pdf": "application/pdf",
}
_EXTENSIONS: dict[str, Format] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_MEDIA_TYPES: dict[str, Format] = {
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
SUPPORTED = "Markdown (.md), plain text (.txt), HTML (.html) or PDF (.pdf)"
# Caps on what one document may turn into: a small file can hold a huge compressed stream (a 16 kB PDF
# once became 1,185 chunks). The content streams of a PDF are measured before their text is extracted.
MAX_PAGES = 1000
MAX_TEXT_CHARS = 2_000_000
MAX_PDF_CONTENT_BYTES = 4 * MAX_TEXT_CHARS


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class UnreadableDocument(AppError):
    status = 422
    code = "unreadable_document"


class DocumentTooLarge(AppError):
    status = 422
    code = "document_too_large"


def _too_much_text() -> DocumentTooLarge:
    return DocumentTooLarge(
        f"the document's text is longer than {MAX_TEXT_CHARS:,} characters; split it into smaller files"
    )


def _check_text_size(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise _too_much_text()
    return text


@dataclass(frozen=True)
class Upload:
    """A file accepted for indexing; its text is extracted later, while it is indexed."""

    data: bytes
    fmt: Format
    title: str
    source_name: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.fmt]

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def detect_format(filename: str, content_type: str | None, data: bytes) -> Format:
    """The format by file extension, else by declared media type, else by the PDF signature."""
    by_extension = _EXTENSIONS.get(PurePath(filename).suffix.lower())
    if by_extension is not None:
        return by_extension
    media_type = (content_type or "").split(";")[0].strip().lower()
    by_media_type = _MEDIA_TYPES.get(media_type)
    if by_media_type is not None:
        return by_media_type
    if data.startswith(b"%PDF-"):
        return "pdf"
    described = f"{filename or 'the file'} ({media_type or 'no media type'})"
    raise UnsupportedMediaType(f"{described} is not supported: upload {SUPPORTED}")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252; binary data is refused."""
    if b"\x00" in data:
        raise UnreadableDocument("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument("the file is neither UTF-8 nor Windows-1252 text") from exc


def inspect_upload(
    filename: str | None,
    content_type: str | None,
    data: bytes,
    *,
    title: str | None = None,
    max_bytes: int | None = None,
) -> Upload:
    """Cheap checks made before accepting a file (415 for a type we do not read, 422 for one that cannot
    be what it claims); the full read happens while indexing."""
    source_name = PurePath(filename or "").name[:500]
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than {max_bytes} bytes")
    fmt = detect_format(source_name, content_type, data)
    if not data.strip():
        raise UnreadableDocument("the file is empty")
    if fmt == "pdf" and b"%PDF-" not in data[:1024]:
        raise UnreadableDocument("the file is not a PDF document (it has no PDF header)")
    if fmt != "pdf":
        decode_text(data)
    name = (title or "").strip() or PurePath(source_name).stem.strip() or "Untitled"
    return Upload(data=data, fmt=fmt, title=name[:300], source_name=source_name)


def pdf_to_text(data: bytes) -> str:
    """The text of every page, pages separated by blank lines, within `MAX_PAGES` pages, their content
    streams within `MAX_PDF_CONTENT_BYTES` once decompressed, and the text within `MAX_TEXT_CHARS`."""
    from pypdf import PdfReader  # here: only a PDF needs it, and it is slow to import on a cold start

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is password-protected")
        if len(reader.pages) > MAX_PAGES:
            raise DocumentTooLarge(
                f"the PDF has {len(reader.pages):,} pages; at most {MAX_PAGES:,} are indexed:"
                " split it into smaller files"
            )
        pages: list[str] = []
        content_bytes = text_chars = 0
        for number, page in enumerate(reader.pages, start=1):
            contents = page.get_contents()
            content_bytes += 0 if contents is None else len(contents.get_data())
            if content_bytes > MAX_PDF_CONTENT_BYTES:
                raise DocumentTooLarge(
                    f"the PDF's page content is larger than {MAX_PDF_CONTENT_BYTES:,} bytes once"
                    f" decompressed (by page {number}); split it into smaller files"
                )
            pages.append(page.extract_text() or "")
            text_chars += len(pages[-1])
            if text_chars > MAX_TEXT_CHARS:
                raise _too_much_text()
    except AppError:
        raise
    except Exception as exc:
        # pypdf reports a damaged file with many exception types (PdfReadError, ValueError, KeyError...).
        reason = f"{type(exc).__name__}: {exc}"[:300]
        raise UnreadableDocument(f"the PDF could not be read ({reason})") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


def extract_text(upload: Upload) -> tuple[str, Literal["markdown", "text"]]:
    """The document's text and how the chunker should read it (Markdown keeps headings)."""
    if upload.fmt == "pdf":
        return pdf_to_text(upload.data), "text"
    text = decode_text(upload.data)
    if upload.fmt == "html":
        # Here, not at import: the knowledge routes import this module, and only indexing an HTML file
        # needs the HTML parser.
        from functions.core.knowledge.html_text import html_to_markdown

        return _check_text_size(html_to_markdown(text)), "markdown"
    return _check_text_size(text), upload.fmt
