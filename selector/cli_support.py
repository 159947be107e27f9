"""What every command line of the project shares: options built from settings dataclasses, the
one-line usage error, and parsers and checks of option values (comma-separated lists, bounds,
devices, dtypes, model directories).

It lives apart from `selector.cli` so that the packages built on `selector` (and their commands,
`bench` among them) import it without importing the top-level command (which imports them back).

Each command's options come from its settings dataclass, read with `dataclasses.fields` and the
field's type: a field `max_candidates: int = 128` is the option `--max-candidates`,
`metadata={"help": ...}` its help, a `Literal[...]` its choices, and any other metadata entry
(`"metavar"`, ...) goes to `argparse` as is. The project's own conventions (all through
`field(metadata=...)`):

- `"positional": True`: a positional argument (a `list[...]` field takes any number of them);
- `"repeat": True` on a `list[...]` field: the option is repeated, one value each time;
- `"parse": callable`: the whole option value goes through it (e.g. `"2,4,8"` into a tuple);
- `"cli": False`: a setting of the Python API that is not an option;
- a `bool` field is a flag: `--name` when it defaults to False, `--no-name` when it defaults to True.

Plain `argparse` does this, not transformers' `HfArgumentParser`: the project's conventions needed
its private methods, and importing transformers would cost every command's `--help` a second.

A bad option value ends the program with exit status 2 and one `error: ...` line, as every
other usage error does: these commands sit inside shell pipelines and batch scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

# The weight and feature dtypes an option may name; torch loads only when one is used.
Dtype = Literal["bfloat16", "float16", "float32"]


class UsageError(Exception):
    """Bad input detected by a command itself (after its options parsed)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written; a default shown unless the help already tells it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], (), "", argparse.SUPPRESS) or action.nargs == 0:
            return text
        return super()._get_help_string(action)


class SettingsParser(argparse.ArgumentParser):
    """An argument parser whose options are the fields of settings dataclasses (this module's
    docstring says how), with one-line errors. Subparsers made from it
    (`add_subparsers().add_parser(name, dataclass_types=[...])`) are `SettingsParser`s too."""

    def __init__(self, dataclass_types: Iterable[type] | None = None, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)
        for settings_type in dataclass_types or ():
            add_settings_options(self, settings_type)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {' '.join(message.split())}\n")


def add_settings_options(parser: argparse.ArgumentParser, settings_type: type) -> None:
    """One argument of `parser` for each field of `settings_type` that is an option."""
    hints = typing.get_type_hints(settings_type)
    for field in dataclasses.fields(settings_type):
        if field.init:
            _add_field(parser, field, hints[field.name], settings_type.__name__)


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, annotation: Any, owner: str) -> None:
    meta = dict(field.metadata)
    if not meta.pop("cli", True):
        return
    positional, repeat, parse = meta.pop("positional", False), meta.pop("repeat", False), meta.pop("parse", None)
    default = _default(field)
    if default is dataclasses.MISSING:
        meta["required"] = True
    else:
        meta["default"] = default
    option = "--" + field.name.replace("_", "-")
    element = _list_element(annotation)
    if positional:
        meta.pop("required", None)  # a positional argument is required unless it takes any number
        if element is not None:
            parser.add_argument(field.name, type=element, nargs="*", **meta)
        else:
            parser.add_argument(field.name, type=annotation, **meta)
    elif repeat:
        parser.add_argument(option, dest=field.name, type=element or str, action="append", **meta)
    elif parse is not None:
        parser.add_argument(option, dest=field.name, type=parse, **meta)
    elif annotation is bool:
        meta.pop("default", None)
        if default is True:
            parser.add_argument("--no-" + field.name.replace("_", "-"), dest=field.name, action="store_false", **meta)
        else:
            parser.add_argument(option, dest=field.name, action="store_true", **meta)
    else:
        value_type = _without_none(annotation)
        if typing.get_origin(value_type) is Literal:
            choices = typing.get_args(value_type)
            parser.add_argument(option, dest=field.name, type=_choice_of(choices), choices=choices, **meta)
        elif value_type in (str, int, float):
            parser.add_argument(option, dest=field.name, type=value_type, **meta)
        else:
            raise TypeError(f"{owner}.{field.name}: an option of type {annotation} needs "
                            "metadata 'parse' (or 'repeat' for a list), or 'cli': False")


def _choice_of(choices: tuple[Any, ...]) -> Callable[[str], Any]:
    """The choice an option's text spells (`"1"` is the choice 1); any other text stays as it is,
    for argparse to refuse with the list of choices."""
    by_text = {str(choice): choice for choice in choices}
    return lambda text: by_text.get(text, text)


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _without_none(annotation: Any) -> Any:
    """`X` for `X | None`, else the annotation itself."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return annotation
    rest = [a for a in typing.get_args(annotation) if a is not type(None)]
    return rest[0] if len(rest) == 1 else annotation


def _list_element(annotation: Any) -> type | None:
    """`X` for `list[X]` (and `list[X] | None`), else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list:
        return args[0] if args else str
    if len(args) == 1 and typing.get_origin(args[0]) is list:
        return _list_element(args[0])
    return None


def settings_from(namespace: argparse.Namespace, settings_type: type[T]) -> T:
    """The settings dataclass filled from a parsed namespace (fields that are no option keep
    their defaults)."""
    values = vars(namespace)
    return settings_type(**{f.name: values[f.name] for f in dataclasses.fields(settings_type) if f.init and f.name in values})


def add_command(
    sub: argparse._SubParsersAction, name: str, settings_type: type[T], run: Callable[[T], object], help: str, **kwargs: Any
) -> SettingsParser:
    """A subcommand whose options are `settings_type`'s fields; it runs `run(settings)`."""
    parser = sub.add_parser(name, dataclass_types=[settings_type], help=help, **kwargs)
    parser.set_defaults(func=lambda args: run(settings_from(args, settings_type)))
    return parser


def command_parser(**kwargs: Any) -> tuple[SettingsParser, argparse._SubParsersAction]:
    """A top-level parser and its required subcommands (each made a `SettingsParser`)."""
    parser = SettingsParser(**kwargs)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=SettingsParser)
    return parser, sub


def run_parsed(args: argparse.Namespace, errors: tuple[type[BaseException], ...]) -> int:
    """Run the parsed command; the listed errors end it with exit status 2 and one line."""
    try:
        args.func(args)
    except errors as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


# --- option values ----------------------------------------------------------------------------


def _ints(text: str, minimum: int) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"takes comma-separated integers, not {text!r}") from None
    if not values or any(v < minimum for v in values):
        raise ValueError(f"needs integers >= {minimum}, got {text!r}")
    return values


def int_list(text: str, name: str, minimum: int = 1) -> list[int]:
    """'1,4,16' -> [1, 4, 16]; a UsageError names the option otherwise."""
    try:
        return _ints(text, minimum)
    except ValueError as error:
        raise UsageError(f"{name} {error}") from None


def int_tuple_option(minimum: int = 1) -> Callable[[str], tuple[int, ...]]:
    """An argparse `type` reading '2,4,8' as (2, 4, 8); argparse names the option in its error."""

    def parse(text: str) -> tuple[int, ...]:
        try:
            return tuple(_ints(text, minimum))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def choice_list(text: str, name: str, choices: Sequence[str]) -> list[str]:
    """'a,b' -> ['a', 'b'], each one of `choices`; a UsageError names the option otherwise."""
    values = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [v for v in values if v not in choices]
    if not values or bad:
        raise UsageError(f"{name}: {', '.join(bad) or repr(text)} not in {', '.join(choices)}")
    return values


def frame_size(text: str, name: str, example: str, minimum: int, even: bool = False) -> tuple[int, int]:
    """'640x360' -> (640, 360); a UsageError names the option when malformed or too small."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"{name} must look like {example}, not {text!r}") from None
    if width < minimum or height < minimum or (even and (width % 2 or height % 2)):
        raise UsageError(f"{name} {text}: need {'even sides' if even else 'sides'} of at least {minimum} pixels")
    return width, height


def at_least(value: int, minimum: int, name: str) -> int:
    """`value`, or a UsageError naming the option when it is below `minimum`."""
    if value < minimum:
        raise UsageError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_model_dir(path: str) -> None:
    """A UsageError unless `path` is a selector directory (commands check before loading)."""
    if not os.path.isdir(path):
        raise UsageError(f"model directory {path} does not exist")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise UsageError(f"model directory {path} has no config.json (make one with `frame-selector init`)")


def torch_dtype(name: Dtype | None) -> torch.dtype | None:
    """The torch dtype a `Dtype` option names; None (the option not given) stays None."""
    if name is None:
        return None
    import torch

    return getattr(torch, name)


def check_device(device: str | None) -> str:
    """The device to run on: cuda when available unless told; a UsageError for an absent GPU."""
    import torch

    from .hardware import default_device

    if device is None:
        return default_device()
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here")
    if kind not in ("cpu", "cuda"):
        raise UsageError(f"--device {device}: only cpu and cuda are benchmarked")
    return device


__all__ = [
    "UsageError", "SettingsParser", "HelpFormatter", "add_settings_options", "settings_from", "add_command", "command_parser",
    "run_parsed", "int_list", "int_tuple_option", "choice_list", "frame_size", "at_least", "check_model_dir", "Dtype",
    "torch_dtype", "check_device",
]
