"""English sentences for calibrating quantization (GPTQ) of the
sentence-embedding examples, read from calibration_sentences.txt.

CALIBRATION_SENTENCES   list of 3,193 sentences on the ten topics of the
                        evaluation set test/Models/sentences.py, disjoint
                        from it: first 200 (20 per topic), then 1,500 and
                        1,493 more (about 150 per topic each), so that the
                        prefixes of 200 and 1,700 are balanced over topics.
"""

import os

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "calibration_sentences.txt")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith("#")]


CALIBRATION_SENTENCES = _read(_PATH)
