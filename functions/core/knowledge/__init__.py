"""The knowledge base: documents an owner uploads, extracted, chunked, embedded and indexed for retrieval."""
