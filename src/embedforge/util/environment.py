"""Facts about the running environment: devices, the process group, installed packages and their versions.

At the path sentence-transformers names ``util.environment``. Only torch and the standard library are imported.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, metadata, version
from typing import Any

import torch

__all__ = [
    "check_package_availability",
    "check_version_requirements",
    "get_device_name",
    "get_installed_version",
    "is_accelerate_available",
    "is_datasets_available",
    "is_dist_initialized",
    "is_training_available",
    "suggest_extra_on_exception",
]

logger = logging.getLogger(__name__)

# (keywords in the error text, the install command to suggest); the first match wins, so order matters:
# a missing torchcodec makes transformers fall back to torchvision's removed `read_video`.
_EXTRA_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pillow", "pil"), 'pip install -U "sentence-transformers[image]"'),
    (("read_video",), 'pip install -U "sentence-transformers[video]"  # or [audio] for audio-only models'),
    (("torchvision",), 'pip install -U "sentence-transformers[image]"'),
    (("torchcodec",), "pip install -U torchcodec"),
    (("soundfile", "librosa"), 'pip install -U "sentence-transformers[audio]"'),
)

# Names model authors use for a package besides its distribution name.
_PACKAGE_ALIASES = {"pytorch": "torch"}


@contextlib.contextmanager
def suggest_extra_on_exception() -> Iterator[None]:
    """Add an install hint to an ImportError or AttributeError raised inside the block by a missing extra.

    The error is re-raised as the same type, with the install command appended to its message, when its text
    names a multimodal dependency (Pillow, torchvision, torchcodec, soundfile, librosa); otherwise unchanged.

    Yields:
        Nothing; the block runs as is.
    """
    try:
        yield
    except (ImportError, AttributeError) as error:
        text = str(error).lower()
        for keywords, hint in _EXTRA_HINTS:
            if any(keyword in text for keyword in keywords):
                message = f"{str(error).strip()}\n\nTo install the required dependencies, run:\n{hint}"
                raise type(error)(message) from error
        raise


def is_dist_initialized() -> bool:
    """Whether ``torch.distributed`` is available in this build and a process group has been initialized."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _cuda_device_name() -> str:
    """``"cuda:<local rank>"``: from ``LOCAL_RANK``, else the global rank when it names a visible GPU, else 0."""
    if "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    if is_dist_initialized() and torch.cuda.device_count() > torch.distributed.get_rank():
        return f"cuda:{torch.distributed.get_rank()}"
    return "cuda:0"


def _is_npu_available() -> bool:
    """Whether Ascend NPUs are usable (the ``torch_npu`` plugin is installed and reports a device)."""
    if importlib.util.find_spec("torch_npu") is None:
        return False
    import torch_npu  # noqa: F401  (registers torch.npu)

    return bool(torch.npu.is_available())  # type: ignore[attr-defined]


def _is_hpu_available() -> bool:
    """Whether Intel Gaudi HPUs are usable (``habana_frameworks`` is installed and reports a device)."""
    if importlib.util.find_spec("habana_frameworks") is None:
        return False
    import habana_frameworks.torch.hpu as hthpu

    return bool(hthpu.is_available())


def get_device_name() -> str:
    """The device this process should run on, checked in the order cuda, mps, npu, xpu, hpu, cpu.

    Under distributed training each process gets its own GPU (see ``LOCAL_RANK``).

    Returns:
        A device string such as ``"cuda:2"``, ``"mps"``, ``"npu"``, ``"xpu"``, ``"hpu"`` or ``"cpu"``.
    """
    if torch.cuda.is_available():
        return _cuda_device_name()
    if torch.backends.mps.is_available():
        return "mps"
    if _is_npu_available():
        return "npu"
    if torch.xpu.is_available():
        return "xpu"
    if _is_hpu_available():
        return "hpu"
    return "cpu"


def check_package_availability(package_name: str, owner: str) -> bool:
    """Whether ``package_name`` is installed under that exact name with ``owner`` in its metadata home page.

    Guards against unrelated distributions that happen to share an import name.

    Args:
        package_name: The distribution name, e.g. ``"datasets"``.
        owner: Text the ``Home-page`` metadata field must contain, e.g. ``"huggingface"``.

    Returns:
        True when the distribution is installed and both checks pass.
    """
    try:
        meta = metadata(package_name)
    except PackageNotFoundError:
        return False
    home_page = meta["Home-page"]
    return meta["Name"] == package_name and home_page is not None and owner in home_page


def is_accelerate_available() -> bool:
    """Whether Hugging Face ``accelerate`` is installed."""
    return check_package_availability("accelerate", "huggingface")


def is_datasets_available() -> bool:
    """Whether Hugging Face ``datasets`` is installed."""
    return check_package_availability("datasets", "huggingface")


def is_training_available() -> bool:
    """Whether the training dependencies (``accelerate`` and ``datasets``) are installed."""
    return is_accelerate_available() and is_datasets_available()


def get_installed_version(package_name: str) -> str | None:
    """The installed version of a package, or None if it is not installed.

    ``"python"`` gives the interpreter's version. An already imported module's ``__version__`` wins over the
    distribution metadata, which lags behind the code for editable installs.

    Args:
        package_name: A distribution name such as ``"transformers"``, or ``"python"``.

    Returns:
        The version string, or None.
    """
    if package_name == "python":
        return platform.python_version()
    module = sys.modules.get(package_name.replace("-", "_"))
    module_version = getattr(module, "__version__", None)
    if isinstance(module_version, str):
        return module_version
    try:
        return version(package_name)
    except PackageNotFoundError:
        return None


def _unmet_requirement(package_name: str, requirement: Any, source: str | None) -> tuple[str, str] | None:
    """Check one requirement.

    Returns:
        None when it is met or cannot be interpreted (the latter logged as a warning), else the package name and
        a line describing what is needed and what is installed.
    """
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    is_dict = isinstance(requirement, dict)
    specifier = requirement.get("specifier", "") if is_dict else requirement
    reason = requirement.get("reason", "") if is_dict else ""
    if not isinstance(specifier, str):
        logger.warning(
            f"Could not verify the {specifier!r} requirement of {source!r}: expected a version specifier string."
        )
        return None
    installed = get_installed_version(package_name)
    try:
        specifier_set = SpecifierSet(specifier, prereleases=True)
        if installed is not None and specifier_set.contains(Version(installed)):
            return None
    except (InvalidSpecifier, InvalidVersion) as error:
        logger.warning(f"Could not verify the {specifier!r} requirement of {source!r}: {error}")
        return None
    found = f"{package_name}=={installed} is installed" if installed else "it is not installed"
    return specifier, f"- {package_name}{specifier}, but {found}. {reason}".rstrip()


def check_version_requirements(requirements: dict[str, Any] | None, source: str | None = None) -> None:
    """Check that installed packages satisfy a model's declared version requirements.

    Requirements that cannot be interpreted (an invalid specifier, a non-string value) are skipped with a
    warning, so a typo in a model's configuration does not make it unloadable.

    Args:
        requirements: Package name to a PEP 440 specifier (``{"transformers": ">=5.15"}``), or to a dict with a
            ``"specifier"`` and a ``"reason"``. ``"python"`` checks the interpreter; ``"pytorch"`` means torch.
            None or empty checks nothing; a non-dict is ignored with a warning.
        source: The model name or path that declared them, for the error message.

    Raises:
        ImportError: Listing every unmet requirement and a ``pip install`` command that satisfies them.
    """
    if not requirements:
        return
    if not isinstance(requirements, dict):
        logger.warning(f"Ignoring the `requirements` of {source!r}: expected a dictionary of version specifiers.")
        return
    unmet: list[str] = []
    install_specs: list[str] = []
    for name, requirement in requirements.items():
        package_name = _PACKAGE_ALIASES.get(name, name)
        result = _unmet_requirement(package_name, requirement, source)
        if result is None:
            continue
        specifier, line = result
        unmet.append(line)
        if package_name != "python":
            install_specs.append(f'"{package_name}{specifier}"')
    if unmet:
        lines = [f"The model {source!r} requires:" if source else "This model requires:", *unmet]
        if install_specs:
            lines.append(f"Install compatible versions with:\n    pip install -U {' '.join(install_specs)}")
        raise ImportError("\n".join(lines))
