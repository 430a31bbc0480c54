"""Resource limits for decoding untrusted pages: a pixel cap checked from headers, a memory cap per subprocess.

A small file can describe a huge image (a 110 KB PDF held one 30000 x 30000 page), so every image's pixel
count is read from its header (pdfimages -list, Pillow's lazy open) and refused above the cap before anything
decodes it; and every tool that decodes or reads pages (pdfimages, pdftocairo, tesseract) runs under a hard
address-space limit (RLIMIT_AS via util-linux `prlimit`), so a page that slips past the header check fails its
own row instead of taking the machine's memory.
"""

from __future__ import annotations

import shutil
import signal

from pipeline.errors import DecodeMemoryError, TooManyPixelsError

PIXEL_CAP_HINT = "raise LEDGERLENS_MAX_IMAGE_PIXELS if such pages are expected and the workers have the memory"


def check_pixels(width: int, height: int, cap: int, what: str) -> None:
    """Refuse an image above `cap` pixels, before it is decoded."""
    if width * height > cap:
        raise TooManyPixelsError(
            f"{what} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels), above the limit of "
            f"{cap / 1e6:.0f} megapixels. Downscale it to 300 dpi, or {PIXEL_CAP_HINT}."
        )


def bounded(command: list[str], memory_limit_bytes: int | None) -> list[str]:
    """`command` run under a hard address-space limit (none when the limit is unset or prlimit is missing)."""
    prlimit = shutil.which("prlimit")
    if not memory_limit_bytes or prlimit is None:
        return command
    return [prlimit, f"--as={memory_limit_bytes}", "--", *command]


# How a tool dies when an allocation fails under RLIMIT_AS: a null pointer used (SEGV/BUS), an uncaught
# std::bad_alloc (ABRT), or the kernel's OOM killer (KILL). A SIGTERM, SIGINT or SIGHUP means someone stopped
# it, which says nothing about memory.
_OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGKILL})


def hit_memory_limit(returncode: int, stderr: str) -> bool:
    """Killed by a signal a failed allocation raises, or a failed allocation or mapping in its message: what
    reaching the address-space limit looks like."""
    words = ("alloc", "memory", "failed to map")
    killed_by_memory = returncode < 0 and -returncode in _OUT_OF_MEMORY_SIGNALS
    return killed_by_memory or any(word in stderr.lower() for word in words)


def out_of_memory_error(what: str, memory_limit_bytes: int | None) -> DecodeMemoryError:
    limit = f"{memory_limit_bytes / 2**20:.0f} MiB" if memory_limit_bytes else "its"
    return DecodeMemoryError(
        f"{what} needed more memory than the {limit} limit for decoding one page. Downscale the scan to 300 dpi, "
        "or raise LEDGERLENS_DECODE_MEMORY_LIMIT_MB."
    )
