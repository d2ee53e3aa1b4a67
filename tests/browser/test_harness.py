"""The browser harness's own parsing: cheap, no browser needed."""

import pytest

from .jupyter_harness import trainable_count


@pytest.mark.parametrize(
    "text, expected",
    [
        ("trainable parameters: 6000", 6000),
        ("Trainable parameters: 7,079,424\nNon-trainable parameters: 7,635,264",
         7079424),
        ("Non-trainable parameters: 14,714,688\ntrainable parameters: 0", 0),
        ("trainable parameters:\u00a012\u202f345", 12345),
    ],
)
def test_trainable_count_reads_the_trainable_line(text, expected):
    assert trainable_count(text) == expected


def test_trainable_count_fails_without_the_line():
    with pytest.raises(AssertionError, match="trainable parameters"):
        trainable_count("Non-trainable parameters: 10")
