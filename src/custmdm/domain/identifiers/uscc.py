"""USCC (统一社会信用代码, Unified Social Credit Code, GB 32100-2015).

The USCC identifies every legal entity and other organisation in mainland China:
companies, individual businesses, government bodies, public institutions, social
organisations, law firms, temples, trade unions, village collectives... It has 18
characters from ``0-9`` and ``A-Z`` without ``I``, ``O``, ``S``, ``V`` and ``Z``:

======== ====================================================================
position meaning
======== ====================================================================
1        登记管理部门代码, registration authority: 1 机构编制, 2 外交, 3 司法行政,
         4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (market regulation),
         A 中央军委改革和编制办公室, N 农业 (rural collectives), Y 其他 ...
2        机构类别代码, category within that authority, e.g. 91 enterprise,
         92 individual business, 93 farmers' cooperative, 11 government body,
         12 public institution, 51 social organisation, N2 village collective
3-8      登记管理机关行政区划码, region code of the registering authority
         (GB/T 2260, digits; 100000 for national bodies)
9-17     主体标识码, the organisation code (组织机构代码, GB 11714): 8 characters
         and its own check character (0-9 or X) at position 17
18       校验码, check character over the first 17 characters (GB 32100,
         ISO 7064 style, modulus 31)
======== ====================================================================

More information:

* GB 32100-2015 法人和其他组织统一社会信用代码编码规则
* GB 11714-1997 全国组织机构代码编制规则
* https://zh.wikipedia.org/wiki/统一社会信用代码

How this module differs from :mod:`stdnum.cn.uscc` (python-stdnum 2.2), whose
alphabet and check-digit function it reuses:

* stdnum requires positions 1-8 to be digits, so it rejects every number whose
  registration authority or category is a letter: N (village collectives), A
  (military institutions), Y (other authorities). Its own doctest asserts that
  ``A1110000600037341L`` is invalid. The authority table has grown since 2015
  (2-8, A and N were added in 2016, see hutool issue #2020) and may grow again,
  so we accept any character of the USCC alphabet in positions 1 and 2 and only
  require digits in 3-8.
* stdnum does not check the organisation code's own check character (position
  17), so it accepts a letter other than X there and numbers whose organisation
  code is invalid. We check it (GB 11714: weights 3, 7, 9, 10, 5, 8, 4, 2,
  modulus 11, 10 -> X, 11 -> 0). stdnum has no GB 11714 module, and the USCC
  alphabet cannot be reused for it: GB 11714 gives letters their base-36 value
  (A=10 ... Z=35, counting I, O, S, V and Z), so that part is our own code.
  Before enforcing it we checked it against the 708 real numbers of
  ``tests/data/uscc-samples.txt``, from public sources: 439 enterprises (91)
  registered from 1970 to 2019, including old organisation codes, ``X...``
  codes and new ``MA...`` codes, 256 individual businesses (92), government
  bodies (11), public institutions (12) and social organisations (51, 52, 53).
  The organisation check character is right in every one of them, including
  the Fujian pilot codes below, so the check applies to all categories. (No
  real number with a letter authority code could be found in the sources
  searched; GB 32100 takes positions 9-17 from GB 11714 for every authority.)
* Early codes of the Fujian / Xiamen pilot, issued before GB 32100 was final,
  do not satisfy the final check character although they are real and in use
  (e.g. ``91350211M0000XUF46``, ``91350203M0001QKT19``; see hutool issues #2020
  and #4119, where the maintainers confirm that codes registered in Xiamen
  before 2016 do not follow the standard). stdnum rejects them. Their embedded
  organisation code (``M000...``) is valid, so we accept a number whose last
  character is off only when it has that pilot shape (authority 9, region 35,
  organisation code starting with ``M000``) and its organisation check
  character is right. For numbers of that shape a typing error in position 2,
  5-8 or 18 goes unnoticed, and one in the organisation code is caught by its
  own check only: rejecting a valid number is worse than accepting an invalid
  one.
* :func:`compact` also folds full-width characters (``９１４４…``), common when
  numbers are typed with a Chinese input method.

>>> validate('91440300192203821-6')
'914403001922038216'
>>> validate('91440300192203821X')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidChecksum: the check character should be 6
>>> validate('91440300192203821')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidLength: it has 17 characters; a USCC has 18
>>> validate('91440300I92203821-6')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidFormat: the character 'I' at position 9 is not allowed ...

Letter authority and category codes are accepted (constructed examples):

>>> validate('N2110105MA01C2D36U')
'N2110105MA01C2D36U'
>>> validate('Y1110000MA01C2D369')
'Y1110000MA01C2D369'

The embedded organisation code is checked (this number's last character was
computed over a wrong organisation check character):

>>> validate('91440300192203822' + calc_check_digit('91440300192203822'))
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidComponent: the organisation code 192203822 (positions 9-17) is not
    valid: its check character should be 1

A Fujian pilot code whose last character does not follow GB 32100:

>>> validate('91350211M0000XUF46')
'91350211M0000XUF46'
>>> format('９１４４ ０３００ １９２２ ０３８２ １６')
'914403001922038216'
"""

from __future__ import annotations

import unicodedata

from stdnum.cn import uscc as _stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import clean, isdigits

#: The 31 characters a USCC may contain, in the order of their values (stdnum's table).
ALPHABET: str = _stdnum_uscc._alphabet

_ALPHABET_SET = frozenset(ALPHABET)
_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_PILOT_AUTHORITY = "9"
_PILOT_PROVINCE = "35"
_PILOT_ORGANISATION_PREFIX = "M000"


def compact(number: str) -> str:
    """Return the number without separators, in upper case, full-width folded.

    >>> compact(' 9144-0300 1922 0382 16 ')
    '914403001922038216'
    """
    if number.isascii() and number.isalnum():  # already compact: the common case, fast
        return number.upper()
    if not number.isascii():
        number = unicodedata.normalize("NFKC", number)
    return clean(number, " -").upper().strip()


def calc_check_digit(number17: str) -> str:
    """Return the GB 32100 check character (position 18) for the first 17 characters.

    Uses stdnum's implementation. Raises ``ValueError`` for a character outside
    :data:`ALPHABET`.

    >>> calc_check_digit('91440300192203821')
    '6'
    """
    return _stdnum_uscc.calc_check_digit(compact(number17)[:17])


def calc_organisation_check_digit(number8: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation code body.

    Letters count with their base-36 value (A=10 ... Z=35). Raises ``ValueError``
    for fewer than 8 characters or a character that is not a digit or a letter.

    >>> calc_organisation_check_digit('19220382')
    '1'
    >>> calc_organisation_check_digit('MA2PBM9H')
    'X'
    """
    return _organisation_check(compact(number8)[:8])


def _organisation_check(body: str) -> str:
    total = sum(
        int(char, 36) * weight for char, weight in zip(body, _ORGANISATION_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def is_fujian_pilot(number: str) -> bool:
    """Tell whether the number has the shape of an early Fujian pilot code.

    Such codes (authority 9, region 35xxxx, organisation code ``M000...``) may
    carry a final check character that does not follow GB 32100; see the module
    documentation.

    >>> is_fujian_pilot('91350211M0000XUF46')
    True
    >>> is_fujian_pilot('91350211MA2Y8W1M7X')
    False
    """
    number = compact(number)
    return (
        number[:1] == _PILOT_AUTHORITY
        and number[2:4] == _PILOT_PROVINCE
        and number[8:12] == _PILOT_ORGANISATION_PREFIX
    )


def _check_characters(number: str) -> None:
    """Raise InvalidFormat naming the first character that a USCC cannot contain."""
    if _ALPHABET_SET.issuperset(number) and isdigits(number[2:8]):
        return
    for position, char in enumerate(number, start=1):
        if char not in ALPHABET:
            raise InvalidFormat(
                f"the character {char!r} at position {position} is not allowed"
                " (a USCC uses 0-9 and A-Z without I, O, S, V, Z)"
            )
    if not isdigits(number[2:8]):
        raise InvalidFormat(f"positions 3-8 ({number[2:8]}) must be digits: the region code")


def validate(number: str) -> str:
    """Check the number and return its compact form.

    Raises stdnum's ``InvalidLength`` or ``InvalidFormat`` for the shape,
    ``InvalidChecksum`` when the check character (position 18) is wrong (most
    likely a typing error) and ``InvalidComponent`` when the check character is
    right but the embedded organisation code's check character is not.
    """
    number = compact(number)
    if len(number) != 18:
        raise InvalidLength(f"it has {len(number)} characters; a USCC has 18")
    _check_characters(number)
    organisation_check = _organisation_check(number[8:16])
    organisation_ok = number[16] == organisation_check
    expected = _stdnum_uscc.calc_check_digit(number[:17])
    if number[17] != expected:
        if organisation_ok and is_fujian_pilot(number):
            return number
        raise InvalidChecksum(f"the check character should be {expected}")
    if not organisation_ok:
        raise InvalidComponent(
            f"the organisation code {number[8:17]} (positions 9-17) is not valid:"
            f" its check character should be {organisation_check}"
        )
    return number


def is_valid(number: str) -> bool:
    """Tell whether the number is a valid USCC.

    >>> is_valid('91350100M000100Y43')
    True
    """
    try:
        return bool(validate(number))
    except StdnumValidationError:
        return False


def format(number: str) -> str:
    """Return the standard presentation: the 18 characters without spaces."""
    return compact(number)
