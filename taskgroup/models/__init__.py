"""Candidate networks: a shared encoder and one decoder per task, built at a study's sizes."""

from taskgroup.models.encoders import ENCODERS, Encoder
from taskgroup.models.network import MultiTaskNet, build_model
from taskgroup.models.sizes import SizeSpec, parse_size, parse_sizes

__all__ = ["ENCODERS", "Encoder", "MultiTaskNet", "SizeSpec", "build_model", "parse_size", "parse_sizes"]
