"""Public address detection: sources, validation, k-of-n agreement, netlink events.

Import from here::

    from ddnsd.detect import Family, detect_agreed, make_detector, parse_source
    sources = [parse_source(s) for s in ["https://api.ipify.org", "dns:opendns"]]  # at config time
    detectors = [make_detector(spec, timeout=5.0) for spec in sources]
    result = detect_agreed(detectors, Family.V4, agree=2, timeout=8.0)
    result.address  # "198.51.100.7" or None (result.reason says why)
"""

from typing import TYPE_CHECKING

# Pure parts load eagerly; the rest (requests, dnspython, sockets) only when first used,
# so pure code (the planner) can import ddnsd.detect.validate without pulling in I/O.
from ddnsd import lazy
from ddnsd.detect.base import Detector, Family, SourceFailed, redact_source
from ddnsd.detect.spec import SOURCE_HELP, SourceSpec, parse_source
from ddnsd.detect.validate import combine_ipv6_host, validate_address, validate_ipv6_host

if TYPE_CHECKING:
    from ddnsd.detect.agree import Agreement, SourceReport, detect_agreed
    from ddnsd.detect.netlink import AddressWatcher
    from ddnsd.detect.push import PushDetector, PushStore
    from ddnsd.detect.sources import make_detector

_LAZY = {
    "Agreement": "agree",
    "SourceReport": "agree",
    "detect_agreed": "agree",
    "AddressWatcher": "netlink",
    "PushDetector": "push",
    "PushStore": "push",
    "make_detector": "sources",
}


__getattr__ = lazy.exports(__name__, _LAZY, globals())


__all__ = [
    "SOURCE_HELP",
    "AddressWatcher",
    "Agreement",
    "Detector",
    "Family",
    "PushDetector",
    "PushStore",
    "SourceFailed",
    "SourceReport",
    "SourceSpec",
    "combine_ipv6_host",
    "detect_agreed",
    "make_detector",
    "parse_source",
    "redact_source",
    "validate_address",
    "validate_ipv6_host",
]
