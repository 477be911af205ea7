"""Find ``pipefile.py`` and load it as a module (the way pytest finds conftest.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from .errors import DefinitionError

PIPEFILE_NAME = "pipefile.py"


def find_pipefile(explicit: str | os.PathLike | None = None, start: Path | None = None) -> Path:
    """The pipefile to use: ``explicit``, else ``$DJFLOW_PIPEFILE``, else the nearest
    ``pipefile.py`` in the current folder or one of its parents."""
    explicit = explicit or os.environ.get("DJFLOW_PIPEFILE")
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_dir():
            path = path / PIPEFILE_NAME
        if not path.is_file():
            raise DefinitionError(f"no pipefile at {path}; give the path of an existing pipefile.py")
        return path.resolve()
    folder = (start or Path.cwd()).resolve()
    tried = []
    for candidate_folder in [folder, *folder.parents]:
        candidate = candidate_folder / PIPEFILE_NAME
        tried.append(str(candidate))
        if candidate.is_file():
            return candidate
    shown = ", ".join(tried[:4]) + (f" and {len(tried) - 4} more up to /" if len(tried) > 4 else "")
    raise DefinitionError(
        f"no {PIPEFILE_NAME} found; tried {shown}. Run `djflow init` to write one, or pass --pipefile PATH"
    )


def module_name_for(path: Path) -> str:
    """A stable module name for a file loaded by path (the same in worker processes)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return f"djflow_user_{path.stem}_{digest}"


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path``; an exception inside it becomes a DefinitionError."""
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except DefinitionError:
        sys.modules.pop(name, None)
        raise
    except SystemExit as error:  # e.g. argparse at the top level, reading djflow's own arguments
        sys.modules.pop(name, None)
        raise DefinitionError(
            f"{path} called sys.exit({error.code!r}) while loading; "
            "put script code under `if __name__ == \"__main__\":`"
        ) from None
    except Exception as error:
        sys.modules.pop(name, None)
        raise DefinitionError(f"{path} raised {type(error).__name__} while loading: {error}") from error
    return module
