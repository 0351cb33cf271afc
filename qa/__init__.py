"""Question answering over conflict reports, with answers that cite the passages they came from.

    from qa import Assistant
    answer = Assistant().ask("How many civilians were killed?")
"""

from .assistant import Assistant
from .config import Settings
from .types import Answer, Citation

__all__ = ["Answer", "Assistant", "Citation", "Settings"]
__version__ = "0.1.0"
