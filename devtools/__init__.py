"""Dev tooling, not product runtime: the sample generator, evaluation against ground truth, calibration
fitting and the reliability diagram. Installed with the `devtools` extra (reportlab); `pipeline`, `schemas`
and `flows` never import it at module level (tests/test_layering.py)."""
