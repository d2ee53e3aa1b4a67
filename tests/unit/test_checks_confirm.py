"""`confirm`: a section's facts shown when they hold, the false ones named when not."""

from __future__ import annotations

import pytest

from tlhelpers import checks


def test_facts_that_hold_are_listed_under_their_section():
    shown = checks.confirm("the parameter count",
                           {"Keras' count equals the formula": 10 == 10,
                            "10 weight tensors": True})
    assert repr(shown) == ("Checked (the parameter count): Keras' count equals "
                           "the formula; 10 weight tensors")
    page = shown._repr_html_()
    assert "the parameter count" in page and "<li>10 weight tensors</li>" in page


def test_a_false_fact_stops_with_its_label_and_only_its_label():
    with pytest.raises(checks.CheckFailed) as raised:
        checks.confirm("freezing", {"the base is frozen": True,
                                    "only the head trains": 3 == 4})
    assert "only the head trains" in str(raised.value)
    assert "the base is frozen" not in str(raised.value)
    assert isinstance(raised.value, AssertionError)  # pytest and nbval report it as a failure


def test_labels_are_escaped_in_html_and_an_empty_check_is_refused():
    assert "&lt;b&gt;" in checks.confirm("x", {"<b>": True})._repr_html_()
    with pytest.raises(ValueError):
        checks.confirm("nothing", {})
