"""The pipeline's stages, each a plain function over plain data (records, lake paths)."""
