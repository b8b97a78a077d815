"""The folder under the checkpoint root where a study's runs checkpoint.

A study created since schema revision 0007 owns `<name>-<8 random hex digits>`: no other study
shares it, whether of this database, of another database whose workers use the same checkpoint root,
or this name deleted and created again, so deleting the study may delete the folder. Older studies
checkpoint in `<name>`, which such studies may share.
"""

from __future__ import annotations

import re
import secrets


def safe_part(part: str) -> str:
    """`part` as one folder-name component: anything but letters, digits, `_`, `.` and `-` becomes `_`,
    and so do the dots of `.` or `..`, which would name the folder itself or its parent."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", part)
    return safe if safe.strip(".") else safe.replace(".", "_")


def new_study_folder(name: str) -> str:
    """A folder of the study's own: its name and a random suffix."""
    return f"{shared_study_folder(name)}-{secrets.token_hex(4)}"


def shared_study_folder(name: str) -> str:
    """The folder of a study created before revision 0007: its name alone."""
    return safe_part(name) or "study"
