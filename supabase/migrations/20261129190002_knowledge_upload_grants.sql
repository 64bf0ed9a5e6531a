-- Knowledge files uploaded straight to storage (functions/core/knowledge/uploads.py): the document is
-- recorded before its file exists, with a placeholder content hash, and the owner's indexing sets the
-- real hash, size and media type once the file has arrived.
grant update (content_hash, size_bytes, mime_type) on public.knowledge_documents to authenticated;

-- The cleanup job fails documents whose file never arrived (the upload form expired), so the studio
-- stops waiting for them and says why.
grant select on public.knowledge_documents to service_role;
grant update (status, error) on public.knowledge_documents to service_role;
