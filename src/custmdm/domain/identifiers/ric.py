"""RIC (公民身份号码, resident identity card number, GB 11643-1999).

18 characters: a 6-digit address code (GB/T 2260, where the number was first
issued), the birth date as YYYYMMDD, a 3-digit sequence number (odd for men,
even for women) and a check character (ISO 7064 MOD 11-2, 0-9 or X).

This wraps :mod:`stdnum.cn.ric` (python-stdnum 2.2) and reuses its compact,
check-digit and birth-date functions, with one relaxation. stdnum also requires
the county of the address code to have existed in the *birth year*
(``[1983-1993]潮阳县`` cannot appear in the number of someone born in 1980).
But the address code records where the number was issued, which for everyone
born before 1984 is years after birth: stdnum rejects the example of the
Chinese Wikipedia article ``440524188001010014`` and the numbers of real people
born before their county was created (see guanguans/id-validator pull request
#4, "1995年之前出生的但是是后来办身份证的 ... 查不到", and python-stdnum issue
#442 for codes missing from its table). Its table also lacks 83, the code of
residence permits for Taiwan residents, which use the same number format. So we
only require the first two digits to name a province-level region (including
71, 81, 82 and 83); :func:`get_birth_place` still gives stdnum's lookup.

>>> validate('11010519491231002x')
'11010519491231002X'
>>> validate('440524188001010014')  # stdnum: InvalidComponent
'440524188001010014'
>>> validate('110105194912310021')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidChecksum: the check character should be X
>>> validate('110105194902310026')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidComponent: the birth date 19490231 does not exist
"""

from __future__ import annotations

import datetime
import unicodedata

from stdnum.cn import ric as _stdnum_ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import clean, isdigits

#: First two digits of the address code: provinces (GB/T 2260), Taiwan (71),
#: Hong Kong (81), Macao (82) and residence permits of Taiwan residents (83).
PROVINCE_CODES: frozenset[str] = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65", "71", "81", "82", "83"}
)


def compact(number: str) -> str:
    """Return the number without spaces or dashes, in upper case, full-width folded.

    (stdnum's own compact keeps spaces.)

    >>> compact('110105 19491231 002x')
    '11010519491231002X'
    """
    if number.isascii() and number.isalnum():  # already compact: the common case, fast
        return number.upper()
    return clean(unicodedata.normalize("NFKC", number), " -").upper().strip()


def calc_check_digit(number: str) -> str:
    """Return the check character for the first 17 digits (stdnum's implementation).

    >>> calc_check_digit('11010519491231002')
    'X'
    """
    return _stdnum_ric.calc_check_digit(compact(number)[:17] + "0")


def get_birth_date(number: str) -> datetime.date:
    """Return the birth date in the number (stdnum's implementation)."""
    return _stdnum_ric.get_birth_date(compact(number))


def get_birth_place(number: str) -> dict[str, str]:
    """Return stdnum's province and county for the address code (may be stricter than us)."""
    return _stdnum_ric.get_birth_place(compact(number))


def validate(number: str) -> str:
    """Check the number and return its compact form, raising stdnum's exceptions."""
    number = compact(number)
    if len(number) != 18:
        raise InvalidLength(f"it has {len(number)} characters; a resident ID number has 18")
    if not isdigits(number[:17]) or number[17] not in "0123456789X":
        raise InvalidFormat("it must be 17 digits followed by a digit or X")
    expected = calc_check_digit(number)
    if number[17] != expected:
        raise InvalidChecksum(f"the check character should be {expected}")
    try:
        get_birth_date(number)
    except StdnumValidationError:
        raise InvalidComponent(f"the birth date {number[6:14]} does not exist") from None
    if number[:2] not in PROVINCE_CODES:
        raise InvalidComponent(f"the address code {number[:6]} names no province")
    return number


def is_valid(number: str) -> bool:
    """Tell whether the number is a valid resident identity card number."""
    try:
        return bool(validate(number))
    except StdnumValidationError:
        return False


def format(number: str) -> str:
    """Return the standard presentation: the 18 characters without spaces."""
    return compact(number)
