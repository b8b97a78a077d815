"""Device names: every command refuses a device the machine lacks with one line, before any work starts."""

from __future__ import annotations

import pytest
import torch

from jobs.backends import parse_devices
from taskgroup.devices import resolve_device
from taskgroup.errors import InvalidInputError
from tests.taskgroup.cli.helpers import run_error, run_json, run_ok


def test_auto_is_cuda_where_present_else_the_cpu() -> None:
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == resolve_device("cpu:0").type == "cpu"


@pytest.mark.parametrize(("name", "message"), [
    ("gpu0", "is not a torch device"),
    ("cpu:3", "there is one CPU device"),
    ("meta", "cpu, cuda and mps devices only"),
    ("xpu", "cpu, cuda and mps devices only"),
    pytest.param("cuda:0", "CUDA is not available", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA here")),
    pytest.param("mps", "MPS (Apple's GPU) is not available",
                 marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS here")),
])
def test_devices_the_machine_cannot_train_on_are_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_device(name)
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_devices(f"cpu,{name}")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS here")
def test_every_command_that_takes_a_device_refuses_one_the_machine_lacks_before_any_work() -> None:
    run_ok("study", "create", "s", "--tasks", "depth", "--dataset", "synthetic", "--data-option", "images=8",
           "--data-option", "resolution=16")
    for command in (("work", "s", "--devices", "mps"), ("run", "s", "--devices", "mps"),
                    ("affinity", "measure", "s", "--device", "mps"), ("cost", "s", "--device", "mps"),
                    ("train", "--tasks", "depth", "--device", "mps")):
        assert "MPS (Apple's GPU) is not available" in run_error(*command), command
    assert run_json("status", "s")["jobs"]["total"] == 0  # `run` planned nothing before it refused
