"""Streaming exports to S3: row encoders, a gzip multipart writer with bounded memory, sources, manifests."""
