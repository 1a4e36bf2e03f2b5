"""Customer identifiers: which schemes exist and how a value of each is checked.

An identifier is a ``(scheme, value)`` pair such as ``cn.uscc`` /
``914403001922038216``. Every scheme is a module with python-stdnum's contract
(``compact``, ``validate``, ``is_valid``, ``format``); this registry finds the
module for a scheme and turns stdnum's exceptions into :mod:`custmdm.errors`
ones whose message names the scheme, the value and what is wrong.

>>> validate_identifier(' CN.USCC ', '9144 0300 1922 0382 16')
'914403001922038216'
>>> validate_identifier('cn.uscc', '91440300192203821X')
Traceback (most recent call last):
    ...
custmdm.errors.InvalidChecksum: cn.uscc 91440300192203821X: the check character should be 6
— check for a typing error
>>> format_identifier('vat.gb', 'GB980780684')
'980 7806 84'
>>> parse_identifier_arg('vat.eu=nl004495445b01')
Identifier(scheme='vat.eu', value='NL004495445B01')
"""

from __future__ import annotations

import functools
import pkgutil
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import stdnum
from stdnum import exceptions as stdnum_errors
from stdnum.util import get_cc_module

from custmdm import errors
from custmdm.domain.identifiers import ric, uscc

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stdnum.util import NumberValidationModule

__all__ = [
    "SCHEMES",
    "Identifier",
    "format_identifier",
    "is_valid_identifier",
    "make_identifier",
    "normalise_scheme",
    "parse_identifier_arg",
    "supported_schemes",
    "validate_identifier",
]

#: The identifier schemes, with what each one is. ``vat.<cc>`` stands for one
#: scheme per country code for which python-stdnum has ``stdnum.<cc>.vat``.
SCHEMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "cn.uscc": "统一社会信用代码 Unified Social Credit Code of a Chinese legal entity or"
        " other organisation (GB 32100-2015), with its embedded organisation code (GB 11714)",
        "cn.ric": "公民身份号码 Chinese resident identity card number (GB 11643-1999)",
        "vat.<cc>": "VAT or tax number of the country with ISO 3166 code <cc>, checked by"
        " python-stdnum's stdnum.<cc>.vat; vat.eu takes any EU VAT number with its"
        " country prefix; vat.cn is cn.uscc",
    }
)

_OWN_MODULES: Final[Mapping[str, NumberValidationModule]] = MappingProxyType(
    {"cn.uscc": uscc, "cn.ric": ric, "vat.cn": uscc}
)
_VAT_SCHEME = re.compile(r"vat\.([a-z]{2})")
_SCHEME_HINTS: Final[Mapping[str, str]] = MappingProxyType(
    {"vat.el": "vat.gr, or vat.eu with the EL prefix", "vat.uk": "vat.gb", "uscc": "cn.uscc"}
)
_GENERIC_REASONS: Final[Mapping[type[stdnum_errors.ValidationError], str]] = MappingProxyType(
    {
        stdnum_errors.InvalidLength: "the length is wrong",
        stdnum_errors.InvalidFormat: "it contains characters or a layout that are not allowed",
        stdnum_errors.InvalidChecksum: "the check digit does not match",
        stdnum_errors.InvalidComponent: "a part of it is not a valid value",
    }
)
_TYPING_HINT = " — check for a typing error"


@dataclass(frozen=True)
class Identifier:
    """A customer identifier: a scheme (``cn.uscc``, ``vat.de`` ...) and a value.

    Constructing one does not check it; :func:`make_identifier` and
    :func:`parse_identifier_arg` return checked, canonical ones.
    """

    scheme: str
    value: str

    def __str__(self) -> str:
        return f"{self.scheme}={self.value}"


def normalise_scheme(scheme: str) -> str:
    """Return the scheme name as the registry spells it: stripped, lower case.

    >>> normalise_scheme(' VAT.DE ')
    'vat.de'
    """
    return scheme.strip().lower()


@functools.cache
def _vat_country_codes() -> tuple[str, ...]:
    """Country codes for which python-stdnum has a VAT module, plus ``eu``."""
    names = (info.name.rstrip("_") for info in pkgutil.iter_modules(stdnum.__path__))
    return tuple(sorted(cc for cc in names if len(cc) == 2 and get_cc_module(cc, "vat")))


def supported_schemes() -> tuple[str, ...]:
    """Return every concrete scheme name, ``cn.*`` first, then ``vat.<cc>`` by code."""
    vat = tuple(f"vat.{cc}" for cc in _vat_country_codes())
    return ("cn.uscc", "cn.ric", *vat)


def _unknown_scheme(scheme: str) -> errors.ValidationError:
    hint = _SCHEME_HINTS.get(scheme)
    suggestion = f" (did you mean {hint}?)" if hint else ""
    codes = ", ".join(_vat_country_codes())
    return errors.ValidationError(
        f"unknown identifier scheme {scheme!r}{suggestion}; the supported schemes are"
        f" cn.uscc, cn.ric and vat.<cc> with <cc> one of {codes}"
    )


def _module_for(scheme: str) -> NumberValidationModule:
    """Return the module that checks values of a normalised scheme."""
    if scheme in _OWN_MODULES:
        return _OWN_MODULES[scheme]
    match = _VAT_SCHEME.fullmatch(scheme)
    module = get_cc_module(match.group(1), "vat") if match else None
    if module is None:
        raise _unknown_scheme(scheme)
    return module


def _translate(
    scheme: str, shown: str, error: stdnum_errors.ValidationError
) -> errors.ValidationError:
    """Turn a stdnum exception into ours, with a message naming scheme, value and fault."""
    reason = str(error.args[0]) if error.args and error.args[0] else None
    for stdnum_class, ours in (
        (stdnum_errors.InvalidLength, errors.InvalidLength),
        (stdnum_errors.InvalidFormat, errors.InvalidFormat),
        (stdnum_errors.InvalidChecksum, errors.InvalidChecksum),
        (stdnum_errors.InvalidComponent, errors.InvalidComponent),
    ):
        if isinstance(error, stdnum_class):
            reason = reason or _GENERIC_REASONS[stdnum_class]
            if ours is errors.InvalidChecksum:
                reason += _TYPING_HINT
            return ours(f"{scheme} {shown}: {reason}")
    return errors.ValidationError(f"{scheme} {shown}: {reason or 'it is not valid'}")


def _shown(module: NumberValidationModule, value: str) -> str:
    """The value as an error message shows it: compacted when possible."""
    try:
        compacted = module.compact(value)
    except stdnum_errors.ValidationError:
        compacted = ""
    return compacted or repr(value)


def validate_identifier(scheme: str, value: str) -> str:
    """Check a value of a scheme and return its canonical (compact) form.

    Raises :class:`custmdm.errors.InvalidFormat`, ``InvalidLength``,
    ``InvalidChecksum`` or ``InvalidComponent`` for a bad value, and
    :class:`custmdm.errors.ValidationError` listing the supported schemes for an
    unknown scheme.
    """
    scheme = normalise_scheme(scheme)
    module = _module_for(scheme)
    try:
        return module.validate(value)
    except stdnum_errors.ValidationError as error:
        raise _translate(scheme, _shown(module, value), error) from error


def is_valid_identifier(scheme: str, value: str) -> bool:
    """Tell whether a value of a scheme is valid.

    An unknown scheme still raises :class:`custmdm.errors.ValidationError`: it is
    the caller's mistake, not a property of the value.
    """
    return bool(_module_for(normalise_scheme(scheme)).is_valid(value))


def format_identifier(scheme: str, value: str) -> str:
    """Check a value and return it in its scheme's presentation format.

    Raises the same errors as :func:`validate_identifier`.

    >>> format_identifier('vat.de', 'de136695976')
    '136695976'
    """
    canonical = validate_identifier(scheme, value)
    module = _module_for(normalise_scheme(scheme))
    formatter = getattr(module, "format", None)
    return str(formatter(canonical)) if callable(formatter) else canonical


def make_identifier(scheme: str, value: str) -> Identifier:
    """Check a value and return the :class:`Identifier` with normalised scheme and value.

    >>> make_identifier('CN.RIC', '110105 19491231 002x')
    Identifier(scheme='cn.ric', value='11010519491231002X')
    """
    return Identifier(normalise_scheme(scheme), validate_identifier(scheme, value))


def parse_identifier_arg(argument: str) -> Identifier:
    """Parse ``SCHEME=VALUE`` (the command line's ``--id``) into a checked Identifier.

    >>> parse_identifier_arg('cn.uscc 914403001922038216')
    Traceback (most recent call last):
        ...
    custmdm.errors.InvalidFormat: expected SCHEME=VALUE, for example
    cn.uscc=914403001922038216; got 'cn.uscc 914403001922038216' (no '=')
    """
    scheme, separator, value = argument.partition("=")
    example = "expected SCHEME=VALUE, for example cn.uscc=914403001922038216"
    if not separator:
        raise errors.InvalidFormat(f"{example}; got {argument!r} (no '=')")
    if not scheme.strip():
        raise errors.InvalidFormat(f"{example}; got {argument!r} (no scheme before '=')")
    if not value.strip():
        raise errors.InvalidFormat(f"{example}; got {argument!r} (no value after '=')")
    return make_identifier(scheme, value)
