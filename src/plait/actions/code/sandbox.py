"""The inside of a code worker: compile user code with RestrictedPython and run it under limits.

A worker is started by :mod:`plait.actions.code.pool` as ``python -I sandbox.py CONFIG`` and
imports only the standard library, RestrictedPython and orjson, never ``plait``: the less the
child loads, the less user code can reach. It then

1. moves its protocol off fds 0 and 1 (so a stray write cannot corrupt a frame),
2. drops root for ``nobody`` when started as root (RLIMIT_NPROC is not enforced for root),
3. sets RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC and RLIMIT_CORE once,
4. answers requests until stdin closes. Requests and replies are frames: a 4-byte big-endian
   length, then that many bytes of JSON.

Request: ``{"code": str, "input": any, "context": any, "outputs": any}``. Reply: ``{"ok": true,
"value": any, "printed": str}`` or ``{"ok": false, "reason": str}``; ``reason`` is the short,
plain-English cause that the parent raises as ``CodeActionError.reason``.

Escapes are blocked in layers: the compile-time policy refuses imports, class statements and
every name or attribute starting with ``_``; at run time attribute access goes through
:func:`guarded_getattr`, modules are replaced by namespaces of vetted names, and built-ins are
an allow-list. The process limits and the parent's wall-clock kill bound whatever is left.

Each call starts clean: a fresh global scope, and a ``random`` of its own (a new generator seeded
from the OS), so nothing one call sets, its seed included, reaches the next call, which may be
another organization's. The module namespaces are read-only and hold no mutable values.
"""

from __future__ import annotations

import ast
import datetime
import functools
import gc
import importlib
import json
import math
import operator
import os
import random
import re
import resource
import signal
import string
import struct
import sys
import time
import types
import typing
import warnings
from collections.abc import Callable
from typing import Any

import orjson
from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
)
from RestrictedPython.Utilities import utility_builtins

FRAME = struct.Struct(">I")
FILENAME = "<code action>"
FUNCTION = "code_action"
# The user's statements become the body of this function, between the two injected lines, so a
# top-level `return` works and so does assigning `result`.
WRAPPER = f"def {FUNCTION}(input, context, outputs):\n    result = None\n    return result\n"
PRINTED_LIMIT = 10_000


class Refused(Exception):
    """The code may not run; the message is the reason given to the caller."""


class AccessDenied(Exception):
    """User code reached for something the sandbox does not allow."""


# -- compile time ---------------------------------------------------------------------------


class Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with imports and classes refused and clearer messages."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            self.error(node, f"import of {alias.name!r} is not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, f"import of {'.' * node.level + (node.module or '')!r} is not allowed")
        return node

    def visit_TryStar(self, node: ast.AST) -> ast.AST:
        # RestrictedPython < 8.0 allowed this, and it escapes the sandbox (CVE-2025-22153).
        self.error(node, "try/except* is not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class statements are not allowed")
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id == "__import__":
            first = node.args[0] if node.args else None
            name = first.value if isinstance(first, ast.Constant) else "a module"
            self.error(node, f"import of {name!r} is not allowed")
            return node
        return super().visit_Call(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if _private(node.attr) or node.attr in INSPECT_ATTRIBUTES:
            self.error(node, f"attribute {node.attr!r} is not allowed")
            return node
        return super().visit_Attribute(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """``counts[key] += 1`` (refused by RestrictedPython) becomes
        ``_inplaceitem_(_write_(counts), key, "+=", 1)``."""
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)
        node = self.node_contents_visit(node)
        target = typing.cast(ast.Subscript, node.target)
        operation = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        arguments = [target.value, target.slice, operation, node.value]
        call = ast.Call(ast.Name("_inplaceitem_", ast.Load()), arguments, [])
        return ast.fix_missing_locations(ast.copy_location(ast.Expr(call), node))

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and _private(name):
            self.error(node, f"name {name!r} is not allowed (names starting with '_' are reserved)")
        else:
            super().check_name(node, name, allow_magic_methods)


def _private(name: str) -> bool:
    return name.startswith("_") and name != "_"


@functools.lru_cache(maxsize=256)
def compile_action(code: str) -> types.CodeType:
    """Module code that defines ``code_action(input, context, outputs)``; raises ``Refused``."""
    try:
        tree = ast.parse(code, FILENAME)
        wrapper = ast.parse(WRAPPER, FILENAME)
        function = typing.cast(ast.FunctionDef, wrapper.body[0])
        function.body[1:1] = tree.body
        result = compile_restricted_exec(wrapper, FILENAME, policy=Policy)
    except SyntaxError as exc:
        raise Refused(_at(f"{type(exc).__name__}: {exc.msg}", exc.lineno)) from None
    except (RecursionError, MemoryError):
        raise Refused("the code is nested too deeply to compile") from None
    except ValueError as exc:  # e.g. NUL bytes in the source
        raise Refused(f"the code cannot be compiled: {exc}") from None
    if result.errors or result.code is None:
        raise Refused(_compile_errors(result.errors))
    return result.code


def _compile_errors(errors: Any) -> str:
    first = str(errors[0]) if errors else "the code cannot be compiled"
    match = re.match(r"Line (\d+): (.*)$", first, re.S)  # RestrictedPython's "Line 3: message"
    if match:
        first = _at(match[2], int(match[1]))
    more = len(errors) - 1
    return first + (f" (and {more} more problem{'s' * (more > 1)})" if more > 0 else "")


def _at(message: str, lineno: int | None) -> str:
    return f"{message} (line {lineno})" if lineno else message


# -- run time: what the code can reach -------------------------------------------------------


def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """``obj.name`` for user code: no private names, no frames, no ``str.format`` tricks."""
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if _private(name) or name in INSPECT_ATTRIBUTES:
        raise AccessDenied(f"attribute {name!r} is not allowed")
    is_str = isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    if name in ("format", "format_map") and is_str:
        # '{0.__class__}'.format(x) walks attributes inside C, past every guard.
        raise AccessDenied(f"str.{name} is not allowed (use an f-string or %)")
    return getattr(obj, name, *default)


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_getitem(obj: Any, index: Any) -> Any:
    return obj[index]


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "//=": operator.ifloordiv,
    "@=": operator.imatmul,
}


def inplace(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def inplace_item(obj: Any, key: Any, op: str, value: Any) -> None:
    obj[key] = _INPLACE[op](obj[key], value)


def guarded_write(obj: Any) -> Any:
    """The target of ``obj[k] = v``, ``obj.a = v`` and their ``del``: only dicts and lists.

    User code cannot define classes, so nothing else it can reach is its own to change; in
    particular the module namespaces, shared by every call the worker runs, stay as they are.
    """
    if type(obj) in (dict, list):
        return obj
    if isinstance(obj, Namespace):
        raise AccessDenied("modules are read-only")
    raise AccessDenied(f"changing a {type(obj).__name__} object is not allowed")


def refused(name: str, reason: str | None = None) -> Callable[..., Any]:
    """A stand-in for a withheld built-in, so that using it explains itself."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AccessDenied(reason or f"{name}() is not allowed")

    return refuse


def apply(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


# What the C code of the exposed modules imports while it runs: datetime's strftime, timetuple
# and today() import ``time``, strptime imports ``_strptime``. CPython looks ``__import__`` up
# in the calling frame's built-ins, so the sandbox's built-ins need one; user code cannot call it
# (the name is refused at compile time) and it hands out nothing else.
C_IMPORTS: dict[str, types.ModuleType] = {
    "time": time,
    "_strptime": importlib.import_module("_strptime"),  # no type stubs to import it by name
}


def c_import(
    name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
) -> types.ModuleType:
    """The sandbox's ``__import__``: only the modules in :data:`C_IMPORTS`."""
    module = C_IMPORTS.get(name) if level == 0 else None
    if module is None:
        raise AccessDenied(f"import of {name!r} is not allowed")
    return module


class Namespace(types.SimpleNamespace):
    """A vetted subset of a module (read-only to user code: see :func:`guarded_write`)."""


def namespace(module: types.ModuleType, names: str) -> Namespace:
    """A stand-in for ``module`` holding only ``names``, never the modules it imports."""
    return Namespace(**{name: getattr(module, name) for name in names.split()})


def _public(module: types.ModuleType) -> list[str]:
    return [
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    ]


RANDOM = "random uniform randint randrange choice choices shuffle sample gauss seed getrandbits"


def fresh_random() -> Namespace:
    """``random`` for one call: a generator of its own, seeded from the OS, so that a call's
    ``random.seed(...)`` fixes its own numbers and no one else's."""
    generator = random.Random()
    return Namespace(**{name: getattr(generator, name) for name in RANDOM.split()})


MODULES: dict[str, Any] = {
    "json": namespace(json, "dumps loads JSONDecodeError"),
    "math": namespace(math, " ".join(_public(math))),
    "datetime": namespace(datetime, "date datetime time timedelta timezone tzinfo MINYEAR MAXYEAR"),
    "re": namespace(
        re,
        "compile search match fullmatch split findall finditer sub subn escape error "
        "A ASCII I IGNORECASE M MULTILINE S DOTALL X VERBOSE",
    ),
    "random": namespace(random, RANDOM),  # replaced per call: see fresh_random()
    "string": namespace(
        string,
        "ascii_letters ascii_lowercase ascii_uppercase digits hexdigits octdigits punctuation "
        "printable whitespace capwords",
    ),
}

# Built-ins user code may not have; the public ones are replaced by stand-ins that explain.
# setattr/delattr: nothing user code can reach has attributes of its own to change.
WITHHELD = (
    "__build_class__",  # class statements are refused
    *("type", "vars", "globals", "locals", "dir", "compile", "eval", "exec"),
    *("setattr", "delattr", "breakpoint", "help", "exit", "quit"),
)

# RestrictedPython's safe_builtins and utility_builtins, minus WITHHELD and the raw modules
# (replaced by MODULES). limited_builtins is deliberately not
# used: its range() stops at 1,000 items and its list() refuses strings, while the worker's
# memory and CPU limits already bound what plain range/list can cost.
BUILTINS: dict[str, Any] = {
    **{k: v for k, v in safe_builtins.items() if k not in WITHHELD},
    **{k: v for k, v in utility_builtins.items() if k in ("set", "frozenset", "same_type")},
    **MODULES,
    "getattr": guarded_getattr,
    "hasattr": guarded_hasattr,
    **{
        fn.__name__: fn
        for fn in (all, any, dict, enumerate, filter, iter, list, map, max, min, next)
    },
    **{fn.__name__: fn for fn in (reversed, sorted, sum, tuple, zip)},
    **{name: refused(name) for name in WITHHELD if not name.startswith("_")},
    "open": refused("open", "file access is not allowed"),
    "__import__": c_import,
}

GLOBALS: dict[str, Any] = {
    "__builtins__": BUILTINS,
    "__name__": "code_action",
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_getiter_": iter,
    "_write_": guarded_write,
    "_inplacevar_": inplace,
    "_inplaceitem_": inplace_item,
    "_apply_": apply,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **MODULES,
}


# -- running one request ---------------------------------------------------------------------


def run(code: str, input: Any, context: Any, outputs: Any) -> tuple[Any, str]:
    """Run ``code``; return its value and what it printed. Raises ``Refused`` or user errors."""
    module = compile_action(code)
    collectors: list[PrintCollector] = []

    def print_collector(_getattr_: Any = None) -> PrintCollector:
        collectors.append(typing.cast(Any, PrintCollector)(_getattr_))  # untyped upstream
        return collectors[-1]

    # Fresh per call, the built-ins too (``random`` is in both), so nothing leaks between calls.
    own = fresh_random()
    scope = {**GLOBALS, "__builtins__": {**BUILTINS, "random": own}, "random": own}
    scope["_print_"] = print_collector
    exec(module, scope)
    value = scope[FUNCTION](input, context, outputs)
    return value, "".join(collector() for collector in collectors)


def handle(request: dict[str, Any], config: dict[str, Any]) -> bytes:
    """The encoded reply to one request (never raises for anything user code does)."""
    try:
        arm_cpu_limit(config["cpu_seconds"])
        value, printed = run(
            request["code"], request.get("input"), request.get("context"), request.get("outputs")
        )
        reply = encode_result(value, printed, config["max_output_bytes"])
        del value
        # Garbage this call left in cycles (a generator whose ``finally`` spins) is collected
        # now, on this call's CPU budget, never during another organization's next call.
        gc.collect()
        return reply
    except Refused as exc:
        return failure(str(exc), refused=True)
    except MemoryError:
        compile_action.cache_clear()  # in case cached code is what filled the worker
        return failure(memory_exceeded(config))
    except AccessDenied as exc:
        return failure(_at(str(exc), user_line(exc)), refused=True)
    except BaseException as exc:  # user code may raise anything, SystemExit included
        return failure(_at(f"{type(exc).__name__}: {message(exc)}", user_line(exc)))


def message(exc: BaseException) -> str:
    try:
        return str(exc)[:500]
    except Exception:  # e.g. ValueError(10**5000): str() of the huge int is refused
        return "(the message cannot be shown)"


def encode_result(value: Any, printed: str, limit: int) -> bytes:
    if len(printed) > PRINTED_LIMIT:
        printed = printed[:PRINTED_LIMIT] + "...[truncated]"
    try:
        body = orjson.dumps({"ok": True, "value": value, "printed": printed})
    except TypeError:
        return failure(f"the result is not JSON: {not_json(value)}")
    if len(body) > limit:
        return failure(
            f"the result is too large: {len(body)} bytes; the limit is {limit} bytes"
            f"{setting('code_max_output_bytes')}"
        )
    # orjson writes NaN and the infinities as null; they can only be there if null is.
    if b"null" in body and (where := non_finite(value, "result")) is not None:
        return failure(f"{where}, which JSON cannot hold")
    return body


def non_finite(value: Any, path: str) -> str | None:
    """``'result["ratio"] is NaN'`` for the first NaN or infinity in ``value``, else ``None``.

    ``value`` has already been encoded, so it is JSON-shaped and within orjson's depth limit.
    """
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {float_name(value)}"
    if isinstance(value, dict):
        items: Any = ((f"[{json.dumps(k[:100], ensure_ascii=False)}]", v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"[{index}]", v) for index, v in enumerate(value))
    else:
        return None
    return next((found for step, v in items if (found := non_finite(v, path + step))), None)


def float_name(value: float) -> str:
    """The name JavaScript gives a non-finite float."""
    return "NaN" if math.isnan(value) else "-Infinity" if value < 0 else "Infinity"


def not_json(value: Any, depth: int = 0) -> str:
    """Describe the first part of ``value`` that orjson cannot encode."""
    if depth > 200:
        return "it is nested too deeply (or contains itself)"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a dict key of type {type(key).__name__}"
            if (found := not_json(item, depth + 1)) != "":
                return found
        return ""
    if isinstance(value, list | tuple):
        return next((f for item in value if (f := not_json(item, depth + 1)) != ""), "")
    if isinstance(value, bool | float | str | datetime.date | datetime.time) or value is None:
        return ""  # orjson writes dates and times as ISO 8601 strings
    if isinstance(value, int):
        return "" if -(2**63) <= value < 2**64 else "an integer outside the 64-bit range"
    return f"a value of type {type(value).__name__}"


def setting(name: str) -> str:
    """`` (setting NAME, environment variable PLAIT_NAME)``: the engine setting of a limit."""
    return f" (setting {name}, environment variable PLAIT_{name.upper()})"


def memory_exceeded(config: dict[str, Any]) -> str:
    return f"memory limit exceeded: {config['memory_mb']} MB{setting('code_memory_mb')}"


def failure(reason: str, *, refused: bool = False) -> bytes:
    """A failed reply; ``refused``: the sandbox's policy refused the code (never retried)."""
    return orjson.dumps({"ok": False, "reason": reason, "refused": refused})


def user_line(exc: BaseException) -> int | None:
    """The line of the user's code where ``exc`` was raised (innermost user frame)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# -- the process -----------------------------------------------------------------------------


def arm_cpu_limit(seconds: int) -> None:
    """Allow the coming call ``seconds`` of CPU time on top of what the worker has used.

    RLIMIT_CPU counts the whole life of the process, so a limit set once at start would end a
    long-lived worker after ``seconds`` of total work; the soft limit is moved forward per call
    instead (the kernel then sends SIGXCPU, which kills the worker). The hard limit is left as
    inherited so the soft one can move.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def apply_limits(memory_mb: int) -> list[str]:
    """Set the per-process limits once; return notes on what could not be enforced."""
    notes = drop_root()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails, not kills
    for limit, value in (
        (resource.RLIMIT_CORE, 0),  # SIGXCPU would otherwise dump a core of up to memory_mb
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
    ):
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError) as exc:
            notes.append(f"could not set resource limit {limit}: {exc}")
    if os.geteuid() == 0:
        notes.append("worker runs as root: RLIMIT_NPROC is not enforced for root")
    return notes


def drop_root() -> list[str]:
    """As root, become ``nobody``: RLIMIT_NPROC then holds, and files need world access."""
    if os.geteuid() != 0:
        return []
    import pwd  # only needed here

    try:
        entry = pwd.getpwnam("nobody")
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = 65534
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        return [f"could not drop root privileges: {exc}"]
    return []


def read_frame(fd: int) -> bytes | None:
    """One frame's body, or ``None`` at end of input."""
    header = read_exactly(fd, FRAME.size)
    return None if header is None else read_exactly(fd, FRAME.unpack(header)[0])


def read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, body: bytes) -> None:
    view = memoryview(FRAME.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


def claim_stdio() -> tuple[int, int]:
    """Move the protocol to private fds; fd 0 reads nothing and fd 1 goes to stderr."""
    reader, writer = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return reader, writer


def preload() -> None:
    """Import now what the exposed modules import lazily: after the privilege drop, the
    interpreter's own files may no longer be readable."""
    datetime.datetime.strptime("2000", "%Y")
    compile_action("return 1")


def main() -> None:
    config = orjson.loads(sys.argv[1])
    reader, writer = claim_stdio()
    warnings.simplefilter("ignore")  # compile() warnings would go to stderr, not the caller
    preload()
    notes = apply_limits(config["memory_mb"])
    write_frame(writer, orjson.dumps({"ready": True, "pid": os.getpid(), "notes": notes}))
    while (body := read_frame(reader)) is not None:
        try:
            reply = handle(orjson.loads(body), config)
        except MemoryError:  # out of memory outside user code (decoding a huge input)
            reply = failure(memory_exceeded(config))
        except Exception as exc:  # a bad request: answer it rather than lose the worker
            reply = failure(f"the worker could not run the request: {exc!r}"[:500])
        write_frame(writer, reply)


if __name__ == "__main__":
    main()
