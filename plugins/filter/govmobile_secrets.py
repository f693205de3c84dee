"""Filters of the secrets role."""

from __future__ import annotations

from typing import Any


def password_lookup_terms(generated: dict[str, dict[str, Any]], directory: str) -> list[str]:
    """One term of the `password` lookup per secret, in the dict's order: the file, its length and
    the characters (letters and digits: safe in any file, URL or shell word)."""
    terms = []
    for name, secret in generated.items():
        file, length = str(secret["file"]), int(secret["length"])
        if file.startswith("/") or ".." in file.split("/") or " " in file:
            raise ValueError(
                f"secret {name}: its file must be a plain path under the secrets directory, not {file!r}"
            )
        if length < 16:
            raise ValueError(f"secret {name}: {length} characters are too few (16 at least)")
        terms.append(f"{directory.rstrip('/')}/{file} length={length} chars=ascii_letters,digits")
    return terms


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"password_lookup_terms": password_lookup_terms}
