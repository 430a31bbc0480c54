"""The offline, layout-aware rule extractor: label/value geometry, table reconstruction, arithmetic."""

from pipeline.extract.rules import extract_invoice

__all__ = ["extract_invoice"]
