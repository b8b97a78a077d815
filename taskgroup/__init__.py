"""taskgroup: find which tasks should be learned together (Standley et al., ICML 2020)."""

__version__ = "0.1.0"
