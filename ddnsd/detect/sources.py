"""Source specs → detectors. :func:`ddnsd.detect.spec.parse_source` parses a source
string once, at config time (the table of forms is there); :func:`make_detector`
builds the detector of a parsed spec.
"""

from __future__ import annotations

from ddnsd.detect.base import Detector
from ddnsd.detect.command import CommandDetector
from ddnsd.detect.dns import DnsDetector
from ddnsd.detect.echo import HttpDetector
from ddnsd.detect.interface import InterfaceDetector
from ddnsd.detect.push import PushDetector, PushStore
from ddnsd.detect.spec import SourceSpec
from ddnsd.detect.static import FileDetector, StaticDetector


def make_detector(
    spec: SourceSpec,
    *,
    timeout: float = 5.0,
    allow_private: bool = False,
    push_store: PushStore | None = None,
) -> Detector:
    """The detector for ``spec``; ValueError when it is unusable.

    ``timeout`` bounds one detection (HTTP, DNS, command); ``allow_private`` admits
    private and documentation ranges (lab use); ``push_store`` is where ``push`` reads
    (None outside the daemon: the source then reports that only ``ddnsd run`` is pushed to).
    """
    kind, rest = spec.kind, spec.arg
    if kind == "http":
        return HttpDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "dns":
        return DnsDetector(f"dns:{rest}", timeout=timeout, allow_private=allow_private)
    if kind == "iface":
        return InterfaceDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "cmd":
        return CommandDetector(rest, timeout=timeout, allow_private=allow_private)
    if kind == "file":
        return FileDetector(rest, allow_private=allow_private)
    if kind == "static":
        return StaticDetector(rest, allow_private=allow_private)
    return PushDetector(push_store, allow_private=allow_private)
