"""Claude as a second reader: image + OCR hints in, a VlmInvoice out, fused with the OCR result.

Modules: image (fit the token budget), prompt (versioned text), client (SDK calls, concurrency, retries),
cache (content-addressed answers under OUT/vlm-cache), cost (prices and the run budget), fusion (per-field
evidence), extract (the tier cascade that process.py calls).
"""
