"""Engine seams: small Protocols for the replaceable engines (OCR, VLM client, storage) and their registries.

Each engine lives in its own module here; a stage depends on the Protocol, the run context picks the
implementation by name from the registry.
"""
