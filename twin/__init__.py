"""twin: the city model on H3 cells (uint64 inside, hex strings only at the edges)."""

from twin.errors import TwinInputError
from twin.model import REGISTRIES, STATIC_VARIABLES, Twin

__all__ = ["Twin", "TwinInputError", "REGISTRIES", "STATIC_VARIABLES"]
