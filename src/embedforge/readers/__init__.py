"""Legacy data readers for the old ``model.fit``-style training, as in ``sentence_transformers.readers``.

Each reader turns a file (or folder of files) into a list of :class:`InputExample`. New code should build a
``datasets.Dataset`` for the trainer instead; these classes exist so that ST v2-era scripts keep working after a
search-and-replace of the package name. Only the standard library is imported.
"""

from __future__ import annotations

from embedforge.readers.input_example import InputExample
from embedforge.readers.label_sentence import LabelSentenceReader
from embedforge.readers.nli_data import NLIDataReader
from embedforge.readers.paired_files import PairedFilesReader
from embedforge.readers.sts_benchmark import STSBenchmarkDataReader
from embedforge.readers.sts_data import STSDataReader
from embedforge.readers.triplet import TripletReader

__all__ = [
    "InputExample",
    "LabelSentenceReader",
    "NLIDataReader",
    "PairedFilesReader",
    "STSBenchmarkDataReader",
    "STSDataReader",
    "TripletReader",
]
