"""The plugin manager: built-in plugins, installed ``djflow`` entry points, ``plugins/*.py``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import DefinitionError
from .pipefile import load_module

BUILTIN_PLUGINS = ("djflow.types", "djflow.declare", "djflow.executors", "djflow.commands")


def make_plugin_manager(project_dir: Path | None = None) -> pluggy.PluginManager:
    """A plugin manager with the built-in plugins, installed plugins and the project's local ones."""
    import importlib

    manager = pluggy.PluginManager("djflow")
    manager.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(name), name=name)
    try:
        manager.load_setuptools_entrypoints("djflow")
    except pluggy.PluginValidationError as error:
        raise _invalid_plugin(error) from None
    if project_dir is not None:
        _register_local_plugins(manager, project_dir)
    return manager


def local_plugin_manager(project_dir: Path) -> pluggy.PluginManager:
    """A plugin manager with only the project's ``plugins/*.py`` files: no built-in or installed plugins.

    The CLI asks it for the commands those files add; the commands of built-in and installed
    plugins are on the ``djflow`` group already, so their modules and entry points are not
    loaded a second time.
    """
    manager = pluggy.PluginManager("djflow")
    manager.add_hookspecs(hookspecs)
    _register_local_plugins(manager, project_dir)
    return manager


def _register_local_plugins(manager: pluggy.PluginManager, project_dir: Path) -> None:
    for module in load_local_plugins(project_dir):
        register_plugin(manager, module, f"local:{Path(module.__file__).name}")


def register_plugin(manager: pluggy.PluginManager, plugin: object, name: str | None = None) -> None:
    """Register ``plugin``; a hook implementation that does not fit its spec is a DefinitionError."""
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        raise _invalid_plugin(error) from None


def _invalid_plugin(error: pluggy.PluginValidationError) -> DefinitionError:
    detail = " ".join(str(error).split())
    plugin = getattr(error.plugin, "__file__", None) or getattr(error.plugin, "__name__", None) or repr(error.plugin)
    return DefinitionError(
        f"plugin {plugin} has a hook that does not fit djflow's hooks ({detail}); "
        "check the hook's name and argument names against docs/plugins.md"
    )


# local plugin modules already imported in this process, by path, with the file's stamp
_local_modules: dict[Path, tuple[tuple[int, int], ModuleType]] = {}


def load_local_plugins(project_dir: Path) -> list[ModuleType]:
    """Import every ``*.py`` in the ``plugins/`` folder beside the pipefile, in name order.

    A file is imported once per process (again only when it changed), so the CLI's look
    for plugin commands and the pipeline's load share the same module.
    """
    folder = project_dir / "plugins"
    if not folder.is_dir():
        return []
    modules = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        info = path.stat()
        stamp = (info.st_mtime_ns, info.st_size)
        cached = _local_modules.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_module(path))
            _local_modules[path] = cached
        modules.append(cached[1])
    return modules


def plugin_report(manager: pluggy.PluginManager) -> list[dict]:
    """Installed and local plugins with the hooks they implement (built-ins left out)."""
    versions = {plugin: dist.version for plugin, dist in manager.list_plugin_distinfo()}
    report = []
    for name, plugin in manager.list_name_plugin():
        if name in BUILTIN_PLUGINS or name.startswith("pipefile:"):
            continue
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        entry = {"name": name, "hooks": hooks}
        if plugin in versions:
            entry["version"] = versions[plugin]
        report.append(entry)
    return report
