"""Code actions: user Python run with RestrictedPython in a pool of limited worker processes.

    async with CodePool(size=2, timeout=2) as pool:
        await pool.run("return input['x'] + 1", input={"x": 1})  # 2

The code sees ``input``, ``context`` and ``outputs`` (JSON values), the modules ``json``,
``math``, ``datetime``, ``re``, ``random`` and ``string`` (vetted subsets), and safe built-ins.
It either ``return``s a value or assigns ``result``; each call starts from fresh state (its own
``random`` generator included). Calls wait for a worker in a queue per organization (``org=``),
served in turn (:mod:`plait.actions.code.share`). Anything refused or stopped raises
:class:`CodeActionError` with a plain-English ``reason``; what the sandbox's policy refuses
(imports, private attributes, syntax errors) raises its subclass :class:`CodeRefused`, which
retry policies never retry.
"""

from plait.actions.code.pool import CodeActionError, CodePool, CodeRefused

__all__ = ["CodeActionError", "CodePool", "CodeRefused"]
