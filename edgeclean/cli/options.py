"""The clean command's options, made from CleanSettings' fields, so each is declared once (settings.py).

This is how marker builds its CLI from its config classes: the command is wrapped in a function whose
signature has one typer option per field with a ``Flag``, and the wrapper turns them back into settings.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from ..settings import CleanSettings, Flag
from .common import user_errors


@dataclasses.dataclass(frozen=True)
class _Option:
    field: str
    flag: Flag
    parameter: inspect.Parameter
    choices: type[enum.Enum] | None


def settings_options(command: Callable) -> Callable:
    """Give ``command(..., settings: CleanSettings)`` an option for each setting instead of ``settings``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "settings"]
    options = _options()

    @functools.wraps(command)
    def with_settings(**values):
        chosen = {}
        for option in options:
            value = values.pop(option.parameter.name)
            value = value.value if isinstance(value, enum.Enum) else value
            chosen[option.field] = not value if option.flag.inverted else value
        with user_errors():  # settings that contradict each other: one line and exit 2, like the rest
            settings = CleanSettings(**chosen)
        return command(settings=settings, **values)

    parameters = own + [option.parameter for option in options]
    with_settings.__signature__ = signature.replace(parameters=parameters)
    with_settings.__annotations__ = {p.name: p.annotation for p in parameters}
    del with_settings.__wrapped__  # typer must read the new signature, not the command's
    return with_settings


def _options() -> list[_Option]:
    hints = typing.get_type_hints(CleanSettings)
    options = []
    for field in dataclasses.fields(CleanSettings):
        flag: Flag | None = field.metadata.get("flag")
        if flag is None:
            continue
        name = flag.name or field.name
        kind = _optional(hints[field.name])
        default = not field.default if flag.inverted else field.default
        choices = None
        if flag.choices:
            choices = enum.Enum(name.title(), {choice: choice for choice in flag.choices}, type=str)
            kind, default = choices, choices(default)
        info = typer.Option(  # the parameter's name is the flag's: --ctx, --keep-citations/--no-keep-citations
            help=flag.help,
            envvar=flag.envvar,
            min=flag.min,
            max=flag.max,
            show_default=flag.show_default,
        )
        parameter = inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]
        )
        options.append(_Option(field.name, flag, parameter, choices))
    return options


def _optional(kind):
    """``int | None`` as typer reads it: Optional[int]."""
    arguments = typing.get_args(kind)
    if type(None) in arguments:
        (inner,) = [a for a in arguments if a is not type(None)]
        return Optional[inner]
    return kind
