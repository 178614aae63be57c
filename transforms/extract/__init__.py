"""Technology extraction: the ``local`` matcher (default) and the ``openai`` backend."""

from transforms.extract.stage import ExtractionRun, extract_postings, last_run_stats

__all__ = ["ExtractionRun", "extract_postings", "last_run_stats"]
