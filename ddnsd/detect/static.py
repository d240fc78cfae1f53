"""``static:ADDR`` (a fixed address) and ``file:PATH`` (first line, re-read each time)."""

from __future__ import annotations

from pathlib import Path

from ddnsd.detect.base import Family, SourceFailed
from ddnsd.detect.command import MAX_OUTPUT, first_line_address
from ddnsd.detect.validate import parse_address, validate_address


class StaticDetector:
    """Always the configured address (when it is of the asked family)."""

    def __init__(self, address: str, *, allow_private: bool = False) -> None:
        self.address = str(parse_address(address))
        self.source = f"static:{address}"
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        try:
            return validate_address(self.address, fam, self.allow_private)
        except ValueError as exc:
            raise SourceFailed(self.source, fam, str(exc)) from None


class FileDetector:
    """The first line of a file, read anew on every call (e.g. written by a DHCP hook)."""

    def __init__(self, path: str, *, allow_private: bool = False) -> None:
        if not path.strip():
            raise ValueError("the file: source needs a path, like file:/run/public-ip")
        self.path = Path(path)
        self.source = f"file:{path}"
        self.allow_private = allow_private

    def detect(self, family: Family) -> str:
        fam = Family(family)
        try:
            with self.path.open("rb") as fh:
                data = fh.read(MAX_OUTPUT)
        except FileNotFoundError:
            raise SourceFailed(self.source, fam, f"{self.path} does not exist") from None
        except OSError as exc:
            raise SourceFailed(
                self.source, fam, f"cannot read {self.path} ({exc.strerror or exc})"
            ) from None
        return first_line_address(
            self.source, fam, data, self.allow_private, f"{self.path} is empty"
        )
