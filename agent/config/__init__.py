"""Node configuration: the model (`NodeConfig`) and the loader (`load`)."""

from agent.config.load import load, parse
from agent.config.model import NodeConfig

__all__ = ["NodeConfig", "load", "parse"]
