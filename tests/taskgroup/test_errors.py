"""Errors reach the user as one line, whichever process raised them."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader, Dataset

from taskgroup.errors import InvalidInputError, UnknownNameError


class _CorruptFile(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> None:
        raise InvalidInputError(f"corrupt numpy file: /data/{index}.npy (holds NaN or infinite values)")


def test_a_data_error_in_a_dataloader_worker_process_keeps_its_one_line_message() -> None:
    """torch re-raises it with the worker's traceback as the message; the user (and the job's stored
    error) gets the original line, as with `num_workers=0`."""
    with pytest.raises(InvalidInputError) as raised:
        list(DataLoader(_CorruptFile(), num_workers=1))
    assert str(raised.value) == "corrupt numpy file: /data/0.npy (holds NaN or infinite values)"


def test_unknown_names_are_not_quoted_as_key_errors_are() -> None:
    assert str(UnknownNameError("unknown task 'x' (tasks: a, b)")) == "unknown task 'x' (tasks: a, b)"
