"""Corpora and tokenizers (no network, ever).

Modules, in the order lab 01 meets them:

    faults          the fault-report task: rules, generator, prompt/answer, parse_diagnosis
    docs            python_docs(): the help topics every Python ships
    cleaning        normalize, quality_filter, dedupe (exact and MinHash), splits, label counts
    char_tokenizer  CharTokenizer: one id per character
    bpe             BPETokenizer: byte-level BPE with a GPT-2 style pre-split
    tokenizer_base  JSON save/load (atomic), tokenizer_from_dict
"""

from slmlab.data.bpe import BPETokenizer, get_pair_counts, merge_pair
from slmlab.data.char_tokenizer import CharTokenizer
from slmlab.data.cleaning import (
    QUALITY_ISSUES,
    dedupe,
    drop_overlap,
    jaccard,
    label_counts,
    normalize,
    quality_filter,
    quality_issues,
    shingles,
    train_test_split,
)
from slmlab.data.docs import python_docs
from slmlab.data.faults import (
    CHANNELS,
    LABELS,
    FaultReport,
    diagnose,
    fault_reports,
    format_answer,
    format_prompt,
    parse_diagnosis,
    report_from_readings,
)
from slmlab.data.tokenizer_base import Tokenizer, load_tokenizer, tokenizer_from_dict

__all__ = [
    "BPETokenizer",
    "CHANNELS",
    "CharTokenizer",
    "FaultReport",
    "LABELS",
    "QUALITY_ISSUES",
    "Tokenizer",
    "dedupe",
    "diagnose",
    "drop_overlap",
    "fault_reports",
    "format_answer",
    "format_prompt",
    "get_pair_counts",
    "jaccard",
    "label_counts",
    "load_tokenizer",
    "merge_pair",
    "normalize",
    "parse_diagnosis",
    "python_docs",
    "quality_filter",
    "quality_issues",
    "report_from_readings",
    "shingles",
    "tokenizer_from_dict",
    "train_test_split",
]
