"""What an operator's table is: a title, an introduction, its columns and what it says when it
is empty. A column's kind says how templates/portal/operator/table.html writes its cells."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    label: str
    # text, code, codes, validity, yesno, purpose, or worded: a registry text and its wordings
    # in other languages (domain/wording.py), shown in the reader's language
    kind: str = "text"


@dataclass(frozen=True)
class Table:
    title: str
    intro: str
    columns: tuple[Column, ...]
    empty: str
