"""One small exception hierarchy. Messages say what was wrong and what to do about it."""

from __future__ import annotations

from typing import ClassVar

from schemas.codes import FailureCode, OutputCode


class LedgerlensError(Exception):
    """Base of every error Ledgerlens raises on purpose."""


class ConfigError(LedgerlensError):
    """A setting or command-line argument is unusable."""


class OutputError(LedgerlensError):
    """The output location cannot be written."""

    code: ClassVar[OutputCode] = OutputCode.OUTPUT_ERROR


class CorruptPartError(OutputError):
    """A Parquet part file in OUT cannot be read (truncated, overwritten, not Parquet)."""

    code = OutputCode.CORRUPT_PART


class PartitionChangedError(OutputError):
    """A partition changed while it was being compacted; the next compaction tries again."""

    code = OutputCode.PARTITION_CHANGED


class DocumentError(LedgerlensError):
    """This document cannot be processed; it becomes one failed row and the batch goes on."""

    code: ClassVar[FailureCode] = FailureCode.DOCUMENT_ERROR

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class EmptyFileError(DocumentError):
    code = FailureCode.EMPTY_FILE


class UnsupportedFormatError(DocumentError):
    code = FailureCode.UNSUPPORTED_FORMAT


class EncryptedDocumentError(DocumentError):
    code = FailureCode.ENCRYPTED


class CorruptDocumentError(DocumentError):
    code = FailureCode.CORRUPT


class DocumentTooLargeError(DocumentError):
    code = FailureCode.TOO_LARGE


class ImageTooSmallError(DocumentError):
    code = FailureCode.IMAGE_TOO_SMALL


class NoTextError(DocumentError):
    """No page yielded any text (blank or unreadable scan)."""

    code = FailureCode.NO_TEXT


class ProcessingFailedError(DocumentError):
    """Processing crashed even after retries; the row keeps the exception's type and message."""

    code = FailureCode.PROCESSING_FAILED


class OcrCrashedError(DocumentError):
    """Tesseract crashed on a page: its worker process died, and the `tesseract` command failed on the page too."""

    code = FailureCode.OCR_CRASHED


class TooManyPixelsError(DocumentTooLargeError):
    """An image's header declares more pixels than the cap (LEDGERLENS_MAX_IMAGE_PIXELS); nothing was decoded."""

    code = FailureCode.TOO_MANY_PIXELS


class DecodeMemoryError(DocumentTooLargeError):
    """Decoding or reading a page hit the per-process memory limit (LEDGERLENS_DECODE_MEMORY_LIMIT_MB)."""

    code = FailureCode.DECODE_MEMORY_LIMIT


class TransientError(LedgerlensError):
    """A failure worth retrying (a busy tool, a flaky mount, a throttled service)."""


class ReviewError(LedgerlensError):
    """A review action cannot be carried out; the message says why and what to do."""


class ReviewQueueUnavailableError(ReviewError):
    """The queue's database refused a write (locked, gone, full): the documents are queued by the next run."""


class ReviewItemNotFoundError(ReviewError):
    """No queued item has this document id (or the prefix matches none or several)."""


class ReviewConflictError(ReviewError):
    """Another reviewer holds the item, or it has already been decided."""


class ReviewInputError(ReviewError):
    """A corrected value cannot be read (a date, an amount, a currency code...)."""
