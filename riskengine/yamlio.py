"""Reading YAML safely, with the position of every key.

The file is composed into ruamel.yaml's node tree (YAML 1.2 resolution, so ``NO``/``yes``/``on``
stay strings) and turned into plain Python values here, never by a constructor that could build
objects from tags. Along the way every key's line and column is recorded, so that a later
validation error on ``factors.russia_balancing.low`` can point at the line that wrote it.

Hostile input is bounded: a size limit before parsing, a node budget against alias bombs, a depth
limit against deep nesting, and strict UTF-8 decoding.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from riskengine.problems import InputError, Problem, display_path

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64

# Set (to anything but "" or "0") to parse with ruamel's pure-Python parser only, as on a machine
# without the compiled ruamel.yaml.clib; the test suite runs its YAML cases through both.
PURE_ENV = "RISKENGINE_PURE_YAML"
# Set to read every file with ruamel (libyaml where safe), as on a machine without yaml-rs.
RUAMEL_ENV = "RISKENGINE_RUAMEL_YAML"
PARSER_ENVS = (PURE_ENV, RUAMEL_ENV)

Location = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_PLAIN = "tag:riskengine,2026:plain"  # an untagged, unquoted scalar, resolved by _core_schema_tag

# The YAML 1.2 core schema (spec 10.3.2), so `NO`, `on` and `1_000` stay text.
_CORE_SCHEMA = [
    (_NULL, re.compile(r"~|null|Null|NULL|")),
    (_BOOL, re.compile(r"true|True|TRUE|false|False|FALSE")),
    (_INT, re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    (_FLOAT, re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN")),
]


def _tag(node: Any) -> str:
    # Tags the resolver assigned are plain strings; str() on ruamel's Tag URI-decodes every
    # time, which was a third of the time spent validating a large catalogue.
    ctag = node.ctag
    return ctag.suffix if ctag.handle is None and isinstance(ctag.suffix, str) else str(ctag)


_MAYBE_NOT_TEXT = frozenset("-+.0123456789~nNtTfF")


# The four patterns as one, tried in the same order: one regex call per scalar, not four.
_CORE_GROUPS = {f"t{i}": tag for i, (tag, _) in enumerate(_CORE_SCHEMA)}
_CORE_ANY = re.compile("|".join(f"(?P<t{i}>{pattern.pattern})"
                                for i, (_, pattern) in enumerate(_CORE_SCHEMA)))


def _core_schema_tag(text: str) -> str:
    if text and text[0] not in _MAYBE_NOT_TEXT:
        return _STR  # most values are prose; no core-schema pattern starts another way
    match = _CORE_ANY.fullmatch(text)
    return _STR if match is None else _CORE_GROUPS[match.lastgroup]  # type: ignore[index]


class Document:
    """A parsed YAML file: its data and where each key of it was written.

    A file read by the fast parser records no positions while it is read: they are found
    (by composing its text with ruamel) the first time a finding asks for one, which in a
    clean project is never.
    """

    __slots__ = ("_positions", "_text", "data", "path")

    def __init__(self, path: Path, data: Any,
                 positions: dict[Location, tuple[int, int]] | None = None,
                 text: str | None = None) -> None:
        self.path = path
        self.data = data
        self._positions = positions if positions is not None or text is not None else {}
        self._text = text

    def __repr__(self) -> str:
        return f"Document({self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Document) and (self.path, self.data, self.positions) == (
            other.path, other.data, other.positions)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    @property
    def positions(self) -> dict[Location, tuple[int, int]]:
        if self._positions is None:
            self._positions = _positions_of(self._text or "", self.shown)
            self._text = None
        return self._positions

    @property
    def text(self) -> str | None:
        """The text the positions are still to be found in (None once found, or if given)."""
        return self._text

    @property
    def shown(self) -> str:
        return display_path(self.path)

    def position(self, loc: Location) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the deepest recorded key on ``loc``."""
        for end in range(len(loc), -1, -1):
            pos = self.positions.get(tuple(loc[:end]))
            if pos is not None:
                return pos
        return None, None

    def problem(self, loc: Location, message: str, code: str, severity: str = "error") -> Problem:
        line, col = self.position(loc)
        return Problem(
            self.shown, line, col, dotted(loc), message, code, severity  # type: ignore[arg-type]
        )


def dotted(loc: Location) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Builder:
    """Turns a node tree into dicts, lists and scalars, recording key positions."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.positions: dict[Location, tuple[int, int]] = {}
        self.nodes = 0
        self.problems: list[Problem] = []
        self.plain_tag, self.str_tag = _tag_objects()[_PLAIN], _tag_objects()[_STR]

    def fail(self, node: Any, message: str, code: str, loc: Location) -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.shown, mark.line + 1, mark.column + 1, dotted(loc), message, code)
        )

    def build(self, node: Any, loc: Location, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(node, f"document expands to more than {MAX_NODES} values "
                         "(alias bomb or oversized file)", "RE002", loc)
        if depth > MAX_DEPTH:
            # no field path: sixty-odd keys joined with dots help nobody
            raise _Abort(node, f"nesting deeper than {MAX_DEPTH} levels", "RE002", ())
        # Most nodes carry one of the resolver's own tags, known by identity: no _tag call.
        ctag = node.ctag
        if ctag is self.plain_tag:
            text = node.value
            if text and text[0] not in _MAYBE_NOT_TEXT:
                return text  # prose: no core-schema pattern starts this way
            return self.scalar(node, _PLAIN, loc)
        if ctag is self.str_tag:
            return node.value
        tag = _tag(node)
        if tag == _MAP:
            return self.build_mapping(node, loc, depth)
        if tag == _SEQ:
            build = self.build
            return [build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if not hasattr(node, "value") or not isinstance(node.value, str):
            self.fail(node, f"tag {tag!r} is not allowed", "RE003", loc)
            return None
        return self.scalar(node, tag, loc)

    def build_mapping(self, node: Any, loc: Location, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        positions = self.positions
        build, scalar = self.build, self.scalar
        plain, string = self.plain_tag, self.str_tag
        for key_node, value_node in node.value:
            key_ctag = key_node.ctag
            key_tag = _PLAIN if key_ctag is plain else _STR if key_ctag is string else _tag(
                key_node)
            if key_tag in (_MAP, _SEQ):
                self.fail(key_node, "a mapping key must be a plain value", "RE102", loc)
                continue
            text = key_node.value
            # Keys are names in this format; `1:` or `true:` are read as the text written.
            # A key that reads as text is that text; only others need the scalar rules
            # (which also report a bad `!!int` or an infinite key).
            key = text if isinstance(text, str) and (key_tag == _STR or (key_tag == _PLAIN and (
                not text or text[0] not in _MAYBE_NOT_TEXT))) else scalar(key_node, key_tag, loc)
            key = text if not isinstance(key, str) else key
            key_loc = (*loc, key)
            if key in out:
                first = positions.get(key_loc, (None, None))[0]
                self.fail(key_node, f"duplicate key {key!r} (first at line {first})",
                          "RE004", key_loc)
                continue
            mark = key_node.start_mark
            positions[key_loc] = (mark.line + 1, mark.column + 1)
            out[key] = build(value_node, key_loc, depth + 1)
        return out

    def scalar(self, node: Any, tag: str, loc: Location) -> Any:
        text: str = node.value
        if tag == _PLAIN:
            tag = _core_schema_tag(text)
        if tag in (_STR, _TIMESTAMP):
            # Dates stay text: the models parse them, so a bad date is a field error, not a crash.
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            try:
                if text.startswith(("0o", "0x")):
                    return int(text, 0)
                return int(text, 10)  # YAML 1.2 reads a leading zero as decimal
            except ValueError:
                self.fail(node, f"{text!r} is not a number", "RE102", loc)
                return None
        if tag == _FLOAT:
            lowered = text.lower()
            if lowered in (".nan", ".inf", "+.inf", "-.inf"):
                value = float(lowered.replace(".", ""))
            else:
                try:
                    value = float(text)
                except ValueError:
                    self.fail(node, f"{text!r} is not a number", "RE102", loc)
                    return None
            if not math.isfinite(value):
                self.fail(node, f"{text} is not a finite number", "RE102", loc)
                return None
            return value
        self.fail(node, f"tag {tag!r} is not allowed", "RE003", loc)
        return None


class _Abort(Exception):
    def __init__(self, node: Any, message: str, code: str, loc: Location) -> None:
        super().__init__(message)
        self.node, self.message, self.code, self.loc = node, message, code, loc


def _decode(raw: bytes, shown: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError([Problem(shown, line, col, "", "not valid UTF-8 text "
                                  f"(byte 0x{raw[exc.start]:02x})", "RE001")]) from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        raise InputError([Problem(shown, line, None, "", "binary file (NUL byte)", "RE001")])
    return text.removeprefix("\ufeff")


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _read_regular(path: str | Path, shown: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``path`` if it is a regular file, else RE001 saying what it is.

    Opened without blocking and checked on the open descriptor: opening a FIFO for reading
    would wait for a writer forever, and checking the name first would leave a gap in which it
    could be swapped.
    """
    def refuse(message: str) -> InputError:
        return InputError([Problem(shown, None, None, "", message, "RE001")])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            try:
                with os.scandir(path):
                    pass
            except OSError as exc:
                raise refuse(f"cannot read folder: {exc.strerror}") from None
            raise refuse("is a folder, not a YAML file")
        if not stat.S_ISREG(mode):
            raise refuse(f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special')})")
        chunks, size = [], 0
        while size < limit and (chunk := os.read(fd, limit - size)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_yaml(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Parse one YAML file into a :class:`Document`; every problem raises :class:`InputError`."""
    if not isinstance(path, Path):  # Path(a Path) parses it again
        path = Path(path)
    shown = display_path(path)
    raw = _read_regular(path, shown, max_bytes + 1)
    if len(raw) > max_bytes:
        raise InputError([Problem(shown, None, None, "",
                                  f"file larger than the {max_bytes:,}-byte limit", "RE002")])
    text = _decode(raw, shown)
    if not text.strip():
        raise InputError([Problem(shown, 1, 1, "", "empty file", "RE001")])
    if _use_fast():
        data = _fast_data(text, shown)
        if data is not _NOT_PLAIN:
            return Document(path, data, text=text)
    data, positions = _read_text(text, shown)
    return Document(path, data, positions)


def _read_text(text: str, shown: str) -> tuple[Any, dict[Location, tuple[int, int]]]:
    """The data of ``text`` through ruamel's node tree, with every key's position."""
    node = _compose(text, shown)
    builder = _Builder(shown)
    builder.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
    data = None
    try:
        data = builder.build(node, (), 0)
    except _Abort as abort:
        builder.fail(abort.node, abort.message, abort.code, abort.loc)
    except RecursionError:
        raise InputError([Problem(shown, None, None, "", "nesting too deep", "RE002")]) from None
    if builder.problems:
        raise InputError(builder.problems)
    return data, builder.positions


def _positions_of(text: str, shown: str) -> dict[Location, tuple[int, int]]:
    """The key positions of a file the fast parser read. Should ruamel refuse what yaml-rs
    took (the two are tested to agree on what they both accept), findings lose their lines
    rather than the file its data."""
    try:
        return _read_text(text, shown)[1]
    except InputError:
        return {}


# ---------------------------------------------------------------------------------------------
# the fast parser: yaml-rs (saphyr, in Rust) builds plain values directly, about ten times
# faster than composing ruamel's node tree in Python (5,000 scenario files: 0.5 s against 6.4 s),
# which was most of the time of loading a large project.
#
# It is used only where it means what ruamel and _Builder mean. Text with a construct where the
# two are known to differ, or that this module refuses, goes to ruamel, which also words every
# error: directives and document markers, anchors, aliases and tags (yaml-rs drops unknown
# tags), numbers with `_` or a `0X`/`0O`/`0b` prefix (yaml-rs reads them, the YAML 1.2 core
# schema does not), tabs, the characters YAML 1.1 took for line breaks, and characters YAML
# does not allow (yaml-rs reads control characters into the data). What yaml-rs returns is
# then checked: keys that are not text (`1:`, `true:`), numbers that are not finite
# or too long to read, more nesting or values than the limits, all go to ruamel. The two
# parsers are compared on generated documents in tests/test_yaml_parsers.py.

_NOT_PLAIN = object()

# Each pattern is tried only when a cheap test says it could match: tried on every file, the
# one regex these make took four times as long as yaml-rs's reading.
_MARKERS = ("%", "---", "...")
_INDICATOR = re.compile(r"(?:^|[\s\[\]{},])[&*!]")  # anchors, aliases, tags
# yaml-rs reads a number with `_` anywhere in it (`1_000`, `_0`, `+_1`, `._5`, `0x_1F`): a
# token that starts with [-+_.]* and a digit, and has a `_`. The lines with a `_` are cut into
# tokens, each with a `_` tried at its start: linear (a pattern searched from every `_` took
# quadratic time on a long run of them, 40,000 in 32 s), and only the lines that need it.
_TOKEN_BREAK = re.compile(r"[\s,\[\]{}]+")
_NUMBER_START = re.compile(r"[-+_.]*[0-9]")


def _underscore_number(text: str) -> bool:
    if "_" not in text:
        return False
    return any("_" in token and _NUMBER_START.match(token) is not None
               for line in text.splitlines() if "_" in line
               for token in _TOKEN_BREAK.split(line))


_PREFIX = re.compile(r"0[XObB]")
_PREFIX_NUMBER = re.compile(r"(?:^|[\s\[{,])[-+]?0[XObB]")  # 0X1F, 0b101
# Tabs; the characters YAML 1.1 took for line breaks (NEL, LS, PS); and what YAML does not
# allow in a stream at all (C0 and C1 controls, DEL, U+FFFE/U+FFFF), which ruamel refuses
# and yaml-rs reads into the data, an escape sequence bound for a terminal among them.
_NOT_PLAIN_TEXT = re.compile(
    "[^\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _fast_refused(text: str) -> bool:
    """Whether ``text`` has a construct the fast parser does not read as ruamel does."""
    return (text.startswith(_MARKERS) or any(f"\n{m}" in text for m in _MARKERS)
            or (("&" in text or "*" in text or "!" in text)
                and _INDICATOR.search(text) is not None)
            or _underscore_number(text)
            or (_PREFIX.search(text) is not None and _PREFIX_NUMBER.search(text) is not None)
            or _NOT_PLAIN_TEXT.search(text) is not None)


# yaml-rs recurses in Rust, where no recursion limit guards the stack; with at most this many
# leading indentation and indicator characters on any line, block nesting stays below a depth
# (about 3 levels a character, plus the 48 of flow brackets) that a 256 KB thread stack takes.
_FAST_LEAD = 32
_FAST_DEEP_LINE = re.compile(rf"\n[ ?:-]{{{_FAST_LEAD}}}")
# An int of more digits than Python reads from text (sys.get_int_max_str_digits, 4,300) is one
# _Builder refuses; this many bits is fewer digits than that.
_FAST_INT_BITS = 14_000


def _use_fast() -> bool:
    return _has_fast() and not any(os.environ.get(name, "") not in ("", "0")
                                   for name in PARSER_ENVS)


@functools.cache
def _has_fast() -> bool:
    try:
        import yaml_rs  # noqa: F401
    except ImportError:
        return False
    return True


def _fast_data(text: str, shown: str) -> Any:
    """The data of ``text`` as yaml-rs reads it, or ``_NOT_PLAIN`` where ruamel must read it."""
    if _fast_refused(text) or _FAST_DEEP_LINE.search(f"\n{text[:_FAST_LEAD]}") \
            or _FAST_DEEP_LINE.search(text) or (
                text.count("[") + text.count("{") > _C_SAFE_BRACKETS
                and _bracket_depth(text, shown) > _C_SAFE_BRACKETS):
        return _NOT_PLAIN
    import yaml_rs

    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # its errors are worded by ruamel, at their line
        return _NOT_PLAIN
    return data if data is not None and _plain(data) else _NOT_PLAIN


def _plain(data: Any) -> bool:
    """Whether ``data`` is what _Builder would have made of the same text, as far as its type
    shows: text keys, finite numbers, within the node and depth limits."""
    if type(data) is dict or type(data) is list:
        return 0 <= _plain_nodes(data, 0) < MAX_NODES  # and the root: _Builder counts it
    return _plain_scalar(data)


def _plain_nodes(container: dict[Any, Any] | list[Any], depth: int) -> int:
    """The values in ``container`` and below (-1: one that is not plain). Recursive to at
    most MAX_DEPTH levels, as _Builder is."""
    if depth >= MAX_DEPTH:
        return -1
    if type(container) is dict:
        for key in container:
            if type(key) is not str:
                return -1  # `1:`, `true:`, `null:`: _Builder keeps the text written
        items: Any = container.values()
    else:
        items = container
    nodes = len(items)
    for item in items:
        kind = type(item)
        if kind is str:
            continue
        if kind is dict or kind is list:
            below = _plain_nodes(item, depth + 1)
            if below < 0:
                return -1
            nodes += below
            if nodes > MAX_NODES:
                return -1
        elif not _plain_scalar(item):
            return -1
    return nodes


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(value.bit_length() <= _FAST_INT_BITS)
    if kind is float:
        return math.isfinite(value)
    return False


# libyaml's composer recurses in C and overflows the stack on deep nesting (100,000 levels
# crash the process), so text that could nest deeply goes to the pure-Python parser, whose
# recursion ends in a clean RecursionError. Block nesting needs indentation, so long lines
# bound it; flow nesting needs brackets, counted here (over-counting quoted ones only costs
# speed, never safety).
_C_SAFE_LINE = 2_000
_C_SAFE_BRACKETS = 48


_BRACKET = re.compile(r"[\[\]{}]")


def _bracket_depth(text: str, shown: str) -> int:
    """The deepest nesting of flow brackets; an :class:`InputError` past ``MAX_DEPTH``.

    Checked before parsing because the pure parser's scanner is quadratic in flow depth
    (500 levels take 15 s) and libyaml's composer recursion is unsafe. Every bracket opens a
    node one level deeper, so a file this deep would be refused by the depth limit anyway;
    brackets inside quotes or comments are counted too, which could refuse a quoted string
    of 65 unclosed brackets and nothing realistic.
    """
    depth = deepest = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _line_col(text, match.start())
                raise InputError([Problem(shown, line, col, "", f"nesting deeper than "
                                          f"{MAX_DEPTH} levels", "RE002")])
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """Line and column (1-based) of character ``offset`` of ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _c_parser_is_safe(text: str, depth: int) -> bool:
    return depth <= _C_SAFE_BRACKETS and max(map(len, text.splitlines()), default=0) <= \
        _C_SAFE_LINE


def _use_libyaml() -> bool:
    return _has_libyaml() and os.environ.get(PURE_ENV, "") in ("", "0")


@functools.cache
def _has_libyaml() -> bool:
    try:
        import _ruamel_yaml  # noqa: F401  (ruamel.yaml.clib's compiled parser)
    except ImportError:
        return False
    return True


@functools.cache
def _tag_objects() -> dict[str, Any]:
    """The tags the resolver gives: one object each, so the builder tells them by identity."""
    from ruamel.yaml.tag import Tag

    return {name: Tag(suffix=name) for name in (_PLAIN, _STR, _SEQ, _MAP)}


@functools.cache
def _resolver() -> type:
    """A resolver that leaves every plain scalar for the core schema (``_core_schema_tag``).

    ruamel's own resolver costs a Python call chain per scalar and is lenient (it reads
    ``1_000`` as a number); resolving here is faster and exactly YAML 1.2.
    """
    from ruamel.yaml.nodes import ScalarNode, SequenceNode
    from ruamel.yaml.resolver import BaseResolver
    tags = _tag_objects()

    class PlainResolver(BaseResolver):
        # The C loader passes `loadumper`, the pure one `loader`.
        def __init__(self, version: Any = None, loader: Any = None,
                     loadumper: Any = None) -> None:
            super().__init__(loadumper=loadumper if loadumper is not None else loader)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            return tags[_PLAIN if implicit[0] else _STR] if kind is ScalarNode else (
                tags[_SEQ] if kind is SequenceNode else tags[_MAP])

        @property
        def processing_version(self) -> tuple[int, int]:
            # The pure parser asks the resolver which YAML version it reads (BaseResolver says
            # None, which it cannot compare). Always 1.2: resolution here is the 1.2 core schema
            # whatever a %YAML directive claims, and libyaml ignores the answer anyway.
            return (1, 2)

    return PlainResolver


@functools.cache
def _c_loader() -> type:
    # libyaml's parser and composer with our resolver, built once: ruamel's YAML.compose_all
    # defines a new loader class on every call, a tenth of the time of a large validate.
    from _ruamel_yaml import CParser

    resolver = _resolver()

    class CLoader(CParser, resolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: Any) -> None:
            CParser.__init__(self, stream)
            resolver.__init__(self, loadumper=self)  # type: ignore[misc]

    return CLoader


def _compose_nodes(text: str, fast: bool) -> list[Any]:
    if fast:
        loader = _c_loader()(text)
        try:
            nodes = []
            while loader.check_node():
                nodes.append(loader.get_node())
            return nodes
        finally:
            loader.dispose()
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _resolver()
    return list(yaml.compose_all(io.StringIO(text)))


def _compose(text: str, shown: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    # The "safe" C parser is about seven times faster than the pure one; both only compose
    # nodes here, and YAML 1.2 resolution is the same.
    depth = _bracket_depth(text, shown)
    libyaml = _use_libyaml() and _c_parser_is_safe(text, depth)
    try:
        nodes = _compose_nodes(text, fast=libyaml)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        start = exc.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            message += f" (started at line {start.line + 1})"
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise InputError([Problem(shown, line, col, "", f"YAML syntax error: {message}",
                                  "RE001")]) from None
    except ReaderError as exc:  # a character YAML does not allow: at its place in the text
        offset = exc.position if isinstance(exc.position, int) else -1
        if libyaml and offset >= 0:  # libyaml counts bytes of UTF-8, the pure reader characters
            offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        line, col = _line_col(text, offset) if 0 <= offset < len(text) else (None, None)
        raise InputError([Problem(shown, line, col, "", str(exc).splitlines()[0],
                                  "RE001")]) from None
    except (YAMLError, RecursionError, ValueError) as exc:
        message = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        code = "RE002" if isinstance(exc, RecursionError) else "RE001"
        raise InputError([Problem(shown, None, None, "", message.splitlines()[0], code)]) from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise InputError([Problem(shown, 1, 1, "", "empty file", "RE001")])
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise InputError([Problem(shown, mark.line + 1, mark.column + 1, "",
                                  "more than one YAML document in the file", "RE001")])
    return nodes[0]
