"""A task function crosses to a trial's process by where it is defined, not by value.

A Hydra app's task function usually lives in the script the user ran (`__main__`), which pickle cannot name in
another process, so cloudpickle would copy the function with the module state it reads: a `threading.Lock` there
(a cache, a connection pool) cannot be copied at all, and a copied function's traceback names `<dynamic-code>`.
Instead the trial's process loads that script as a module of its own, as multiprocessing's spawn does (its
`__main__` block does not run), and takes the task function from it: module state is made anew there, and
tracebacks name the script's file and line.
"""

import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hydra.types import TaskFunction

# the name a script run as `__main__` has in another process (multiprocessing's spawn uses the same one)
SCRIPT_MODULE = "__mp_main__"


@dataclass(frozen=True)
class ScriptTask:
    """Where the task function of the `__main__` script is: the script's module name (`python -m pkg.train`) or
    file, the function's name, and its first line (Hydra's decorator wraps it under the same name)."""

    module: str | None
    path: str | None
    qualname: str
    first_line: int

    def load(self) -> TaskFunction:
        found: Any = getattr(self._script(), self.qualname.split(".")[0])
        for candidate in _unwrapped(found):
            code = getattr(candidate, "__code__", None)
            if code is not None and code.co_firstlineno == self.first_line and candidate.__name__ == self.qualname:
                task: TaskFunction = candidate
                return task
        raise LookupError(f"the task function {self.qualname} (line {self.first_line}) is no longer in the script")

    def _script(self) -> ModuleType:
        if self.module is not None:
            return importlib.import_module(self.module)
        if not sys.warnoptions:  # Python shows a `__main__` script's DeprecationWarnings: here too, under its name
            warnings.filterwarnings("default", category=DeprecationWarning, module=SCRIPT_MODULE)
        loaded = sys.modules.get(SCRIPT_MODULE)
        if loaded is not None and getattr(loaded, "__file__", None) == self.path:
            return loaded  # the worker process's spawn has loaded it already
        spec = importlib.util.spec_from_file_location(SCRIPT_MODULE, str(self.path))
        assert spec is not None and spec.loader is not None  # a file path always gives a loader
        script = importlib.util.module_from_spec(spec)
        sys.modules[SCRIPT_MODULE] = script
        spec.loader.exec_module(script)
        return script


def portable(task_function: TaskFunction) -> "TaskFunction | ScriptTask":
    """The task function itself when pickle can name it; where it is, for one defined in the `__main__` script."""
    main = sys.modules.get("__main__")
    if getattr(task_function, "__module__", None) != "__main__" or main is None or "." in task_function.__qualname__:
        return task_function
    spec = getattr(main, "__spec__", None)
    path = getattr(main, "__file__", None)
    if spec is None and path is None:
        return task_function  # an interactive session: nothing to load again, so it goes by value
    return ScriptTask(
        module=spec.name if spec is not None else None,
        path=path,
        qualname=task_function.__qualname__,
        first_line=task_function.__code__.co_firstlineno,
    )


def _unwrapped(function: Any) -> list[Any]:
    """`function` and each function it wraps (`functools.wraps` chains, as `hydra.main` makes)."""
    chain = [function]
    while (inner := getattr(chain[-1], "__wrapped__", None)) is not None and len(chain) < 10:
        chain.append(inner)
    return chain
